// The Audit Timeline panel inside a real VS Code: how the panel is configured (CSP, resource roots, no retained
// context), that the real webview loads and says ready, and that malformed or unknown webview messages are
// rejected and logged on the same path onDidReceiveMessage uses.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AirlockApi } from '../../src/vscode/extension';
import type { Rejection } from '../../src/vscode/timeline/timelineMessageHandler';
import type { TimelinePanel } from '../../src/vscode/timeline/timelinePanel';
import { activateAirlock } from './airlockExtension';
import { waitFor } from './waitFor';

describe('Audit Timeline panel in a real VS Code', function () {
  this.timeout(60_000);
  let api: AirlockApi;
  let panel: TimelinePanel;

  before(async () => {
    api = await activateAirlock();
    await vscode.commands.executeCommand('airlock.openTimeline');
    panel = await waitFor(() => api.timeline.current, { what: 'the timeline panel' });
  });

  after(async () => {
    panel?.dispose();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('opens from its command as one webview tab, and opening again reveals the same panel', async () => {
    const tabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.includes('airlock.timeline'));
    await waitFor(() => tabs().length === 1 || undefined, { what: 'a timeline tab' });
    await vscode.commands.executeCommand('airlock.openTimeline');
    assert.equal(api.timeline.current, panel);
    assert.equal(tabs().length, 1);
  });

  it('is locked down: strict CSP with a nonce, only the bundle folder readable, no retained context', () => {
    const html = panel.panel.webview.html;
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
    assert.ok(csp, 'the page declares a CSP');
    assert.match(csp, /default-src 'none'/);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce && nonce.length >= 16, 'scripts need a nonce');
    assert.doesNotMatch(csp, /unsafe-/);
    assert.equal((html.match(/<script /g) ?? []).length, (html.match(new RegExp(`<script nonce="${nonce.replace(/[+/=]/g, '\\$&')}"`, 'g')) ?? []).length, 'every script carries the nonce');
    const roots = panel.panel.webview.options.localResourceRoots?.map((u) => u.path) ?? [];
    assert.equal(roots.length, 1);
    assert.match(roots[0]!, /\/media\/dist$/);
    assert.equal(panel.panel.options.retainContextWhenHidden ?? false, false);
    // The first page may be embedded as a JSON data block: nothing in it can end the block or start markup.
    const block = /<script nonce="[^"]+" type="application\/json" id="airlock-init">([\s\S]*?)<\/script>/.exec(html)?.[1];
    if (block !== undefined) {
      assert.doesNotMatch(block, /[<>&]/);
      assert.equal((JSON.parse(block) as { notification: string }).notification, 'init');
    }
  });

  it('the real webview runs its script under that CSP and says ready', async () => {
    await waitFor(() => panel.handler.isReady || undefined, { timeoutMs: 30_000, what: 'ready from the webview' });
  });

  const bad: Array<[string, unknown, Rejection['reason']]> = [
    ['a bare string', 'ready', 'unknown-message'],
    ['an unknown command', { command: 'executeCommand', id: 'workbench.action.terminal.new' }, 'unknown-message'],
    ['an unknown request method', { kind: 'request', id: 1, method: 'readFile', params: { path: '/etc/passwd' } }, 'unknown-message'],
    ['a known command with an extra field', { command: 'eventAction', seq: 1, action: 'rollback', snapshotId: 'forged' }, 'malformed-message'],
    ['a page request with a wrong type', { kind: 'request', id: 2, method: 'page', params: { filter: {}, direction: 'latest', limit: '100' } }, 'malformed-message'],
    ['a filter smuggling SQL', { kind: 'request', id: 3, method: 'page', params: { filter: { where: '1=1; DROP TABLE events' }, direction: 'latest', limit: 10 } }, 'malformed-message'],
  ];
  for (const [what, raw, reason] of bad) {
    it(`rejects and logs ${what}`, async () => {
      const seen: Rejection[] = [];
      const off = panel.handler.onDidReject((r) => seen.push(r));
      try {
        await panel.receive(raw);
      } finally {
        off();
      }
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.reason, reason);
      assert.match(seen[0]!.logged, /^Timeline: rejected an? (unknown|malformed) message from the webview/);
      assert.equal(panel.handler.rejections.at(-1), seen[0]);
    });
  }

  it('keeps working after rejecting: a valid ready is still answered', async () => {
    const before = panel.handler.rejections.length;
    await panel.receive({ command: 'ready' });
    assert.equal(panel.handler.rejections.length, before);
    assert.equal(panel.handler.isReady, true);
  });
});
