// The timeline panel's message handler without an editor: what it answers, what it rejects and logs, and that an
// event action runs only what the stored event offers (never what the page claims).
import * as assert from 'node:assert/strict';
import { HostMessage, embeddableJson } from '../../src/protocol/timelineProtocol';
import type { EventAction } from '../../src/protocol/timelineProtocol';
import { TimelineMessageHandler } from '../../src/vscode/timeline/timelineMessageHandler';
import type { ActionTarget } from '../../src/vscode/timeline/timelineMessageHandler';
import { MemoryTimelineSource, fakeEvent } from '../helpers/memoryTimelineSource';

function setup(events = Array.from({ length: 250 }, (_, i) => fakeEvent(i + 1))) {
  const source = new MemoryTimelineSource(events);
  const posted: HostMessage[] = [];
  const logged: string[] = [];
  const actions: Array<[EventAction, ActionTarget]> = [];
  const errors: string[] = [];
  const handler = new TimelineMessageHandler({
    source: async () => source,
    post: async (m) => {
      // What reaches the webview must pass the webview's own check.
      assert.ok(HostMessage.safeParse(m).success, `the host posted an invalid message: ${JSON.stringify(m).slice(0, 200)}`);
      posted.push(m);
      return true;
    },
    log: { info: (m) => logged.push(`info ${m}`), warn: (m) => logged.push(`warn ${m}`), error: (m) => logged.push(`error ${m}`) },
    editor: {
      askExportFile: async (format) => `/tmp/out.${format}`,
      runAction: async (a, t) => void actions.push([a, t]),
      showError: (m) => void errors.push(m),
    },
  });
  return { source, handler, posted, logged, actions, errors };
}

