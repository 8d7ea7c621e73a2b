// The timeline's adapter over a real AuditLog: keyset pages in both directions visit every matching event exactly
// once and in order, filters narrow them, live appends are noticed (from this log and from another writer).
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/core/audit/auditLog';
import type { AuditEventInput } from '../../src/protocol/auditEvent';
import type { PageQuery, TimelineFilter } from '../../src/protocol/timelineProtocol';
import { AuditTimelineSource } from '../../src/vscode/timeline/auditTimelineSource';
import type { AuditExporter } from '../../src/vscode/timeline/auditTimelineSource';
import { TimelineExportError, exportAuditEvents } from '../../src/vscode/timeline/timelineExport';
import type { AppendNotice } from '../../src/vscode/timeline/timelineSource';

const tools = ['fs.read', 'fs.write', 'fs.delete', 'net.fetch', 'refund.process'];

/** Three runs interleaved, 1,000 tool calls with a spread of tools, decisions and reasons, then run ends. */
function events(): AuditEventInput[] {
  const out: AuditEventInput[] = [];
  for (const r of [1, 2, 3]) out.push({ runId: `run-${r}`, agent: `agent-${r}`, type: 'run.start', actor: 'system', args: { task: `task ${r}` } });
  for (let i = 0; i < 1000; i++) {
    const tool = tools[i % tools.length]!;
    out.push({
      runId: `run-${(i % 3) + 1}`,
      agent: `agent-${(i % 3) + 1}`,
      type: 'tool.call',
      tool,
      args: { path: `src/f${i}.js` },
      decision: i % 7 === 0 ? 'deny' : 'allow',
      level: i % 7 === 0 ? 'deny' : 'auto',
      actor: 'policy',
      reason: i % 100 === 0 ? `needle number ${i}` : 'routine',
      durationMs: i % 13,
    });
  }
  out.push({ runId: 'run-1', agent: 'agent-1', type: 'run.end', actor: 'system', result: { status: 'completed' } });
  return out;
}

