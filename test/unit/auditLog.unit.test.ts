// The audit log as the runtime, the timeline and the CLI use it: durable before append resolves, group commit,
// redaction before storage, keyset pages with filters and search, runs, exports, and `airlock audit`.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalLevels, auditEventTypes, decisions, type AuditEvent, type AuditEventInput } from '../../src/protocol/auditEvent';
import type { Database } from 'sql.js';
import * as fc from 'fast-check';
import { AuditDatabase, knownSchemas, loadSqlJs } from '../../src/core/audit/auditDatabase';
import { checkEventFile } from '../../src/core/audit/eventFileScan';
import { GENESIS_HASH } from '../../src/core/audit/hashChain';
import { AuditError } from '../../src/core/audit/auditError';
import { csvCell, exportEvents } from '../../src/core/audit/auditExport';
import { collectAfter, encodeRecordLine, nodeJournalIo, parseJournalBytes, readJournalFile } from '../../src/core/audit/auditJournal';
import { AuditLog, verifyAuditLog } from '../../src/core/audit/auditLog';
import { WriteOutThread } from '../../src/core/audit/auditWriteOut';
import { runAuditCommand } from '../../src/cli/auditCommand';
import { editDatabase, eventArb, heldSyncs, journalLines, removeDir, sampleEvent, tempStateDir } from '../fixtures/auditTestKit';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clock that moves one second per reading, from a fixed start. */
function steppingClock(start = Date.parse('2026-11-21T10:00:00.000Z')): () => number {
  let t = start - 1000;
  return () => (t += 1000);
}

async function collect(it: AsyncIterable<AuditEvent>): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return runAuditCommand(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) }).then((code) => ({ code, out, err }));
}

/** The file's bytes followed by `room` zeros (what the write-out worker loads a database into). */
function withRoom(file: Uint8Array, room: number): Uint8Array {
  const bytes = new Uint8Array(file.length + room);
  bytes.set(file);
  return bytes;
}