describe('timeline message handler', () => {
  it('posts nothing before ready, then one init with the latest page', async () => {
    const t = setup();
    assert.equal(t.posted.length, 0);
    await t.handler.receive({ command: 'ready' });
    assert.equal(t.posted.length, 1);
    const init = t.posted[0]!;
    assert.ok(init.kind === 'notification' && init.notification === 'init');
    assert.deepEqual(
      init.page.rows.map((r) => r.seq),
      Array.from({ length: 100 }, (_, i) => 151 + i),
    );
    assert.equal(init.page.hasBefore, true);
  });

  it('answers the facets request with runs, agents and tools', async () => {
    const t = setup();
    await t.handler.receive({ kind: 'request', id: 3, method: 'facets', params: {} });
    const r = t.posted[0]!;
    assert.ok(r.kind === 'response' && r.ok && r.method === 'facets');
    const f = r.result as { agents: string[]; runs: { runId: string }[]; tools: string[] };
    assert.deepEqual(f.agents, ['refactor']);
    assert.deepEqual(f.runs.map((x) => x.runId), ['run-1']);
    assert.deepEqual(f.tools, ['fs.read']);
  });

  it('reopens around the saved anchor when the view was not following', async () => {
    const t = setup();
    await t.handler.receive({ command: 'ready', state: { filter: {}, follow: false, anchorSeq: 40 } });
    const init = t.posted[0]!;
    assert.ok(init.kind === 'notification' && init.notification === 'init');
    assert.ok(init.page.rows.some((r) => r.seq === 40));
  });

  it('answers a page request with the same id', async () => {
    const t = setup();
    await t.handler.receive({ kind: 'request', id: 7, method: 'page', params: { filter: {}, direction: 'before', seq: 151, limit: 100 } });
    const r = t.posted[0]!;
    assert.ok(r.kind === 'response' && r.id === 7 && r.ok && r.method === 'page');
    assert.equal((r.result as { rows: { seq: number }[] }).rows[0]!.seq, 51);
  });

  const rejected: Array<[string, unknown, 'unknown-message' | 'malformed-message']> = [
    ['a string', 'hello', 'unknown-message'],
    ['null', null, 'unknown-message'],
    ['an unknown command', { command: 'openExternal', url: 'javascript:alert(1)' }, 'unknown-message'],
    ['an unknown method', { kind: 'request', id: 1, method: 'sql', params: { q: 'DROP TABLE events' } }, 'unknown-message'],
    ['a page request with a bad limit', { kind: 'request', id: 1, method: 'page', params: { filter: {}, direction: 'latest', limit: 1e9 } }, 'malformed-message'],
    ['a ready with an extra field', { command: 'ready', script: '<script>alert(1)</script>' }, 'malformed-message'],
  ];
  for (const [what, raw, reason] of rejected) {
    it(`rejects and logs ${what}, and answers nothing`, async () => {
      const t = setup();
      const seen: string[] = [];
      t.handler.onDidReject((r) => seen.push(r.reason));
      await t.handler.receive(raw);
      assert.deepEqual(seen, [reason]);
      assert.equal(t.posted.length, 0);
      assert.equal(t.logged.filter((l) => l.startsWith('warn Timeline: rejected')).length, 1, t.logged.join('\n'));
    });
  }

  it('logs a huge rejected message only in part', async () => {
    const t = setup();
    await t.handler.receive({ command: 'nope', blob: 'x'.repeat(1_000_000) });
    assert.ok(t.logged[0]!.length < 1000);
  });

  it('runs an event action the event offers, with the snapshot id from the stored event', async () => {
    const t = setup([fakeEvent(1, { type: 'apply', tool: undefined, args: { snapshot: 'snap-42', files: [{ path: 'a.js', kind: 'modify' }] } })]);
    await t.handler.receive({ command: 'eventAction', seq: 1, action: 'rollback' });
    assert.equal(t.actions.length, 1);
    assert.equal(t.actions[0]![0], 'rollback');
    assert.equal(t.actions[0]![1].snapshotId, 'snap-42');
  });

  it('refuses an event action the event does not offer', async () => {
    const t = setup([fakeEvent(1)]);
    await t.handler.receive({ command: 'eventAction', seq: 1, action: 'rollback' });
    assert.equal(t.actions.length, 0);
    assert.equal(t.handler.rejections.at(-1)?.reason, 'malformed-message');
  });

  it('finds the file behind an approval in the pending decision before it, and offers its diff', async () => {
    const t = setup([
      fakeEvent(1, { type: 'decision', tool: 'fs.delete', decision: 'pending', level: 'require', args: { path: 'tmp/scratch.txt' } }),
      fakeEvent(2, { type: 'tool.call', tool: 'fs.read', args: { path: 'other.js' } }),
      fakeEvent(3, { type: 'approval', tool: 'fs.delete', decision: 'approved', level: 'require', actor: 'human:ana', args: undefined }),
    ]);
    await t.handler.receive({ kind: 'request', id: 1, method: 'details', params: { seq: 3 } });
    const r = t.posted[0]!;
    assert.ok(r.kind === 'response' && r.method === 'details' && r.ok);
    assert.deepEqual((r.result as { actions: string[] }).actions, ['openDiff']);
    await t.handler.receive({ command: 'eventAction', seq: 3, action: 'openDiff' });
    assert.equal(t.actions[0]![1].path, 'tmp/scratch.txt');
  });

  it('exports through the editor’s save dialog with the current filter', async () => {
    const t = setup();
    await t.handler.receive({ kind: 'request', id: 1, method: 'export', params: { format: 'csv', filter: { tool: 'fs.read' } } });
    assert.deepEqual(t.source.exports, [{ format: 'csv', file: '/tmp/out.csv', filter: { tool: 'fs.read' } }]);
    const r = t.posted[0]!;
    assert.ok(r.kind === 'response' && r.ok && r.method === 'export');
    assert.deepEqual(r.result, { saved: true, file: '/tmp/out.csv', events: 250 });
  });

  describe('the first page embedded in a fresh page', () => {
    it('is the latest page as an init message; ready with `embedded` then posts no other init', async () => {
      const t = setup();
      const init = await t.handler.embeddedInit(5000);
      assert.ok(init && HostMessage.safeParse(init).success);
      assert.ok(init.kind === 'notification' && init.notification === 'init');
      assert.deepEqual(init.page.rows.map((r) => r.seq), Array.from({ length: 100 }, (_, i) => 151 + i));
      assert.equal(t.posted.length, 0, 'nothing is posted before the page is ready');
      await t.handler.receive({ command: 'ready', state: { filter: {}, follow: true }, embedded: true });
      assert.equal(t.handler.isReady, true);
      assert.equal(t.posted.filter((m) => m.kind === 'notification' && m.notification === 'init').length, 0);
      t.handler.dispose();
    });

    it('events appended between embedding and ready are announced once ready, none lost', async () => {
      const t = setup();
      await t.handler.embeddedInit(5000);
      t.source.push(fakeEvent(251), fakeEvent(252));
      await t.handler.receive({ command: 'ready', state: { filter: {}, follow: true }, embedded: true });
      await new Promise((r) => setTimeout(r, 400));
      const notes = t.posted.filter((m) => m.kind === 'notification' && m.notification === 'didAppend');
      assert.deepEqual(notes.map((n) => (n as { lastSeq: number }).lastSeq), [252]);
      t.handler.dispose();
    });

    it('a page that did not use it (it had saved state, or reloaded) gets a fresh init as usual', async () => {
      const t = setup();
      await t.handler.embeddedInit(5000);
      await t.handler.receive({ command: 'ready', state: { filter: { tool: 'fs.read' }, follow: true } });
      assert.equal(t.posted.filter((m) => m.kind === 'notification' && m.notification === 'init').length, 1);
      // A second ready claiming the embedded page, with nothing embedded any more: answered with an init too.
      await t.handler.receive({ command: 'ready', embedded: true });
      assert.equal(t.posted.filter((m) => m.kind === 'notification' && m.notification === 'init').length, 2);
      t.handler.dispose();
    });

    it('is skipped when the source is slow, and the page asks as before', async () => {
      const source = new MemoryTimelineSource([fakeEvent(1)]);
      const handler = new TimelineMessageHandler({
        source: () => new Promise((r) => setTimeout(() => r(source), 1000)),
        post: async () => true,
        log: { info: () => undefined, warn: () => undefined, error: () => undefined },
        editor: { askExportFile: async () => undefined, runAction: async () => undefined, showError: () => undefined },
      });
      assert.equal(await handler.embeddedInit(20), undefined);
      handler.dispose();
    });

    it('a run asked for before the page is ready is shown once it is', async () => {
      const t = setup();
      await t.handler.embeddedInit(5000);
      await t.handler.showRun('run-1');
      assert.equal(t.posted.length, 0);
      await t.handler.receive({ command: 'ready', embedded: true });
      assert.deepEqual(t.posted.filter((m) => m.kind === 'notification').map((m) => (m as { notification: string }).notification), ['showRun']);
      t.handler.dispose();
    });

    it('embeds as JSON that no agent-written string can break out of', () => {
      const hostile = '</script><script>alert(1)</script><!-- & \u2028\u2029 ]]>';
      const text = embeddableJson({ reason: hostile, nested: [{ path: `${hostile}.ts` }] });
      assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
      assert.deepEqual(JSON.parse(text), { reason: hostile, nested: [{ path: `${hostile}.ts` }] });
    });
  });

  it('coalesces live appends into one didAppend once ready', async () => {
    const t = setup();
    await t.handler.receive({ command: 'ready' });
    t.source.push(fakeEvent(251));
    t.source.push(fakeEvent(252), fakeEvent(253));
    await new Promise((r) => setTimeout(r, 400));
    const notes = t.posted.filter((m) => m.kind === 'notification' && m.notification === 'didAppend');
    assert.equal(notes.length, 1);
    assert.deepEqual({ lastSeq: (notes[0] as { lastSeq: number }).lastSeq, count: (notes[0] as { count: number }).count }, { lastSeq: 253, count: 3 });
    t.handler.dispose();
  });
});
