// `verify` reads the database file directly (eventFileScan.ts) instead of through SQLite, for speed. These tests
// hold it to SQLite's reading: on intact logs (events large enough to spill onto overflow pages, non-ASCII text)
// it takes the direct path and agrees; on tampered rows it names the same event; and with any byte flipped
// anywhere in the file, whenever it does not leave the file to SQLite, its verdict is the verdict on the events
// as SQLite reads them — it never calls intact what SQLite would read differently.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import type { AuditEventInput } from '../../src/protocol/auditEvent';
import type { Database } from 'sql.js';
import { knownSchemas, loadSqlJs } from '../../src/core/audit/auditDatabase';
import { AuditLog, verifyAuditLog } from '../../src/core/audit/auditLog';
import { checkEventFile } from '../../src/core/audit/eventFileScan';
import { ChainVerifier, GENESIS_HASH, type VerifyResult } from '../../src/core/audit/hashChain';
import { editDatabase, flipByte, removeDir, sampleEvent, tempStateDir } from '../fixtures/auditTestKit';

/** Events of every size: small ones, ones just over a page, and ones spanning several overflow pages. */
function mixedEvent(i: number): AuditEventInput {
  const size = [20, 300, 3_900, 4_100, 7_000, 8_000][i % 6]!;
  return sampleEvent(i, { args: { path: `src/file${i}.ts`, note: `ünïcödé ✓ ${'x'.repeat(size)}`.slice(0, size), list: [i, i * 2] } });
}

async function buildDatabase(n: number, make: (i: number) => AuditEventInput = mixedEvent): Promise<string> {
  const dir = tempStateDir('scan');
  const log = await AuditLog.open(dir, { persist: { minEvents: 1e9, onClose: true } });
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(make(i + 1))));
  await log.close();
  fs.writeFileSync(join(dir, 'audit.journal'), fs.readFileSync(join(dir, 'audit.journal'), 'utf8').split('\n')[0] + '\n');
  return dir;
}

function sharedCopy(path: string): Buffer {
  const bytes = fs.readFileSync(path);
  const shared = Buffer.from(new SharedArrayBuffer(bytes.length));
  bytes.copy(shared);
  return shared;
}

