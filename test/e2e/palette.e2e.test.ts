// A person at the keyboard: Airlock's commands from the command palette, in a real browser against a real
// VS Code (code-server) with a copy of examples/demo open. Screenshots go to test/e2e/artifacts/.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useWorkbench } from './workbenchSession';

describe('Airlock from the command palette', function () {
  this.timeout(180_000);
  const session = useWorkbench();

  it('Airlock: Open Policy shows the workspace policy in an editor', async () => {
    const wb = session.workbench;
    await wb.runCommand('Airlock: Open Policy');
    await wb.waitForActiveTab('policy.json');
    const text = await wb.visibleEditorText();
    assert.match(text, /"version": 1/);
    assert.match(text, /"fs\.delete": "require"/);
    await wb.screenshot('01-open-policy');
  });

  it('Airlock: Run Agent… runs an example agent, asks before a delete, and reports its proposals', async () => {
    const wb = session.workbench;
    const formatJs = join(session.workspace, 'src', 'format.js');
    const before = readFileSync(formatJs, 'utf8');

    await wb.runCommand('Airlock: Run Agent…');
    const agents = await wb.quickPickItems();
    assert.ok(agents.some((a) => a.includes('refactor.agent.js')), `agents offered: ${agents.join(' | ')}`);
    await wb.screenshot('02-run-agent-pick');
    await wb.pickQuickItem('refactor.agent.js');
    await wb.answerInputBox('rename formatPrice to formatMoney', /task for the agent/);

    // The demo policy sends fs.delete to a human: the gate shows what is asked and waits.
    const gate = await wb.waitForNotification(/wants to fs\.delete/);
    await wb.revealNotification(gate);
    await wb.screenshot('03-approval-gate');
    await wb.clickNotificationButton(gate, 'Approve');

    const done = await wb.waitForNotification(/refactor completed/);
    assert.match(await done.innerText(), /4 proposed changes/);
    await wb.revealNotification(done);
    await wb.screenshot('04-run-report');
    // Proposals only: the workspace file is untouched.
    assert.equal(readFileSync(formatJs, 'utf8'), before);

    await wb.clickNotificationButton(done, 'Show Pending Changes');
    const items = await wb.quickPickItems();
    assert.ok(items.some((i) => /M\s+src\/format\.js/.test(i)), `pending changes offered: ${items.join(' | ')}`);
    await wb.screenshot('05-pending-changes');
    await wb.pickQuickItem(/src\/format\.js/);
    await wb.waitForActiveTab('format.js.diff');
    const diff = await wb.visibleEditorText();
    assert.match(diff, /-export function formatPrice\(/);
    assert.match(diff, /\+export function formatMoney\(/);
    await wb.screenshot('06-pending-change-diff');
  });

  it('Airlock: Stop All Agents says that nothing is running', async () => {
    const wb = session.workbench;
    await wb.runCommand('Airlock: Stop All Agents');
    await wb.waitForNotification('no agents are running');
    await wb.screenshot('07-stop-all');
  });
});
