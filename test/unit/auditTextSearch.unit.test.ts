// Text search reads only the blocks of events its term can occur in (the trigram bits of textIndex.ts). These
// tests hold it to the plain definition — a case-insensitive substring of the tool, the reason or the arguments as
// JSON — over thousands of events (many blocks), for terms that occur and terms that do not; for a database
// written before the bits existed; and check that `verify --deep` catches bits cleared to hide events.
import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import type { AuditEvent, AuditEventInput } from '../../src/protocol/auditEvent';
import { AuditLog, verifyAuditLog } from '../../src/core/audit/auditLog';
import { editDatabase, removeDir, tempStateDir } from '../fixtures/auditTestKit';

const WORDS = ['alpha', 'Beta', 'gamma', 'ünïcode', 'quote"d', 'back\\slash', 'src/lib', '100%', 'under_score', 'tab\there', 'ΣΙΣΥΦΟΣ', '日本語'];

function event(i: number, pick: (n: number) => number): AuditEventInput {
  const w = (k: number) => WORDS[pick(k) % WORDS.length]!;
  return {
    runId: `run-${Math.floor(i / 300)}`,
    agent: 'searcher',
    type: 'tool.call',
    tool: ['fs.read', 'fs.write', 'net.fetch', 'refund.process'][pick(1) % 4],
    args: { path: `${w(2)}/${w(3)}-${i}.ts`, [w(4)]: { n: i, note: `${w(5)} ${w(6)}` }, list: [w(7), i % 7] },
    decision: 'allow',
    actor: 'policy',
    reason: pick(8) % 3 === 0 ? `because ${w(9)} ${i}` : undefined,
  };
}

/** The definition the search must meet, applied to every event. */
function plainSearch(events: readonly AuditEvent[], text: string): number[] {
  const needle = text.trim().toLowerCase();
  const escaped = JSON.stringify(needle).slice(1, -1);
  return events
    .filter((e) => {
      if ((e.tool ?? '').toLowerCase().includes(needle) || (e.reason ?? '').toLowerCase().includes(needle)) return true;
      if (e.args === undefined) return false;
      const json = JSON.stringify(e.args).toLowerCase();
      return json.includes(needle) || json.includes(escaped);
    })
    .map((e) => e.seq)
    .reverse();
}

async function searchAll(log: AuditLog, text: string): Promise<number[]> {
  const seqs: number[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await log.query({ text, before, limit: 200 });
    seqs.push(...page.events.map((e) => e.seq));
    if (!page.hasMore) return seqs;
    before = page.events[page.events.length - 1]!.seq;
  }
}

describe('audit text search over the trigram bits', function () {
  this.timeout(180_000);
  let dir: string;
  let all: AuditEvent[];

  before(async () => {
    dir = tempStateDir('search');
    const log = await AuditLog.open(dir, { persist: { minEvents: 1e9, onClose: true } });
    let x = 12345;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
    const inputs = Array.from({ length: 2600 }, (_, i) => {
      const picks = Array.from({ length: 10 }, rnd);
      return event(i + 1, (k) => picks[k]!);
    });
    for (let i = 0; i < inputs.length; i += 500) await Promise.all(inputs.slice(i, i + 500).map((e) => log.append(e)));
    // The events as stored and read back: what a search looks at (object keys in their stored, canonical order).
    all = [];
    for await (const e of log.iterate()) all.push(e);
    assert.equal(all.length, 2600);
    await log.close();
  });
  after(() => removeDir(dir));

  it('finds exactly what the plain definition finds, newest first, for terms that occur and terms that do not', async () => {
    const log = await AuditLog.open(dir, { readOnly: true });
    try {
      const fromEvents = fc.constantFrom(...all).chain((e) => {
        const texts = [e.tool ?? '', e.reason ?? '', JSON.stringify(e.args)];
        return fc.constantFrom(...texts).chain((t) => fc.tuple(fc.nat(t.length), fc.integer({ min: 1, max: 14 })).map(([at, len]) => t.slice(at, at + len)));
      });
      const cased = fromEvents.map((t) => (t.length % 2 ? t.toUpperCase() : t));
      await fc.assert(
        fc.asyncProperty(fc.oneof(cased, fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom(...WORDS, 'no-such-text', 'quote\\"d', 'e"d', '"')), async (text) => {
          if (!text.trim()) return;
          assert.deepEqual(await searchAll(log, text), plainSearch(all, text), JSON.stringify(text));
        }),
        { numRuns: 120 },
      );
      // Oldest first from a cursor, too.
      const asc = await log.query({ text: 'alpha', after: 1000, limit: 50 });
      assert.deepEqual(
        asc.events.map((e) => e.seq),
        plainSearch(all, 'alpha').reverse().filter((s) => s > 1000).slice(0, 50),
      );
    } finally {
      await log.close();
    }
  });

  it('a database written before the bits existed is searched correctly, and gets the bits when it is next written out', async () => {
    const copy = tempStateDir('search-old');
    try {
      const { cpSync } = await import('node:fs');
      cpSync(dir, copy, { recursive: true });
      await editDatabase(copy, (run) => {
        run('DROP TABLE text_blocks');
        run("DELETE FROM meta WHERE key = 'text_index_seq'");
      });
      const reader = await AuditLog.open(copy, { readOnly: true });
      assert.deepEqual(await searchAll(reader, 'gamma'), plainSearch(all, 'gamma'));
      await reader.close();
      // A writer adds more events and writes the database out: the bits are there again, and verify still reads
      // the file directly (both schemas are known).
      const writer = await AuditLog.open(copy, {});
      const more = await writer.append({ runId: 'run-late', agent: 'searcher', type: 'log', reason: 'late gamma ray' });
      await writer.persist();
      await writer.close();
      const again = await AuditLog.open(copy, { readOnly: true });
      assert.deepEqual(await searchAll(again, 'gamma'), [more.seq, ...plainSearch(all, 'gamma')]);
      await again.close();
      const v = await verifyAuditLog(copy, { deep: true });
      assert.ok(v.ok, v.message);
    } finally {
      removeDir(copy);
    }
  });

  it('verify --deep reports search bits cleared to hide events', async () => {
    const copy = tempStateDir('search-cleared');
    try {
      const { cpSync } = await import('node:fs');
      cpSync(dir, copy, { recursive: true });
      assert.ok((await verifyAuditLog(copy, { deep: true })).ok);
      await editDatabase(copy, (run) => run('UPDATE text_blocks SET bits = zeroblob(4096) WHERE block = 2'));
      assert.ok((await verifyAuditLog(copy)).ok, 'the chain itself is intact');
      const v = await verifyAuditLog(copy, { deep: true });
      assert.equal(v.ok, false);
      assert.equal(v.problem, 'index-mismatch');
      assert.equal(v.firstBadSeq, 2 * 512 + 1, v.message);
    } finally {
      removeDir(copy);
    }
  });
});
