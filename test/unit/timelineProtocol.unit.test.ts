// The timeline protocol's schemas: what each side accepts, and that anything malformed or unknown is refused.
import * as assert from 'node:assert/strict';
import { HostMessage, WebviewMessage, maxFilterChars, maxPageSize } from '../../src/protocol/timelineProtocol';

const page = { rows: [{ seq: 1, ts: '2026-11-21T10:00:00.000Z', runId: 'r1', agent: 'a', type: 'tool.call', tool: 'fs.read', decision: 'allow', level: 'auto' }], hasBefore: false, hasAfter: false };
const facets = { runs: [{ runId: 'r1', agent: 'a', status: 'completed', events: 3, denied: 0, pending: 0 }], agents: ['a'], tools: ['fs.read'] };

describe('timeline protocol: webview → host', () => {
  const valid: unknown[] = [
    { command: 'ready' },
    { command: 'ready', state: { filter: { runId: 'r1', text: 'x' }, follow: false, anchorSeq: 5, selectedSeq: 6 } },
    { command: 'eventAction', seq: 3, action: 'rollback' },
    { command: 'reportError', message: 'boom' },
    { command: 'rendered', rows: 100, what: 'first' },
    { kind: 'request', id: 0, method: 'page', params: { filter: {}, direction: 'latest', limit: 100 } },
    { kind: 'request', id: 1, method: 'page', params: { filter: { tool: 'fs.write', decision: 'deny', level: 'require', type: 'tool.call', from: '2026-11-21T10:00:00.000Z', to: '2026-11-21T11:00:00+01:00' }, direction: 'before', seq: 10, limit: 1 } },
    { kind: 'request', id: 2, method: 'details', params: { seq: 1 } },
    { kind: 'request', id: 3, method: 'facets', params: {} },
    { kind: 'request', id: 4, method: 'verify', params: {} },
    { kind: 'request', id: 5, method: 'export', params: { format: 'otlp' } },
  ];
  for (const m of valid) {
    it(`accepts ${JSON.stringify(m).slice(0, 90)}`, () => {
      const r = WebviewMessage.safeParse(m);
      assert.ok(r.success, r.success ? '' : r.error.message);
    });
  }

  const invalid: Array<[string, unknown]> = [
    ['null', null],
    ['a string', 'ready'],
    ['an array', [{ command: 'ready' }]],
    ['an unknown command', { command: 'runShell', script: 'rm -rf /' }],
    ['an unknown method', { kind: 'request', id: 1, method: 'eval', params: {} }],
    ['a command with an extra field', { command: 'ready', html: '<img src=x onerror=alert(1)>' }],
    ['a request without an id', { kind: 'request', method: 'facets', params: {} }],
    ['a request with a negative id', { kind: 'request', id: -1, method: 'facets', params: {} }],
    ['a request with extra params', { kind: 'request', id: 1, method: 'verify', params: { fix: true } }],
    ['a page with a too large limit', { kind: 'request', id: 1, method: 'page', params: { filter: {}, direction: 'latest', limit: maxPageSize + 1 } }],
    ['a page with limit 0', { kind: 'request', id: 1, method: 'page', params: { filter: {}, direction: 'latest', limit: 0 } }],
    ['a page with an unknown direction', { kind: 'request', id: 1, method: 'page', params: { filter: {}, direction: 'sideways', limit: 10 } }],
    ['a page with a fractional seq', { kind: 'request', id: 1, method: 'page', params: { filter: {}, direction: 'after', seq: 1.5, limit: 10 } }],
    ['a filter with an unknown field', { kind: 'request', id: 1, method: 'page', params: { filter: { sql: '1=1' }, direction: 'latest', limit: 10 } }],
    ['a filter with an unknown decision', { kind: 'request', id: 1, method: 'page', params: { filter: { decision: 'maybe' }, direction: 'latest', limit: 10 } }],
    ['a filter with a huge search text', { kind: 'request', id: 1, method: 'page', params: { filter: { text: 'x'.repeat(maxFilterChars + 1) }, direction: 'latest', limit: 10 } }],
    ['a filter with a non-ISO time', { kind: 'request', id: 1, method: 'page', params: { filter: { from: 'yesterday' }, direction: 'latest', limit: 10 } }],
    ['details with a string seq', { kind: 'request', id: 1, method: 'details', params: { seq: '1' } }],
    ['an unknown export format', { kind: 'request', id: 1, method: 'export', params: { format: 'xlsx' } }],
    ['an unknown event action', { command: 'eventAction', seq: 1, action: 'deleteWorkspace' }],
    ['an event action without a seq', { command: 'eventAction', action: 'rollback' }],
    ['a huge error report', { command: 'reportError', message: 'x'.repeat(2001) }],
    ['a prototype-polluting key', JSON.parse('{"command":"ready","__proto__":{"polluted":true}}')],
  ];
  for (const [what, m] of invalid) {
    it(`rejects ${what}`, () => {
      assert.equal(WebviewMessage.safeParse(m).success, false);
    });
  }
});

describe('timeline protocol: host → webview', () => {
  it('accepts the init notification and each response', () => {
    for (const m of [
      { kind: 'notification', notification: 'init', state: { filter: {}, follow: true }, page },
      { kind: 'response', id: 6, method: 'facets', ok: true, result: facets },
      { kind: 'notification', notification: 'didAppend', lastSeq: 9, count: 2, runs: facets.runs },
      { kind: 'notification', notification: 'showRun', runId: 'r1' },
      { kind: 'response', id: 1, method: 'page', ok: true, result: page },
      { kind: 'response', id: 2, method: 'details', ok: true, result: null },
      { kind: 'response', id: 3, method: 'verify', ok: true, result: { ok: true, checked: 3, message: 'intact', ms: 1 } },
      { kind: 'response', id: 4, method: 'export', ok: true, result: { saved: false } },
      { kind: 'response', id: 5, method: 'facets', ok: false, error: 'the audit log is closed' },
    ]) {
      const r = HostMessage.safeParse(m);
      assert.ok(r.success, r.success ? '' : `${JSON.stringify(m)}: ${r.error.message}`);
    }
  });

  it('rejects a response whose result does not match its method', () => {
    assert.equal(HostMessage.safeParse({ kind: 'response', id: 1, method: 'verify', ok: true, result: page }).success, false);
    assert.equal(HostMessage.safeParse({ kind: 'response', id: 1, method: 'page', ok: true, result: { rows: 'all of them' } }).success, false);
  });

  it('rejects unknown notifications, extra fields and rows with unknown types', () => {
    assert.equal(HostMessage.safeParse({ kind: 'notification', notification: 'eval', code: 'alert(1)' }).success, false);
    assert.equal(HostMessage.safeParse({ kind: 'notification', notification: 'showRun', runId: 'r1', html: '<b>' }).success, false);
    const badRow = { ...page, rows: [{ ...page.rows[0], type: 'script' }] };
    assert.equal(HostMessage.safeParse({ kind: 'response', id: 1, method: 'page', ok: true, result: badRow }).success, false);
  });

  it('rejects a page larger than the maximum', () => {
    const rows = Array.from({ length: maxPageSize + 1 }, (_, i) => ({ ...page.rows[0], seq: i + 1 }));
    assert.equal(HostMessage.safeParse({ kind: 'response', id: 1, method: 'page', ok: true, result: { rows, hasBefore: false, hasAfter: false } }).success, false);
  });
});