describe('timeline source over the AuditLog', function () {
  this.timeout(60_000);
  let dir: string;
  let log: AuditLog;
  let source: AuditTimelineSource;
  const exported: Array<{ format: string; count: number; file: string }> = [];
  const exporter: AuditExporter = async (format, evs, file) => {
    let count = 0;
    for await (const _e of evs) count++;
    exported.push({ format, count, file });
    return count;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-timeline-src-'));
    log = await AuditLog.open(dir);
    await Promise.all(events().map((e) => log.append(e)));
    source = new AuditTimelineSource(log, { exporter, pollMs: 50 });
  });

  after(async () => {
    await source.dispose();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Walks the whole filtered log from one end to the other, a page at a time, as the webview does. */
  async function walk(filter: TimelineFilter, from: 'latest' | 'oldest', limit: number): Promise<number[]> {
    const q = (p: Omit<PageQuery, 'filter' | 'limit'>): PageQuery => ({ filter, limit, ...p });
    let page = await source.page(q({ direction: from }));
    const seen = page.rows.map((r) => r.seq);
    for (let guard = 0; guard < 10_000; guard++) {
      const more = from === 'latest' ? page.hasBefore : page.hasAfter;
      if (!more) break;
      page = from === 'latest' ? await source.page(q({ direction: 'before', seq: seen[0]! })) : await source.page(q({ direction: 'after', seq: seen.at(-1)! }));
      assert.ok(page.rows.length > 0, 'a page said there was more, and the next one was empty');
      assert.ok(page.rows.length <= limit);
      if (from === 'latest') seen.unshift(...page.rows.map((r) => r.seq));
      else seen.push(...page.rows.map((r) => r.seq));
    }
    return seen;
  }

  it('opens on the newest page, in ascending seq order, saying there is more before', async () => {
    const p = await source.page({ filter: {}, direction: 'latest', limit: 100 });
    assert.deepEqual(
      p.rows.map((r) => r.seq),
      Array.from({ length: 100 }, (_, i) => 905 + i),
    );
    assert.equal(p.hasBefore, true);
    assert.equal(p.hasAfter, false);
    assert.equal(p.rows.at(-1)!.type, 'run.end');
  });

  it('pages backwards from the newest and forwards from the oldest over every event exactly once', async () => {
    const all = Array.from({ length: 1004 }, (_, i) => i + 1);
    assert.deepEqual(await walk({}, 'latest', 100), all);
    assert.deepEqual(await walk({}, 'oldest', 77), all);
  });

  it('pages a filtered view the same way, and it holds exactly what the log counts', async () => {
    for (const filter of [{ tool: 'fs.write' }, { runId: 'run-2', decision: 'deny' as const }, { text: 'needle' }, { agent: 'agent-3', level: 'auto' as const }]) {
      const seqs = await walk(filter, 'latest', 25);
      assert.equal(seqs.length, await log.count(toQuery(filter)), JSON.stringify(filter));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.deepEqual(await walk(filter, 'oldest', 40), seqs);
      for (const s of seqs.slice(0, 20)) {
        const e = (await source.event(s))!;
        if ('tool' in filter) assert.equal(e.tool, filter.tool);
        if ('runId' in filter) assert.equal(e.runId, filter.runId);
        if ('text' in filter) assert.match(e.reason ?? '', /needle/);
      }
    }
  });

  it('opens around a seq with rows on both sides', async () => {
    const p = await source.page({ filter: {}, direction: 'around', seq: 500, limit: 100 });
    assert.deepEqual(
      p.rows.map((r) => r.seq),
      Array.from({ length: 100 }, (_, i) => 450 + i),
    );
    assert.equal(p.hasBefore, true);
    assert.equal(p.hasAfter, true);
  });

  it('filters by time range (from inclusive, to exclusive)', async () => {
    const e10 = (await source.event(10))!;
    const p = await source.page({ filter: { from: e10.ts, to: e10.ts }, direction: 'latest', limit: 10 });
    assert.equal(p.rows.length, 0, 'an empty range holds nothing');
    const q = await source.page({ filter: { from: e10.ts }, direction: 'oldest', limit: 1 });
    assert.ok(q.rows[0]!.seq <= 10);
  });

  it('lists runs with status and counts, and offers agents and tools as filter choices', async () => {
    const runs = await source.runs(10);
    const run1 = runs.find((r) => r.runId === 'run-1')!;
    assert.equal(run1.status, 'completed');
    assert.equal(runs.find((r) => r.runId === 'run-2')!.status, 'running');
    assert.equal(run1.events, 1 + 334 + 1);
    assert.ok(run1.denied > 0);
    const f = await source.facets();
    assert.deepEqual(f.agents, ['agent-1', 'agent-2', 'agent-3']);
    assert.ok(f.tools.includes('refund.process'), 'a custom tool seen in the log is offered');
    assert.ok(f.tools.includes('agent.escalate'), 'built-in tools are always offered');
  });

  it('verifies the chain and exports what the filter matches', async () => {
    const v = await source.verify();
    assert.equal(v.ok, true, v.message);
    assert.equal(v.checked, 1004);
    assert.equal(await source.export('jsonl', '/tmp/x.jsonl', { tool: 'fs.read' }), 200);
    assert.equal(await source.export('csv', '/tmp/x.csv'), 1004);
  });

  it('exports to a file with the same writer as `airlock audit export`, and leaves nothing behind on failure', async () => {
    const real = new AuditTimelineSource(log, { exporter: exportAuditEvents, pollMs: 0 });
    const jsonl = join(dir, 'out.jsonl');
    assert.equal(await real.export('jsonl', jsonl, { runId: 'run-1' }), 336);
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n');
    assert.equal(lines.length, 336);
    assert.equal(JSON.parse(lines[0]!).runId, 'run-1');
    const otlp = join(dir, 'out.otlp.json');
    await real.export('otlp', otlp, { runId: 'run-1' });
    assert.ok(JSON.parse(readFileSync(otlp, 'utf8')).resourceSpans, 'OTLP JSON traces');
    const csv = join(dir, 'out.csv');
    await real.export('csv', csv, { tool: 'fs.delete' });
    assert.equal(readFileSync(csv, 'utf8').trim().split('\n').length, 1 + 200);
    const nowhere = join(dir, 'no-such-folder', 'out.jsonl');
    await assert.rejects(real.export('jsonl', nowhere), (e: unknown) => TimelineExportError.is(e) && e.reason === 'write-failed');
    assert.equal(existsSync(join(dir, 'no-such-folder')), false);
  });

  it('tells listeners about appends to this log', async () => {
    const notices: AppendNotice[] = [];
    const sub = source.onDidAppend((n) => notices.push(n));
    await log.append({ runId: 'run-2', agent: 'agent-2', type: 'log', actor: 'agent', reason: 'hello' });
    sub.dispose();
    assert.equal(notices.at(-1)?.lastSeq, 1005);
  });

  it('notices events another writer appended (a reader polls)', async () => {
    const reader = await AuditLog.open(dir, { readOnly: true });
    const readerSource = new AuditTimelineSource(reader, { exporter, pollMs: 20 });
    try {
      const before = (await readerSource.page({ filter: {}, direction: 'latest', limit: 1 })).rows[0]!.seq;
      const seen = new Promise<AppendNotice>((resolve) => {
        const sub = readerSource.onDidAppend((n) => {
          sub.dispose();
          resolve(n);
        });
      });
      await log.append({ runId: 'run-3', agent: 'agent-3', type: 'log', actor: 'agent', reason: 'from the writer' });
      const n = await seen;
      assert.equal(n.lastSeq, before + 1);
      const p = await readerSource.page({ filter: {}, direction: 'after', seq: before, limit: 10 });
      assert.deepEqual(
        p.rows.map((r) => r.summary),
        ['from the writer'],
      );
    } finally {
      await readerSource.dispose();
      await reader.close();
    }
  });
});

function toQuery(f: TimelineFilter) {
  return { runId: f.runId, tool: f.tool, decision: f.decision, text: f.text, agent: f.agent, level: f.level };
}