describe('verify reads the database file directly, and agrees with SQLite', function () {
  this.timeout(180_000);

  it('an intact log with overflow pages and non-ASCII text is read directly, every event, on threads and without', async () => {
    const dir = await buildDatabase(600);
    try {
      const file = sharedCopy(join(dir, 'audit.sqlite'));
      for (const threads of [undefined, 0]) {
        const checked = await checkEventFile(file, await knownSchemas(), { seq: 0, hash: GENESIS_HASH }, threads);
        assert.ok(checked, 'the direct reader understood the file');
        assert.equal(checked.results.reduce((n, r) => n + r.count, 0), 600);
        assert.ok(checked.results.every((r) => !r.bad));
        assert.equal(checked.headSeq, 600);
      }
      const direct = await verifyAuditLog(dir);
      const viaSqlite = await verifyAuditLog(dir, { direct: false });
      assert.ok(direct.ok && viaSqlite.ok, `${direct.message} / ${viaSqlite.message}`);
      assert.deepEqual(direct.head, viaSqlite.head);
      assert.equal(direct.events, 600);
    } finally {
      removeDir(dir);
    }
  });

  it('a changed body or hash, a deleted row, or deleted last rows are named exactly as SQLite reading names them', async () => {
    const dir = await buildDatabase(300);
    const pristine = fs.readFileSync(join(dir, 'audit.sqlite'));
    try {
      const edits: Array<[string, (run: (sql: string) => unknown) => void]> = [
        ['body changed (overflowing row)', (run) => run(`UPDATE events SET body = replace(body, 'ünïcödé', 'unicode') WHERE seq = 117`)],
        ['body changed (small row)', (run) => run(`UPDATE events SET body = replace(body, 'marker-', 'marker+') WHERE seq = 199`)],
        ['hash changed', (run) => run(`UPDATE events SET hash = zeroblob(32) WHERE seq = 42`)],
        ['hash of the wrong length', (run) => run(`UPDATE events SET hash = x'00' WHERE seq = 43`)],
        ['row deleted', (run) => run('DELETE FROM events WHERE seq = 250')],
        ['last rows deleted', (run) => run('DELETE FROM events WHERE seq > 280')],
      ];
      for (const [label, edit] of edits) {
        fs.writeFileSync(join(dir, 'audit.sqlite'), pristine);
        await editDatabase(dir, edit);
        const checked = await checkEventFile(sharedCopy(join(dir, 'audit.sqlite')), await knownSchemas(), { seq: 0, hash: GENESIS_HASH });
        assert.ok(checked, `${label}: still read directly`);
        const direct = await verifyAuditLog(dir);
        const viaSqlite = await verifyAuditLog(dir, { direct: false });
        assert.equal(direct.ok, false, label);
        assert.deepEqual([direct.firstBadSeq, direct.problem], [viaSqlite.firstBadSeq, viaSqlite.problem], `${label}: ${direct.message} / ${viaSqlite.message}`);
      }
    } finally {
      removeDir(dir);
    }
  });

  it('any byte flipped anywhere in the file: whenever the direct reader gives a verdict, it is the verdict of the events as SQLite reads them', async () => {
    const dir = await buildDatabase(120);
    const path = join(dir, 'audit.sqlite');
    const pristine = fs.readFileSync(path);
    const schema = await knownSchemas();
    let directlyRead = 0;
    let failures = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(pristine.length - 1), fc.integer({ min: 0, max: 10_000 }), async (index, seed) => {
          const bytes = Buffer.from(pristine);
          flipByte(bytes, index, seed);
          const shared = Buffer.from(new SharedArrayBuffer(bytes.length));
          bytes.copy(shared);
          const checked = await checkEventFile(shared, schema, { seq: 0, hash: GENESIS_HASH }, 0);
          if (!checked) return; // left to SQLite: verify then reads the file through it
          directlyRead++;
          const direct = new ChainVerifier();
          direct.absorb(checked.results, 'database');
          if (!direct.failed && checked.headSeq !== undefined && checked.headSeq > direct.head.seq) direct.fail(direct.head.seq + 1, 'truncated', 'database', 'cut');
          const oracle = await eventsAsSqliteReadsThem(bytes);
          const d = direct.result();
          if (!oracle.ok) failures++;
          assert.deepEqual([d.ok, d.firstBadSeq], [oracle.ok, oracle.firstBadSeq], `byte ${index}: ${d.message} / ${oracle.message}`);
        }),
        { numRuns: Number(process.env.AIRLOCK_FLIP_RUNS ?? 150) },
      );
      assert.ok(directlyRead > 75, `most flips leave a file the direct reader can read (${directlyRead})`);
      assert.ok(failures > 10, `many flips damage events, and both readers name the same one (${failures})`);
    } finally {
      removeDir(dir);
    }
  });
});

/** The chain check of exactly what SQLite returns for the events (and the recorded head): the oracle. */
async function eventsAsSqliteReadsThem(bytes: Buffer): Promise<VerifyResult> {
  const SQL = await loadSqlJs();
  const v = new ChainVerifier();
  let db: Database | undefined;
  try {
    db = new SQL.Database(bytes);
    const s = db.prepare('SELECT seq, body, hash FROM events ORDER BY seq');
    try {
      while (s.step()) {
        const [seq, body, hash] = s.get();
        if (!v.push(Number(seq), String(body), hash instanceof Uint8Array && hash.length === 32 ? Buffer.from(hash).toString('hex') : '', 'database')) break;
      }
    } finally {
      s.free();
    }
    const head = Number(db.exec("SELECT value FROM meta WHERE key = 'head_seq'")[0]?.values[0]?.[0] ?? 0);
    if (!v.failed && head > v.head.seq) v.fail(v.head.seq + 1, 'truncated', 'database', 'cut');
  } catch (e) {
    v.fail(v.head.seq + 1, 'unreadable', 'database', (e as Error).message);
  } finally {
    db?.close();
  }
  return v.result();
}
