// The packaged extension as a user gets it: installed from the .vsix into a VS Code whose PATH has no Node new
// enough for the sandbox. Airlock says so with the fix, installs Node 24 when asked, and then runs the agent.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { packagedVsix } from '../harness/vsixPackage';
import { useWorkbench } from './workbenchSession';

describe('The installed .vsix', function () {
  this.timeout(300_000);
  const session = useWorkbench({ vsix: packagedVsix });

  it('without a Node >= 22 explains the fix, installs Node 24 on request, then runs an agent', async function () {
    const pathNode = spawnSync('node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    if (Number(pathNode.split('.')[0]) >= 22) this.skip(); // this machine's PATH already has one: nothing to fix
    const wb = session.workbench;
    const runRefactor = async () => {
      await wb.runCommand('Airlock: Run Agent…');
      await wb.pickQuickItem('refactor.agent.js');
      await wb.answerInputBox('rename formatPrice to formatMoney', /task for the agent/);
    };

    await runRefactor();
    const missing = await wb.waitForNotification(/needs Node\.js 22 or newer/);
    assert.match(await missing.innerText(), /airlock\.sandbox\.nodePath/);
    await wb.revealNotification(missing);
    await wb.screenshot('vsix-01-no-node');

    await wb.clickNotificationButton(missing, 'Install Node 24 for Airlock');
    const installed = await wb.waitForNotification(/installed Node 24/, 240_000);
    await wb.revealNotification(installed);
    await wb.screenshot('vsix-02-node-installed');

    await runRefactor();
    await wb.clickNotificationButton(await wb.waitForNotification(/wants to fs\.delete/), 'Deny');
    const done = await wb.waitForNotification(/refactor completed/);
    assert.match(await done.innerText(), /3 proposed changes.*1 denied/s);
    await wb.revealNotification(done);
    await wb.screenshot('vsix-03-run-report');
  });
});
