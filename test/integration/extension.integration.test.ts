// The smoke spec: runs inside the real extension host (code-server or desktop VS Code) with a copy of
// examples/demo open, against the extension from source and, in a second run, against the installed .vsix.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import * as vscode from 'vscode';
import type { RunReport } from '../../src/core/runtime/agentRuntime';
import type { AirlockApi } from '../../src/vscode/extension';
import { airlockExtension, workspaceRoot } from './airlockExtension';
import { waitFor } from './waitFor';

/** The test files stay in the repository (out/test/integration) whichever copy of the extension is under test. */
const repoRoot = resolve(__dirname, '..', '..', '..');
const refactorAgent = join(repoRoot, 'examples', 'agents', 'refactor.agent.js');
const nodePathSetting = 'airlock.sandbox.nodePath';


/** Every file under `dir` (except .airlock/state) with its bytes, to prove a run changed nothing on disk. */
function filesIn(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const abs = join(dir, rel);
    if (rel.split(sep).join('/').startsWith('.airlock/state') || !statSync(abs).isFile()) continue;
    out.set(rel, readFileSync(abs).toString('base64'));
  }
  return out;
}

describe('Agent Airlock in a real VS Code', function () {
  let extension: vscode.Extension<AirlockApi>;

  before(() => {
    extension = airlockExtension();
  });

  it('activates by itself in a workspace that has an Airlock policy', async () => {
    // No command has run yet: only the workspaceContains activation events can have started it.
    await waitFor(() => extension.isActive || undefined, { timeoutMs: 20_000, what: 'the extension to activate' });
    assert.ok(extension.exports.runner, 'activate() returns the Airlock API');
  });

  if (process.env.AIRLOCK_TEST_EXTENSIONS_DIR) {
    it('is the copy installed from the .vsix, with the sandbox and isolated-vm inside it', () => {
      const installedIn = process.env.AIRLOCK_TEST_EXTENSIONS_DIR!;
      const rel = relative(installedIn, extension.extensionPath);
      assert.ok(!rel.startsWith('..'), `expected the extension under ${installedIn}, found it at ${extension.extensionPath}`);
      for (const f of ['dist/extension.js', 'dist/auditReaderWorker.js', 'dist/auditWriteOutWorker.js', 'dist/sql-wasm.wasm', 'dist/policy.schema.json', 'sandbox/dist/main.js', 'sandbox/node_modules/isolated-vm/package.json', 'sandbox/node_modules/node-gyp-build/package.json']) {
        assert.ok(existsSync(join(extension.extensionPath, f)), `${f} is missing from the installed extension`);
      }
      assert.ok(!existsSync(join(extension.extensionPath, 'node_modules')), 'node_modules must not be packaged (everything is bundled)');
      const unwanted = [...filesIn(extension.extensionPath).keys()].filter((f) => /\.(ts|map)$/.test(f) || f.split(sep)[0] === 'src');
      assert.deepEqual(unwanted, [], 'sources and source maps must not be packaged');
    });
  }

  it('registers every command it contributes, each in the Airlock category', async () => {
    const contributed = (extension.packageJSON.contributes.commands as { command: string; title: string; category?: string }[]) ?? [];
    const ids = contributed.map((c) => c.command).sort();
    assert.deepEqual(ids, [
      'airlock.approveChange', 'airlock.approveHunk', 'airlock.approveRequest', 'airlock.approveRun', 'airlock.denyRequest',
      'airlock.openPendingChange', 'airlock.openPolicy', 'airlock.openTimeline', 'airlock.rejectChange', 'airlock.rejectHunk',
      'airlock.rejectRun', 'airlock.rollback', 'airlock.runAgent', 'airlock.showPendingChanges', 'airlock.showRunLog',
      'airlock.showSnapshot', 'airlock.showStatusMenu', 'airlock.stopAll', 'airlock.stopRun',
    ]);
    const registered = new Set(await vscode.commands.getCommands(true));
    const palette = new Map(((extension.packageJSON.contributes.menus.commandPalette ?? []) as { command: string; when?: string }[]).map((m) => [m.command, m.when]));
    for (const c of contributed as { command: string; category?: string; icon?: string }[]) {
      assert.ok(registered.has(c.command), `${c.command} is contributed but not registered`);
      assert.equal(c.category, 'Airlock', `${c.command} has no Airlock category`);
      assert.match(c.icon ?? '', /^\$\([a-z-]+\)$/, `${c.command} has no icon for the menus it appears in`);
      assert.ok(palette.get(c.command), `${c.command} has no when clause for the command palette`);
    }
  });

  it('Open Policy opens the workspace policy in an editor', async () => {
    await vscode.commands.executeCommand('airlock.openPolicy');
    const editor = await waitFor(() => vscode.window.activeTextEditor, { what: 'an editor' });
    assert.equal(editor.document.uri.fsPath, join(workspaceRoot(), '.airlock', 'policy.json'));
    // Policies allow comments: the file must be JSON with comments, or the editor flags every comment as an error.
    assert.equal(editor.document.languageId, 'jsonc');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('refuses a configured sandbox Node that cannot be used, naming the setting to fix', async () => {
    const config = vscode.workspace.getConfiguration();
    const previous = config.inspect<string>(nodePathSetting)?.globalValue;
    await config.update(nodePathSetting, '/nonexistent/bin/node', vscode.ConfigurationTarget.Global);
    try {
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('airlock.runAgent', { agentFile: refactorAgent, task: 'rename formatPrice to formatMoney' })),
        (e: Error) => e.name === 'SandboxNodeError' && /airlock\.sandbox\.nodePath/.test(e.message) && /\/nonexistent\/bin\/node/.test(e.message),
      );
    } finally {
      await config.update(nodePathSetting, previous, vscode.ConfigurationTarget.Global);
    }
  });

  // The packaged run: the installed extension has no Node of its own. A user whose PATH has none new enough is
  // told how to fix it, points the setting at one, and runs again.
  if (process.env.AIRLOCK_TEST_SANDBOX_NODE) {
    it('without a Node >= 22 says exactly how to fix it, and the setting fixes it', async function () {
      const pathNode = spawnSync('node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout?.trim() ?? '';
      if (Number(pathNode.split('.')[0]) >= 22) this.skip(); // this machine's PATH already has one: nothing to fix
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('airlock.runAgent', { agentFile: refactorAgent, task: 'noop' })),
        (e: Error) => e.name === 'SandboxNodeError' && /Node 22 or newer/.test(e.message) && /airlock\.sandbox\.nodePath/.test(e.message),
      );
      await vscode.workspace.getConfiguration().update(nodePathSetting, process.env.AIRLOCK_TEST_SANDBOX_NODE, vscode.ConfigurationTarget.Global);
    });
  }

  it('runs an example agent in the sandbox, and its proposed changes reach the extension without touching the workspace', async function () {
    this.timeout(120_000);
    const api = extension.exports;
    const root = workspaceRoot();
    const before = filesIn(root);
    const reportPromise = Promise.resolve(vscode.commands.executeCommand<RunReport | undefined>('airlock.runAgent', { agentFile: refactorAgent, task: 'rename formatPrice to formatMoney' }));

    // The agent deletes tmp/scratch.txt, which the demo policy sends to a human ("fs.delete": "require").
    // If the run fails to start, the command rejects: fail with its error rather than wait for a gate.
    const failed = reportPromise.then(() => undefined);
    failed.catch(() => undefined); // awaited below through reportPromise
    const gate = await Promise.race([waitFor(() => api.approvals.pending[0], { timeoutMs: 60_000, what: 'the fs.delete approval gate' }), failed]);
    assert.ok(gate, 'the run ended without asking for the fs.delete approval');
    assert.equal(gate.tool, 'fs.delete');
    assert.deepEqual(gate.args, { path: 'tmp/scratch.txt' });
    assert.ok(api.approvals.answer(gate.id, true), 'the gate was waiting');

    const report = await reportPromise;
    assert.ok(report, 'the command returns the run report');
    assert.equal(report.status, 'completed', report.reason);
    const proposed = report.changes.map((c) => `${c.kind} ${c.path}`).sort();
    assert.deepEqual(proposed, ['delete tmp/scratch.txt', 'modify src/cart.js', 'modify src/format.js', 'modify src/invoice.js']);
    const formatJs = report.changes.find((c) => c.path === 'src/format.js');
    assert.match(formatJs!.after!.toString('utf8'), /export function formatMoney\(/);

    // The extension holds the proposals for review...
    const pending = api.pendingChanges.forRun(report.runId).map((p) => `${p.change.kind} ${p.change.path}`).sort();
    assert.deepEqual(pending, proposed);
    // ...and the workspace on disk is byte-for-byte what it was.
    assert.deepEqual(filesIn(root), before);
  });

  it('Stop All Agents reports that nothing is running when nothing is', async () => {
    assert.equal(await vscode.commands.executeCommand<number>('airlock.stopAll'), 0);
  });
});
