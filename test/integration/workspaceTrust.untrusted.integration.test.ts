// Runs in a window of its own where the workspace is NOT trusted (restricted mode): the extension still
// activates (untrustedWorkspaces: limited), but running agents is refused with the reason.
import * as assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { airlockExtension } from './airlockExtension';
import { waitFor } from './waitFor';

const refactorAgent = join(resolve(__dirname, '..', '..', '..'), 'examples', 'agents', 'refactor.agent.js');

describe('Agent Airlock in an untrusted workspace', () => {
  it('activates, but refuses to run an agent and says why', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the runner opens this workspace untrusted');
    const extension = airlockExtension();
    await waitFor(() => extension.isActive || undefined, { timeoutMs: 20_000, what: 'the extension to activate' });
    await assert.rejects(extension.exports.runner.run({ agentFile: refactorAgent, task: 'rename formatPrice to formatMoney' }), (e: Error & { reason?: string }) => {
      assert.equal(e.reason, 'untrusted');
      assert.match(e.message, /untrusted workspace/);
      return true;
    });
    // The palette command backs out without running anything (it shows the same reason as a warning).
    assert.equal(await vscode.commands.executeCommand('airlock.runAgent', { agentFile: refactorAgent, task: 'x' }), undefined);
    assert.equal(extension.exports.runner.running.length, 0);
  });
});
