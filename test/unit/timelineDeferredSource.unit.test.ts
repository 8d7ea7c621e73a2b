// The timeline's first page without the database: the newest events read from the journal and its segments are
// exactly what the database answers, the database is loaded only when something else is asked (or prefetched),
// events appended meanwhile are announced once it has loaded, and anything unexpected falls back to the database.
import * as assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOURNAL_FILE } from '../../src/core/audit/auditJournal';
import { AuditLog } from '../../src/core/audit/auditLog';
import { readNewestEvents } from '../../src/core/audit/auditTail';
import type { AuditEventInput } from '../../src/protocol/auditEvent';
import type { PageQuery } from '../../src/protocol/timelineProtocol';
import { AuditTimelineSource } from '../../src/vscode/timeline/auditTimelineSource';
import { DeferredTimelineSource } from '../../src/vscode/timeline/deferredTimelineSource';
import type { AppendNotice } from '../../src/vscode/timeline/timelineSource';

const exporter = async () => 0;
const latest = (limit: number): PageQuery => ({ filter: {}, direction: 'latest', limit });

function event(i: number): AuditEventInput {
  return { runId: `run-${i % 3}`, agent: 'a', type: 'tool.call', tool: i % 2 ? 'fs.read' : 'fs.write', args: { path: `f${i}.txt` }, decision: 'allow', actor: 'policy', reason: `step ${i}` };
}

describe('timeline source that defers loading the database', function () {
  this.timeout(60_000);
  let dir: string;
  let writer: AuditLog;
  const opened: AuditLog[] = [];

  /** A deferred source over `dir` that counts how often it loaded the database. */
  function deferred(segmentBytesLimit?: number): { source: DeferredTimelineSource; loads: () => number } {
    let loads = 0;
    const source = new DeferredTimelineSource(
      dir,
      async () => {
        loads++;
        const log = await AuditLog.open(dir, { readOnly: true });
        opened.push(log);
        return new AuditTimelineSource(log, { exporter, ownsLog: true, pollMs: 0 });
      },
      undefined,
      segmentBytesLimit,
    );
    return { source, loads: () => loads };
  }

  async function fromDatabase(q: PageQuery) {
    const log = await AuditLog.open(dir, { readOnly: true });
    const s = new AuditTimelineSource(log, { exporter, ownsLog: true, pollMs: 0 });
    try {
      return await s.page(q);
    } finally {
      await s.dispose();
    }
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-timeline-deferred-'));
    writer = await AuditLog.open(dir);
    // Two rotated segments and a journal: the newest page spans the journal and the newest segment.
    let n = 0;
    for (const count of [150, 120]) {
      await Promise.all(Array.from({ length: count }, () => writer.append(event(n++))));
      await writer.persist();
    }
    await Promise.all(Array.from({ length: 30 }, () => writer.append(event(n++))));
  });

  afterEach(async () => {
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the newest page from the files, equal to what the database answers, without loading it', async () => {
    const { source, loads } = deferred();
    for (const limit of [1, 30, 100, 200, 300]) assert.deepEqual(await source.page(latest(limit)), await fromDatabase(latest(limit)), `limit ${limit}`);
    assert.equal(loads(), 0);
    assert.equal(source.isLoaded, false);
    // More than the log holds: all of it, nothing before.
    const all = await source.page(latest(500));
    assert.equal(all.rows.length, 300);
    assert.equal(all.hasBefore, false);
    await source.dispose();
  });

  it('reads older pages still in the journal while the database loads, equal to what the database answers', async () => {
    const { source, loads } = deferred();
    const before = (seq: number, limit: number): PageQuery => ({ filter: {}, direction: 'before', seq, limit });
    // The journal holds #271–#300, the newest segment #151–#270 (small: read), the oldest #1–#150.
    for (const [seq, limit] of [[301, 30], [300, 10], [291, 20], [281, 10], [281, 20], [200, 50]] as const) {
      assert.deepEqual(await source.page(before(seq, limit)), await fromDatabase(before(seq, limit)), `before #${seq}, ${limit}`);
    }
    assert.equal(loads(), 0, 'every page came from the journal and the newest segment');
    assert.equal(readNewestEvents(dir, 20, { before: 281, segmentBytesLimit: 10 }), undefined, 'a segment over the limit is not read');
    await source.dispose();
  });

  it('a page further back reads through older small segments; one the files cannot give is left to the database', async () => {
    const { source, loads } = deferred();
    const q: PageQuery = { filter: {}, direction: 'before', seq: 100, limit: 20 };
    assert.deepEqual(await source.page(q), await fromDatabase(q));
    assert.equal(loads(), 0, 'through the newest segment into the oldest, both small');
    assert.equal(readNewestEvents(dir, 20, { before: 100, segmentBytesLimit: 1 }), undefined, 'a segment over the limit is not read');
    appendFileSync(join(dir, JOURNAL_FILE), 'not a journal line\n');
    assert.deepEqual(await source.page(q), await fromDatabase(q));
    assert.equal(loads(), 1, 'a journal that cannot be read as expected: the database answers');
    await source.dispose();
  });

  it('leaves a page that needs a segment over the limit to the database (it would be unpacked on the host)', async () => {
    const { source, loads } = deferred(1);
    assert.deepEqual(await source.page(latest(20)), await fromDatabase(latest(20)), 'the journal holds these: no segment needed');
    assert.equal(loads(), 0);
    assert.deepEqual(await source.page(latest(50)), await fromDatabase(latest(50)), 'these reach into the newest segment');
    assert.equal(loads(), 1);
    await source.dispose();
  });

  it('loads the database for filtered pages and everything else, once', async () => {
    const { source, loads } = deferred();
    const filtered: PageQuery = { filter: { runId: 'run-1' }, direction: 'latest', limit: 20 };
    assert.deepEqual(await source.page(filtered), await fromDatabase(filtered));
    assert.equal(loads(), 1);
    await source.facets();
    await source.page({ filter: {}, direction: 'before', seq: 200, limit: 10 });
    assert.equal(loads(), 1);
    assert.equal(source.isLoaded, true);
    await source.dispose();
  });

  it('announces events appended between the page from the files and the loaded database', async () => {
    const { source, loads } = deferred();
    const notices: AppendNotice[] = [];
    const sub = source.onDidAppend((n) => notices.push(n));
    const first = await source.page(latest(100));
    assert.equal(first.rows.at(-1)?.seq, 300);
    await Promise.all(Array.from({ length: 7 }, (_, i) => writer.append(event(1000 + i))));
    source.prefetch();
    await source.load();
    assert.equal(loads(), 1);
    assert.deepEqual(notices, [{ lastSeq: 307, count: 7 }]);
    sub.dispose();
    await source.dispose();
  });

  it('falls back to the database when the journal cannot be read as expected', async () => {
    appendFileSync(join(dir, JOURNAL_FILE), 'not a journal line\n');
    assert.equal(readNewestEvents(dir, 10), undefined);
    const { source, loads } = deferred();
    const page = await source.page(latest(10));
    assert.equal(loads(), 1);
    assert.equal(page.rows.at(-1)?.seq, 300);
    await source.dispose();
  });

  it('leaves an empty log to the database', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'airlock-timeline-deferred-empty-'));
    try {
      assert.equal(readNewestEvents(empty, 10), undefined);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