describe('AuditLog', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempStateDir('log')));
  afterEach(() => removeDir(dir));

  describe('durability', () => {
    it('append resolves only after the journal is fdatasync\'d: an effect can never be seen before its event is durable', async () => {
      const held = heldSyncs();
      const log = await AuditLog.open(dir, { journalIo: held.io, lazy: true, persist: { onClose: false } });
      const effects: string[] = [];
      // The runtime's pattern: await the audit event, then make the effect visible.
      const call = log.append(sampleEvent(1)).then((e) => {
        effects.push(`effect after #${e.seq}, ${held.completed} syncs`);
        return e;
      });
      await sleep(100);
      assert.deepEqual(effects, [], 'no effect while the event is written but not yet synced');
      assert.match(fs.readFileSync(join(dir, 'audit.journal'), 'utf8'), /marker-1-zq/, 'written ahead');
      assert.ok(held.releaseHeld());
      const e = await call;
      assert.deepEqual(effects, ['effect after #1, 1 syncs']);
      assert.equal(e.seq, 1);
      await log.close();
    });

    it("an append acknowledged as 'written' resolves once in the journal; a later durable append waits for a sync that covers both", async () => {
      const held = heldSyncs();
      const log = await AuditLog.open(dir, { journalIo: held.io, lazy: true, persist: { onClose: false } });
      const heard: number[] = [];
      log.onDidAppend((events) => heard.push(...events.map((e) => e.seq)));
      const read = await log.append(sampleEvent(1), { ack: 'written' });
      assert.equal(read.seq, 1);
      assert.match(fs.readFileSync(join(dir, 'audit.journal'), 'utf8'), /marker-1-zq/, 'in the journal file (a kill of this process cannot lose it)');
      let durable = false;
      const write = log.append(sampleEvent(2)).then((e) => ((durable = true), e));
      await sleep(50);
      assert.equal(held.started, 1, 'a sync is under way (the durable append started one, or joined the one already started)');
      assert.equal(durable, false, 'not resolved before a sync covering it completes');
      assert.deepEqual(heard, [], 'listeners hear of events only once they are durable');
      // Release the held syncs one at a time until the durable append resolves: one sync covers both events, or
      // (when the written event's own sync had started first) a second one covers the durable event.
      while (!durable) {
        await held.releaseNext();
        await sleep(10);
      }
      assert.equal((await write).seq, 2);
      assert.ok(held.started <= 2, `${held.started} syncs`);
      assert.deepEqual(heard, [1, 2], 'listeners heard both, in order, once durable');
      await log.close();
    });

    it("early ('written') appends do not wait for fdatasync, share the syncs that follow, and flush() waits for them", async () => {
      const held = heldSyncs();
      const log = await AuditLog.open(dir, { lazy: true, persist: { onClose: false }, journalIo: held.io });
      // Every sync is held back: the appends still resolve, one after the other.
      for (let i = 1; i <= 20; i++) await log.append(sampleEvent(i), { ack: 'written' });
      assert.ok(held.started <= 1, `${held.started} syncs started for 20 early appends while one was held`);
      let flushed = false;
      const flushing = log.flush().then(() => (flushed = true));
      while (!flushed) await sleep(held.releaseHeld() ? 5 : 2);
      await flushing;
      assert.ok(held.started <= 2, `${held.started} syncs for 20 early appends`);
      await log.close();
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok && v.events === 20, v.message);
    });

    it('a writer keeps the lock between batches and hands it to another writer that waits: two logs on one folder take turns, one chain', async () => {
      const a = await AuditLog.open(dir, { lazy: true, persist: { onClose: false } });
      const b = await AuditLog.open(dir, { lazy: true, persist: { onClose: false } });
      const appendMany = async (log: AuditLog, tag: string) => {
        const acks: AuditEvent[] = [];
        for (let i = 0; i < 150; i++) acks.push(await log.append(sampleEvent(i, { agent: tag }), { ack: i % 2 ? 'written' : 'durable' }));
        return acks;
      };
      const [fromA, fromB] = await Promise.all([appendMany(a, 'a'), appendMany(b, 'b')]);
      await Promise.all([a.close(), b.close()]);
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok, v.message);
      assert.equal(v.events, 300);
      const seqs = [...fromA, ...fromB].map((e) => e.seq).sort((x, y) => x - y);
      assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i + 1), 'every acknowledged event has its own seq');
      assert.ok(!fs.existsSync(join(dir, 'audit.lock')), 'the lock is released on close');
    });

    it('a writer whose lock was taken over (it stalled, its lock looked abandoned) catches up before it writes again', async () => {
      // Trusts its lock for 50 ms, and would otherwise keep it for a minute without appending.
      const a = await AuditLog.open(dir, { lazy: true, persist: { onClose: false }, lockHold: { idleMs: 60_000, recheckMs: 50 } });
      await a.append(sampleEvent(1));
      // While `a` holds the lock, its file is made to look abandoned (a dead owner), as a minute-long stall would.
      const dead = JSON.parse(fs.readFileSync(join(dir, 'audit.lock'), 'utf8')) as { pid: number; token: string };
      fs.writeFileSync(join(dir, 'audit.lock'), JSON.stringify({ ...dead, pid: 2 ** 22 + 7, token: 'abandoned' }));
      const b = await AuditLog.open(dir, { lazy: true, persist: { onClose: false } });
      await b.append(sampleEvent(2));
      await b.append(sampleEvent(3));
      await b.close();
      await sleep(80);
      const next = await a.append(sampleEvent(4));
      assert.equal(next.seq, 4, 'a followed what b appended');
      await a.close();
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok, v.message);
      assert.equal(v.events, 4);
    });

    it('group-commits concurrent appends into few fdatasyncs, in call order', async () => {
      let syncs = 0;
      const log = await AuditLog.open(dir, { lazy: true, journalIo: { fdatasync: (fd) => (syncs++, nodeJournalIo.fdatasync(fd)) } });
      const events = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(sampleEvent(i, { args: { i } }))));
      assert.deepEqual(
        events.map((e) => (e.args as { i: number }).i),
        events.map((e) => e.seq - 1),
      );
      assert.ok(syncs <= 5, `${syncs} fdatasyncs for 1000 appends`);
      await log.close();
    });

    it('ts never goes backwards along the chain, even when the clock does', async () => {
      const times = [Date.parse('2026-11-21T10:00:05Z'), Date.parse('2026-11-21T10:00:01Z'), Date.parse('2026-11-21T10:00:09Z')];
      const log = await AuditLog.open(dir, { lazy: true, clock: () => times.shift() ?? Date.now() });
      const a = await log.append(sampleEvent(1));
      const b = await log.append(sampleEvent(2));
      const c = await log.append(sampleEvent(3));
      assert.deepEqual([a.ts, b.ts, c.ts], ['2026-11-21T10:00:05.000Z', '2026-11-21T10:00:05.000Z', '2026-11-21T10:00:09.000Z']);
      await log.close();
    });

    it('refuses invalid events and appends after close with typed errors', async () => {
      const log = await AuditLog.open(dir, { lazy: true });
      await assert.rejects(log.append({ runId: 'r', agent: 'a', type: 'nope' } as unknown as AuditEventInput), (e: unknown) => AuditError.is(e, 'invalid-event'));
      await log.close();
      await assert.rejects(log.append(sampleEvent(1)), (e: unknown) => AuditError.is(e, 'closed'));
    });
  });

  describe('write-out of a lazy writer', () => {
    /** A write-out worker script in a folder of its own: `prelude` (given that folder) runs first, then the real worker. */
    function workerScript(prelude: (folder: string) => string[]): { folder: string; file: string } {
      const folder = fs.mkdtempSync(join(tmpdir(), 'airlock-test-worker-'));
      const file = join(folder, 'worker.js');
      fs.writeFileSync(file, [...prelude(folder), `require(${JSON.stringify(require.resolve('../../src/core/audit/auditWriteOutWorker'))});`].join('\n'));
      return { folder, file };
    }

    interface NotingWorker {
      readonly file: string;
      starts(): number;
      segmentsRead(): string[];
    }

    /** Runs `fn` with a write-out worker that notes each time it starts and each journal segment it reads. */
    async function withNotingWorker(fn: (worker: NotingWorker) => Promise<void>): Promise<void> {
      const { folder, file } = workerScript((f) => [
        `const fs = require('fs');`,
        `fs.appendFileSync(${JSON.stringify(join(f, 'starts'))}, 'x');`,
        `const readFileSync = fs.readFileSync;`,
        `fs.readFileSync = function (p, ...rest) {`,
        `  if (typeof p === 'string' && p.includes('audit-segments')) fs.appendFileSync(${JSON.stringify(join(f, 'segments-read'))}, require('path').basename(p) + '\\n');`,
        `  return readFileSync.call(this, p, ...rest);`,
        `};`,
      ]);
      const read = (name: string) => (fs.existsSync(join(folder, name)) ? fs.readFileSync(join(folder, name), 'utf8') : '');
      try {
        await fn({ file, starts: () => read('starts').length, segmentsRead: () => read('segments-read').split('\n').filter(Boolean) });
      } finally {
        removeDir(folder);
      }
    }

    const databaseHead = async () => {
      const db = await AuditDatabase.fromBytes(fs.readFileSync(join(dir, 'audit.sqlite')), 'audit.sqlite');
      try {
        return db.maxSeq;
      } finally {
        db.close();
      }
    };

    it('folds the rotated journal into the database file on a worker thread while appends go on; nothing is lost, one chain', async () => {
      await withNotingWorker(async (worker) => {
        const log = await AuditLog.open(dir, { lazy: true, persist: { minEvents: 100, ratio: 0, onClose: false }, writeOutWorker: worker.file });
        // Appends keep coming while write-outs are under way: each write-out covers what was rotated before it started.
        for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 120 }, (_, i) => log.append(sampleEvent(round * 120 + i))));
        await log.persist();
        const head = log.lastEvent.seq;
        await log.close();
        assert.equal(head, 480);
        // One thread, started at the first write-out and kept for the next ones (the log is small).
        assert.equal(worker.starts(), 1, 'the write-outs ran on one worker thread');
        assert.equal(await databaseHead(), 480, 'the database file holds every event');
        assert.ok(fs.readdirSync(join(dir, 'audit-segments')).length >= 2, 'the journal was rotated into segments');
        const v = await verifyAuditLog(dir);
        assert.ok(v.ok && v.events === 480, v.message);
        const reader = await AuditLog.open(dir, { readOnly: true });
        assert.equal(reader.recovery.replayed, 0, 'a reader has nothing left to replay');
        await reader.close();
      });
    });

    it('events made durable after a write-out go into the database the worker kept as they come: later write-outs read no segment for them', async () => {
      await withNotingWorker(async (worker) => {
        const log = await AuditLog.open(dir, { lazy: true, persist: { minEvents: 100, ratio: 0, onClose: false }, writeOutWorker: worker.file });
        await Promise.all(Array.from({ length: 120 }, (_, i) => log.append(sampleEvent(i))));
        await log.persist();
        // The first write-out had nothing kept: it read the first segment.
        assert.deepEqual(worker.segmentsRead().map((n) => n.replace(/\.gz$/, '')), [fs.readdirSync(join(dir, 'audit-segments'))[0]!.replace(/\.gz$/, '')]);
        for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(sampleEvent(120 + round * 50 + i))));
        await log.persist();
        await log.close();
        assert.equal(worker.starts(), 1);
        assert.ok(fs.readdirSync(join(dir, 'audit-segments')).length >= 2, 'the later write-outs rotated the journal too');
        assert.equal(worker.segmentsRead().length, 1, `a later write-out read ${worker.segmentsRead().slice(1).join(', ')}`);
        assert.equal(await databaseHead(), 270, 'the database file holds every event');
        const v = await verifyAuditLog(dir);
        assert.ok(v.ok && v.events === 270, v.message);
      });
    });

    it("another writer's events, taken in when the lock comes back, go into the kept database too, in chain order", async () => {
      await withNotingWorker(async (worker) => {
        const a = await AuditLog.open(dir, { lazy: true, persist: { minEvents: 1000, ratio: 0, onClose: false }, writeOutWorker: worker.file });
        await Promise.all(Array.from({ length: 120 }, (_, i) => a.append(sampleEvent(i))));
        await a.persist();
        // b appends once a has let the lock go (idle); a takes it back, catches up with b's events, and goes on.
        const b = await AuditLog.open(dir, { lazy: true, persist: { onClose: false } });
        const theirs = await Promise.all(Array.from({ length: 30 }, (_, i) => b.append(sampleEvent(200 + i))));
        await b.close();
        const mine = await Promise.all(Array.from({ length: 30 }, (_, i) => a.append(sampleEvent(300 + i))));
        assert.deepEqual([mine[0]!.seq, mine[29]!.seq], [151, 180]);
        await a.persist();
        await a.close();
        assert.equal(worker.segmentsRead().length, 1, `the last write-out read ${worker.segmentsRead().slice(1).join(', ')}`);
        assert.equal(await databaseHead(), 180);
        const v = await verifyAuditLog(dir);
        assert.ok(v.ok && v.events === 180, v.message);
        // Read back from the database file alone (nothing left to replay): each event as its writer acknowledged it.
        const reader = await AuditLog.open(dir, { readOnly: true });
        assert.equal(reader.recovery.replayed, 0, 'the database file holds every event');
        for (const e of [...theirs, ...mine]) assert.deepEqual(await reader.get(e.seq), e);
        await reader.close();
      });
    });

    it('a worker that falls behind is handed no more events until it catches up (they wait in the segments instead)', async () => {
      // A worker held on the first events handed to it until `release` exists, as a busy one would be.
      const { folder, file } = workerScript((f) => [
        `const { parentPort } = require('worker_threads');`,
        `const fs = require('fs');`,
        `const nap = new Int32Array(new SharedArrayBuffer(4));`,
        `parentPort.on('message', (m) => { if (m.kind === 'feed') while (!fs.existsSync(${JSON.stringify(join(f, 'release'))})) Atomics.wait(nap, 0, 0, 10); });`,
      ]);
      const release = join(folder, 'release');
      const thread = new WriteOutThread(file, 15_000, 100);
      try {
        await thread.run({ stateDir: dir, upTo: 0 }); // starts the worker
        const feed = (from: number) => {
          const records = Array.from({ length: 30 }, (_, i) => ({ seq: from + i, hash: 'a'.repeat(64), body: `{"seq":${from + i}}`, event: { seq: from + i }, exact: true }));
          return thread.feed(dir, [Buffer.from(records.map((r) => encodeRecordLine(r.hash, r.body)).join(''))], records);
        };
        const handed = [1, 31, 61, 91, 121].map(feed);
        assert.deepEqual(handed, [true, true, true, false, false], 'at most 100 events wait in the held worker');
        fs.writeFileSync(release, '');
        // Once it has caught up (acknowledged what it was handed), it takes events again.
        const deadline = Date.now() + 10_000;
        while (!feed(151)) {
          assert.ok(Date.now() < deadline, 'the worker never acknowledged the events it was handed');
          await sleep(20);
        }
      } finally {
        thread.stop();
        removeDir(folder);
      }
    });

    /** Two write-outs by one lazy writer (120 events each), with `between` done to the database file in between. */
    async function twoWriteOuts(between: (dbFile: string) => void): Promise<void> {
      const log = await AuditLog.open(dir, { lazy: true, persist: { minEvents: 100, ratio: 0, onClose: false } });
      await Promise.all(Array.from({ length: 120 }, (_, i) => log.append(sampleEvent(i))));
      await log.persist();
      assert.equal(await databaseHead(), 120);
      between(join(dir, 'audit.sqlite'));
      await Promise.all(Array.from({ length: 120 }, (_, i) => log.append(sampleEvent(120 + i))));
      await log.persist();
      await log.close();
    }
    const quarantined = () => fs.readdirSync(dir).filter((n) => n.includes('.corrupt-'));

    it('a later write-out folds into the database the worker kept, without reading the file again', async () => {
      // Zero the file in place, keeping its inode, size and time: only a write-out that reads it would notice.
      await twoWriteOuts((file) => {
        const st = fs.statSync(file);
        fs.writeFileSync(file, Buffer.alloc(st.size), { flag: 'r+' });
        fs.utimesSync(file, st.atime, st.mtime);
      });
      assert.deepEqual(quarantined(), [], 'the zeroed file was never read (it would have been set aside as damaged)');
      assert.equal(await databaseHead(), 240);
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok && v.events === 240, v.message);
    });

    it('a database file replaced since (another writer wrote it out) is read again, not the one kept', async () => {
      // A damaged file renamed into place: the write-out must look at it, find it damaged, and the writer rebuild it.
      await twoWriteOuts((file) => {
        fs.writeFileSync(`${file}.other`, Buffer.alloc(fs.statSync(file).size));
        fs.renameSync(`${file}.other`, file);
      });
      assert.equal(quarantined().length, 1, 'the replaced file was read, found damaged and set aside');
      assert.equal(await databaseHead(), 240);
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok && v.events === 240, v.message);
    });

    it('the database the worker builds from the events it is fed equals one built from the journal, table by table', async () => {
      // Fed events go in by what the writer worked out from its own objects (facts and search bits), not by parsing:
      // every column, run summary, planner count and search bit must come out as folding the stored text gives them.
      const odd = [
        { args: JSON.parse('{"__proto__":{"x":"Proto-Key"},"10":"ten","9":"Nine","b":[1,"Two"]}') as unknown },
        { args: { 'zé': 'Ünïcode Σ', 'z\u0000': 'nul', '\ud83d': 'lone' }, reason: 'Reason "quoted"\nnewline ΣΑΣ' },
        { costUsd: 0.25, durationMs: 1e21 },
      ];
      const events: AuditEventInput[] = [
        ...fc.sample(eventArb, { numRuns: 300, seed: 41 }),
        ...odd.map((o, i) => sampleEvent(i, o)),
        sampleEvent(7, { type: 'run.end', result: { status: 'failed' }, reason: 'gave up' }),
        sampleEvent(8, { type: 'run.end', decision: 'halt' }),
      ];
      await withNotingWorker(async (worker) => {
        const log = await AuditLog.open(dir, { lazy: true, persist: { minEvents: 100, ratio: 0, onClose: false }, writeOutWorker: worker.file });
        await Promise.all(events.slice(0, 120).map((e) => log.append(e)));
        await log.persist();
        for (let at = 120; at < events.length; at += 40) await Promise.all(events.slice(at, at + 40).map((e) => log.append(e)));
        await log.persist();
        await log.close();
        assert.equal(worker.segmentsRead().length, 1, 'the events after the first write-out went in as they were fed');
      });
      const SQL = await loadSqlJs();
      const reference = await AuditDatabase.create();
      const { records } = collectAfter(dir, 0, readJournalFile(join(dir, 'audit.journal')));
      assert.equal(records.length, events.length);
      reference.insert(records);
      const fed = new SQL.Database(fs.readFileSync(join(dir, 'audit.sqlite')));
      const built = new SQL.Database(reference.export({ seq: records.length, hash: records[records.length - 1]!.hash }));
      try {
        for (const table of ['events', 'runs', 'value_counts', 'text_blocks']) {
          const dump = (db: Database) => db.exec(`SELECT * FROM ${table} ORDER BY 1, 2`)[0]?.values ?? [];
          assert.ok(dump(built).length > 0, table);
          assert.deepEqual(dump(fed), dump(built), `the ${table} table`);
        }
      } finally {
        fed.close();
        built.close();
        reference.close();
      }
    });

    it('when the worker cannot run, writes the database out in its own thread instead', async () => {
      const log = await AuditLog.open(dir, { lazy: true, persist: { minEvents: 50, ratio: 0, onClose: false }, writeOutWorker: join(dir, 'no-such-worker.js') });
      await Promise.all(Array.from({ length: 130 }, (_, i) => log.append(sampleEvent(i))));
      await log.persist();
      await log.close();
      assert.equal(await databaseHead(), 130);
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok && v.events === 130, v.message);
    });
  });

  describe('redaction before storage', () => {
    it('secrets in args, result, reason and log messages never reach the journal or the database', async () => {
      const secret = ['sk-proj-', 'Q7wE9rT1yU3iO5pA8sD2fG4hJ6kL0zX9cV7bN5m3'].join('');
      const card = '4111 1111 1111 1111';
      const log = await AuditLog.open(dir);
      const e = await log.append({
        runId: 'r1',
        agent: 'a',
        type: 'tool.call',
        tool: 'net.fetch',
        args: { url: 'https://api.example.com', headers: { Authorization: `Bearer ${secret}` } },
        result: { body: `card ${card}` },
        reason: `use ${secret}`,
      });
      await log.append({ runId: 'r1', agent: 'a', type: 'log', reason: `debug: key=${secret}` });
      assert.deepEqual(e.args, { url: 'https://api.example.com', headers: { Authorization: 'Bearer sk-proj-…N5m3' } });
      assert.deepEqual(e.result, { body: 'card …1111' });
      await log.close();
      for (const f of ['audit.journal', 'audit.sqlite']) {
        const bytes = fs.readFileSync(join(dir, f)).toString('latin1');
        assert.ok(!bytes.includes(secret.slice(8, 30)) && !bytes.includes(card), `no secret in ${f}`);
      }
    });

    it('uses the policy\'s redact.patterns', async () => {
      const log = await AuditLog.open(dir, { redactPatterns: ['ACME-[0-9]{6}'] });
      const e = await log.append({ runId: 'r', agent: 'a', type: 'log', reason: 'order ACME-123456 shipped' });
      assert.equal(e.reason, 'order … shipped');
      await log.close();
    });
  });

  describe('queries', () => {
    let log: AuditLog;
    const all: AuditEvent[] = [];

    beforeEach(async () => {
      all.length = 0;
      log = await AuditLog.open(dir, { clock: steppingClock() });
      // Three runs; run-2 is still running; 240 events in all.
      for (let r = 0; r < 3; r++) {
        all.push(await log.append({ runId: `run-${r}`, agent: r === 1 ? 'support' : 'refactor', type: 'run.start', actor: 'system' }));
        for (let i = 0; i < 78; i++) {
          const k = r * 100 + i;
          all.push(
            await log.append({
              runId: `run-${r}`,
              agent: r === 1 ? 'support' : 'refactor',
              type: i % 13 === 0 ? 'decision' : 'tool.call',
              tool: ['fs.read', 'fs.write', 'net.fetch', 'refund.process'][k % 4],
              args: { path: `src/${k}.ts`, note: k === 150 ? 'Grüße 100% "quoted" under_score' : undefined },
              decision: i % 13 === 0 ? 'pending' : k % 10 === 0 ? 'deny' : 'allow',
              level: k % 7 === 0 ? 'require' : 'auto',
              reason: k === 42 ? 'Rename the HELPER everywhere' : undefined,
              costUsd: 0.01,
            }),
          );
        }
        if (r < 2) all.push(await log.append({ runId: `run-${r}`, agent: r === 1 ? 'support' : 'refactor', type: 'run.end', actor: 'system', decision: r === 0 ? 'allow' : 'halt', reason: r === 1 ? 'breaker open' : undefined, result: { status: r === 0 ? 'completed' : 'halted' } }));
      }
    });
    afterEach(() => log.close());

    it('pages newest first with a keyset cursor, and back again', async () => {
      const p1 = await log.query({ limit: 100 });
      assert.equal(p1.order, 'desc');
      assert.deepEqual(
        p1.events.map((e) => e.seq),
        Array.from({ length: 100 }, (_, i) => all.length - i),
      );
      assert.equal(p1.hasMore, true);
      const p2 = await log.query({ limit: 100, before: p1.events[99]!.seq });
      const p3 = await log.query({ limit: 100, before: p2.events[99]!.seq });
      assert.equal(p3.events.length, all.length - 200);
      assert.equal(p3.hasMore, false);
      const up = await log.query({ limit: 100, after: p3.events[0]!.seq });
      assert.equal(up.order, 'asc');
      assert.deepEqual(
        up.events.map((e) => e.seq),
        Array.from({ length: 100 }, (_, i) => p3.events[0]!.seq + 1 + i),
      );
      assert.deepEqual(await log.get(7), all[6]);
    });

    it('filters by run, agent, tool, decision, level and type, alone and together', async () => {
      const check = async (q: Parameters<AuditLog['query']>[0], want: (e: AuditEvent) => boolean) => {
        const got = await collect(log.iterate(q));
        assert.deepEqual(
          got.map((e) => e.seq),
          all.filter(want).map((e) => e.seq),
          JSON.stringify(q),
        );
        assert.equal(await log.count(q), got.length);
      };
      await check({ runId: 'run-1' }, (e) => e.runId === 'run-1');
      await check({ agent: 'support' }, (e) => e.agent === 'support');
      await check({ tool: 'fs.write' }, (e) => e.tool === 'fs.write');
      await check({ decision: 'deny' }, (e) => e.decision === 'deny');
      await check({ level: 'require' }, (e) => e.level === 'require');
      await check({ type: 'decision' }, (e) => e.type === 'decision');
      await check({ type: ['run.start', 'run.end'] }, (e) => e.type === 'run.start' || e.type === 'run.end');
      await check({ runId: 'run-0', tool: ['fs.read', 'net.fetch'], decision: 'deny' }, (e) => e.runId === 'run-0' && (e.tool === 'fs.read' || e.tool === 'net.fetch') && e.decision === 'deny');
      await check({ runId: 'nope' }, () => false);
      const page = await log.query({ decision: 'allow', limit: 5 });
      assert.deepEqual(
        page.events.map((e) => e.seq),
        all.filter((e) => e.decision === 'allow').reverse().slice(0, 5).map((e) => e.seq),
      );
    });

    it('filters by time range (since inclusive, until exclusive)', async () => {
      const since = all[10]!.ts;
      const until = all[20]!.ts;
      const got = await collect(log.iterate({ since, until }));
      assert.deepEqual(
        got.map((e) => e.seq),
        all.slice(10, 20).map((e) => e.seq),
      );
    });

    it('searches tool, arguments and reason, case-insensitively, with LIKE wildcards taken literally', async () => {
      const search = async (text: string) => (await collect(log.iterate({ text }))).map((e) => e.seq);
      assert.deepEqual(await search('helper'), [all.find((e) => e.reason === 'Rename the HELPER everywhere')!.seq]);
      assert.deepEqual(await search('GRÜSSE'.toLowerCase().replace('ss', 'ß')), [all.find((e) => (e.args as { note?: string } | undefined)?.note !== undefined)!.seq]);
      assert.deepEqual(await search('100% "quoted"'), await search('under_score'));
      assert.equal((await search('100%')).length, 1);
      assert.equal((await search('refund.PROCESS')).length, all.filter((e) => e.tool === 'refund.process').length);
      assert.deepEqual(await search('src/1_'), []);
    });

    it('summarises runs: status, reason, counts', async () => {
      const runs = await log.runs();
      assert.deepEqual(
        runs.map((r) => [r.runId, r.status, r.reason]),
        [
          ['run-2', 'running', undefined],
          ['run-1', 'halted', 'breaker open'],
          ['run-0', 'completed', undefined],
        ],
      );
      const r0 = all.filter((e) => e.runId === 'run-0');
      const s0 = runs[2]!;
      assert.equal(s0.events, r0.length);
      assert.equal(s0.toolCalls, r0.filter((e) => e.type === 'tool.call').length);
      assert.equal(s0.denied, r0.filter((e) => e.decision === 'deny').length);
      assert.equal(s0.pending, r0.filter((e) => e.decision === 'pending').length);
      assert.ok(Math.abs(s0.costUsd - 0.78) < 1e-9);
      const detail = await log.run('run-1');
      assert.equal(detail!.byType['tool.call'], all.filter((e) => e.runId === 'run-1' && e.type === 'tool.call').length);
      assert.equal(detail!.byDecision.halt, 1);
      assert.deepEqual(
        (await log.runs({ status: 'halted' })).map((r) => r.runId),
        ['run-1'],
      );
    });

    it('exports JSON Lines, CSV and OTLP traces', async () => {
      let jsonl = '';
      assert.equal(await exportEvents('jsonl', log.iterate(), (s) => void (jsonl += s)), all.length);
      assert.deepEqual(
        jsonl.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent),
        all,
      );

      let csv = '';
      await exportEvents('csv', log.iterate({ runId: 'run-1' }), (s) => void (csv += s));
      const rows = csv.trim().split('\r\n');
      assert.equal(rows[0], 'seq,ts,runId,agent,type,tool,decision,level,rule,actor,reason,durationMs,costUsd,args,result,prevHash,hash');
      assert.equal(rows.length, 1 + all.filter((e) => e.runId === 'run-1').length);
      assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
      assert.equal(csvCell('a,b'), '"a,b"');

      let otlp = '';
      await exportEvents('otlp', log.iterate(), (s) => void (otlp += s));
      const doc = JSON.parse(otlp) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string; spanId: string; parentSpanId?: string; traceId: string; attributes: Array<{ key: string; value: Record<string, unknown> }>; status?: { code: number } }> }> }> };
      const spans = doc.resourceSpans[0]!.scopeSpans[0]!.spans;
      const runSpans = spans.filter((s) => s.name.startsWith('invoke_agent '));
      const toolSpans = spans.filter((s) => s.name.startsWith('execute_tool '));
      assert.equal(runSpans.length, 3);
      assert.equal(toolSpans.length, all.filter((e) => e.type === 'tool.call').length);
      const attr = (s: (typeof spans)[number], k: string) => s.attributes.find((a) => a.key === k)?.value;
      for (const t of toolSpans) {
        const parent = runSpans.find((r) => r.spanId === t.parentSpanId);
        assert.ok(parent && parent.traceId === t.traceId, 'each tool span is a child of its run span');
        assert.equal(attr(t, 'gen_ai.operation.name')?.stringValue, 'execute_tool');
        assert.ok(attr(t, 'gen_ai.tool.name')?.stringValue);
        assert.ok(attr(t, 'airlock.decision')?.stringValue);
      }
      const halted = runSpans.find((r) => attr(r, 'gen_ai.conversation.id')?.stringValue === 'run-1')!;
      assert.equal(attr(halted, 'gen_ai.operation.name')?.stringValue, 'invoke_agent');
      assert.equal(attr(halted, 'gen_ai.agent.name')?.stringValue, 'support');
      assert.equal(halted.status?.code, 2);
      const denied = toolSpans.find((t) => attr(t, 'airlock.decision')?.stringValue === 'deny')!;
      assert.equal(denied.status?.code, 2);
    });
  });

  describe('the database, the journal and its segments', () => {
    it('a version 1 database (an index each on type, decision and level) answers filters as it is, and takes the one index of version 2 at its first insert', async () => {
      const events = fc.sample(eventArb, { numRuns: 300, seed: 5 });
      let log = await AuditLog.open(dir);
      const all = await Promise.all(events.map((e) => log.append(e)));
      await log.close();
      // The file as version 1 wrote it: its three indexes, per-column counts, user_version 1.
      await editDatabase(dir, (run) => {
        run(`DROP INDEX events_kind; ${['type', 'decision', 'level'].map((c) => `CREATE INDEX events_${c} ON events(${c})`).join('; ')}`);
        run(`DELETE FROM value_counts WHERE dim = 'kind'`);
        for (const c of ['type', 'decision', 'level']) run(`INSERT INTO value_counts (dim, value, n) SELECT '${c}', CAST(${c} AS TEXT), count(*) FROM events WHERE ${c} IS NOT NULL GROUP BY ${c}`);
        run('PRAGMA user_version = 1');
      });
      const layout = async () => {
        const SQL = await loadSqlJs();
        const db = new SQL.Database(fs.readFileSync(join(dir, 'audit.sqlite')));
        try {
          const indexes = db.exec("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'events_%' ORDER BY name")[0]!.values.map((r) => String(r[0]));
          return { version: Number(db.exec('PRAGMA user_version')[0]!.values[0]![0]), indexes };
        } finally {
          db.close();
        }
      };
      assert.deepEqual(await layout(), { version: 1, indexes: ['events_agent', 'events_decision', 'events_level', 'events_run', 'events_tool', 'events_type'] });
      const checked = await checkEventFile(fs.readFileSync(join(dir, 'audit.sqlite')), await knownSchemas(), { seq: 0, hash: GENESIS_HASH });
      assert.ok(checked && checked.results.every((r) => !r.bad), 'verify reads a version 1 file directly');

      // Random filters on type, decision and level (with others now and then), against a plain filter of the events.
      const queries = fc.sample(
        fc.record(
          {
            type: fc.subarray([...auditEventTypes], { minLength: 1 }),
            decision: fc.subarray([...decisions], { minLength: 1 }),
            level: fc.subarray([...approvalLevels], { minLength: 1 }),
            agent: fc.constantFrom('refactor', 'support'),
            tool: fc.constantFrom('fs.read', 'net.fetch'),
          },
          { requiredKeys: [] },
        ),
        { numRuns: 60, seed: 9 },
      );
      const check = async (reader: AuditLog, stored: readonly AuditEvent[]) => {
        for (const q of queries) {
          const want = stored.filter(
            (e) =>
              (!q.type || q.type.includes(e.type)) && (!q.decision || (e.decision !== undefined && q.decision.includes(e.decision))) &&
              (!q.level || (e.level !== undefined && q.level.includes(e.level))) && (!q.agent || e.agent === q.agent) && (!q.tool || e.tool === q.tool),
          );
          assert.deepEqual((await collect(reader.iterate(q))).map((e) => e.seq), want.map((e) => e.seq), JSON.stringify(q));
          const page = await reader.query({ ...q, limit: 3, after: 0 });
          assert.deepEqual(page.events.map((e) => e.seq), want.slice(0, 3).map((e) => e.seq), `first page of ${JSON.stringify(q)}`);
        }
      };
      const reader = await AuditLog.open(dir, { readOnly: true });
      await check(reader, all);
      await reader.close();
      assert.equal((await layout()).version, 1, 'reading leaves the file as it is');

      log = await AuditLog.open(dir);
      all.push(...(await Promise.all(fc.sample(eventArb, { numRuns: 40, seed: 6 }).map((e) => log.append(e)))));
      await log.close();
      assert.deepEqual(await layout(), { version: 2, indexes: ['events_agent', 'events_kind', 'events_run', 'events_tool'] });
      const after = await AuditLog.open(dir, { readOnly: true });
      assert.equal(after.recovery.replayed, 0);
      await check(after, all);
      await after.close();
      const v = await verifyAuditLog(dir, { deep: true });
      assert.ok(v.ok && v.events === 340, v.message);
    });

    it('folds the journal into the database in batches, rotates it into compressed segments, and replays the rest on open', async () => {
      const log = await AuditLog.open(dir, { persist: { minEvents: 100, ratio: 0.25, onClose: false } });
      for (let i = 0; i < 250; i++) await log.append(sampleEvent(i));
      await log.close();
      const segs = fs.readdirSync(join(dir, 'audit-segments'));
      assert.ok(segs.length >= 2 && segs.every((s) => s.endsWith('.jsonl.gz')), segs.join(', '));
      const header = JSON.parse(journalLines(dir)[0]!) as { after: { seq: number } };
      assert.ok(header.after.seq >= 100 && header.after.seq < 250);
      const again = await AuditLog.open(dir);
      assert.equal(again.recovery.replayed, 250 - header.after.seq);
      assert.equal(again.lastEvent.seq, 250);
      assert.equal((await again.query({ limit: 1000 })).events.length, 250);
      await again.close();
      assert.ok((await verifyAuditLog(dir)).ok);
    });

    it('a database loaded with room after it grows into the room, and ends up exactly as one loaded without', async () => {
      const log = await AuditLog.open(dir, { persist: { minEvents: 1e9, onClose: false } });
      for (let i = 0; i < 40; i++) await log.append(sampleEvent(i));
      await log.persist();
      for (let i = 40; i < 400; i++) await log.append(sampleEvent(i, { reason: `event ${i} ${'x'.repeat(300)}` }));
      await log.close();
      const file = fs.readFileSync(join(dir, 'audit.sqlite'));
      const { records } = collectAfter(dir, 40, parseJournalBytes(fs.readFileSync(join(dir, 'audit.journal'))));
      assert.equal(records.length, 360);
      const plain = await AuditDatabase.fromBytes(file, 'plain');
      const roomy = withRoom(file, 1024 * 1024);
      const spacious = await AuditDatabase.fromBytes(roomy, 'with room', { fileSize: file.length });
      try {
        const before = { size: spacious.sizeBytes(), spare: spacious.spareBytes() };
        assert.equal(before.size, file.length);
        assert.equal(before.spare, 1024 * 1024);
        plain.insert(records);
        spacious.insert(records);
        // The room is where the new pages went: what was taken from it is what the file grew by.
        const grown = spacious.sizeBytes() - before.size;
        assert.ok(grown > 100_000, `grew by ${grown} bytes`);
        assert.equal(before.spare - spacious.spareBytes(), grown);
        const head = { seq: 400, hash: plain.get(400)!.hash };
        const [a, b] = [plain.export(head), spacious.export(head)];
        assert.equal(b.length, a.length);
        // Read back with SQLite's structural check, event by event alike.
        const [ra, rb] = [await AuditDatabase.fromBytes(a, 'a'), await AuditDatabase.fromBytes(b, 'b')];
        for (let seq = 1; seq <= 400; seq++) assert.deepEqual(rb.get(seq), ra.get(seq));
        ra.close();
        rb.close();
      } finally {
        plain.close();
        spacious.close();
      }
    });

    it('room after a database is left unused where SQLite would count it as pages (the header does not give the size)', async () => {
      const log = await AuditLog.open(dir, { persist: { minEvents: 1e9, onClose: false } });
      for (let i = 0; i < 30; i++) await log.append(sampleEvent(i));
      await log.persist();
      await log.close();
      const file = fs.readFileSync(join(dir, 'audit.sqlite'));
      const roomy = withRoom(file, 256 * 1024);
      // Version-valid-for no longer equal to the change counter: SQLite then takes the size from the file.
      roomy[95] = roomy[27]! ^ 0xff;
      const db = await AuditDatabase.fromBytes(roomy, 'older', { fileSize: file.length });
      try {
        assert.equal(db.sizeBytes(), file.length);
        assert.ok(db.spareBytes() <= 0);
        const out = db.export({ seq: 30, hash: db.get(30)!.hash });
        assert.equal(out.length, file.length);
        (await AuditDatabase.fromBytes(out, 'checked')).close();
      } finally {
        db.close();
      }
    });

    it('a reader beside a writer sees new events after sync(), across rotations (even when an inode number is reused)', async () => {
      const writer = await AuditLog.open(dir, { persist: { minEvents: 1e9 } });
      await writer.append(sampleEvent(0));
      const reader = await AuditLog.open(dir, { readOnly: true });
      assert.equal((await reader.query()).events.length, 1);
      // Two write-outs, each rotating the journal and removing the rotated file once compressed: the third
      // journal file is likely to get the first one's inode number.
      for (let i = 1; i < 50; i++) {
        await writer.append(sampleEvent(i));
        if (i === 20 || i === 40) await writer.persist();
      }
      assert.equal(await reader.sync(), 49);
      assert.equal((await reader.query({ limit: 100 })).events.length, 50);
      await assert.rejects(reader.append(sampleEvent(99)), (e: unknown) => AuditError.is(e, 'closed'));
      await reader.close();
      await writer.close();
    });
  });

  describe('airlock audit', () => {
    beforeEach(async () => {
      const log = await AuditLog.open(dir);
      for (let i = 1; i <= 30; i++) await log.append(sampleEvent(i));
      await log.close();
    });

    it('verify exits 0 on an intact log', async () => {
      const r = await cli(['verify', '--state', dir]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^ok: The hash chain is intact: 30 events/);
    });

    it('verify exits 1 and names the first bad event', async () => {
      await editDatabase(dir, (run) => run(`UPDATE events SET body = replace(body, 'marker-17-zq', 'marker-17-zz') WHERE seq = 17`));
      const r = await cli(['verify', '--state', dir]);
      assert.equal(r.code, 1);
      assert.match(r.err, /broken at event #17 \(database\)/);
      const j = await cli(['verify', '--state', dir, '--json']);
      assert.equal((JSON.parse(j.out) as { firstBadSeq: number }).firstBadSeq, 17);
    });

    it('verify --deep also catches an index column edited to hide an event from filters', async () => {
      await editDatabase(dir, (run) => run('UPDATE events SET decision = 1 WHERE seq = 20'));
      assert.equal((await cli(['verify', '--state', dir])).code, 0);
      const r = await cli(['verify', '--state', dir, '--deep']);
      assert.equal(r.code, 1);
      assert.match(r.err, /event #20: its decision column disagrees/);
    });

    it('export --format jsonl|csv|otlp, with filters, to stdout or a file', async () => {
      const j = await cli(['export', '--state', dir]);
      assert.equal(j.code, 0, j.err);
      assert.equal(j.out.trim().split('\n').length, 30);
      const c = await cli(['export', '--state', dir, '--format', 'csv', '--decision', 'deny']);
      assert.equal(c.out.trim().split('\r\n').length, 1 + 6);
      const file = join(dir, 'out.json');
      const o = await cli(['export', '--state', dir, '--format', 'otlp', '--run', 'run-1', '--out', file]);
      assert.equal(o.code, 0, o.err);
      assert.ok((JSON.parse(fs.readFileSync(file, 'utf8')) as { resourceSpans: unknown[] }).resourceSpans.length === 1);
    });

    it('query prints lines, or a page as JSON, with filters and cursors', async () => {
      const q = await cli(['query', '--state', dir, '--tool', 'fs.write', '--limit', '3']);
      assert.equal(q.code, 0, q.err);
      assert.equal(q.out.trim().split('\n').length, 3);
      assert.match(q.out, /^#28 .* fs\.write /);
      assert.match(q.err, /more: --before 22/);
      const j = await cli(['query', '--state', dir, '--json', '--after', '28']);
      assert.deepEqual(
        (JSON.parse(j.out) as { events: AuditEvent[] }).events.map((e) => e.seq),
        [29, 30],
      );
      const runs = await cli(['runs', '--state', dir, '--json']);
      assert.equal((JSON.parse(runs.out) as unknown[]).length, 4);
    });

    it('escapes control characters an agent put in its text', async () => {
      const log = await AuditLog.open(dir);
      await log.append({ runId: 'r', agent: 'a', type: 'log', reason: 'x\u001b[2J\u001b]0;pwned\u0007y' });
      await log.close();
      const q = await cli(['query', '--state', dir, '--limit', '1']);
      assert.ok(!q.out.includes('\u001b'));
      assert.match(q.out, /x\\u001b\[2J/);
    });

    it('usage errors exit 2; --workspace finds .airlock/state', async () => {
      assert.equal((await cli(['query', '--state', dir, '--decision', 'maybe'])).code, 2);
      assert.equal((await cli(['frobnicate'])).code, 2);
      assert.equal((await cli(['query', '--state', dir, '--since', 'yesterday-ish'])).code, 2);
      const ws = tempStateDir('ws');
      try {
        fs.mkdirSync(join(ws, '.airlock'));
        fs.renameSync(dir, join(ws, '.airlock', 'state'));
        const r = await cli(['verify', '--workspace', ws]);
        assert.equal(r.code, 0, r.err);
        fs.renameSync(join(ws, '.airlock', 'state'), dir);
      } finally {
        removeDir(ws);
      }
    });
  });
});
