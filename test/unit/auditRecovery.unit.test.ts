// Bad input and bad days: an unfinished journal line, a missing journal, a dead writer's lock, a database from
// a newer version, a damaged database (rebuilt from the journal segments, the user told what was recovered),
// a full disk and a permission error (typed errors, so the run halts), and two writer processes at once.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AuditDatabase, SCHEMA_VERSION } from '../../src/core/audit/auditDatabase';
import { AuditError } from '../../src/core/audit/auditError';
import { collectAfter, nodeJournalIo } from '../../src/core/audit/auditJournal';
import { AuditLog, verifyAuditLog } from '../../src/core/audit/auditLog';
import { acks, journalLines, removeDir, sampleEvent, startWriter, tempStateDir, writeJournalLines } from '../fixtures/auditTestKit';

const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function logWith(dir: string, n: number, options: Parameters<typeof AuditLog.open>[1] = {}): Promise<void> {
  const log = await AuditLog.open(dir, options);
  for (let i = 1; i <= n; i++) await log.append(sampleEvent(i));
  await log.close();
}

async function allSeqs(dir: string): Promise<number[]> {
  const log = await AuditLog.open(dir, { readOnly: true });
  const seqs: number[] = [];
  for await (const e of log.iterate()) seqs.push(e.seq);
  await log.close();
  return seqs;
}

describe('AuditLog recovery and bad input', function () {
  this.timeout(90_000);
  let dir: string;
  beforeEach(() => (dir = tempStateDir('recovery')));
  afterEach(() => removeDir(dir));

  it('drops an unfinished last journal line (a write cut short by a crash) and says so', async () => {
    await logWith(dir, 5, { persist: { onClose: false } });
    fs.appendFileSync(join(dir, 'audit.journal'), '{"hash":"abc","event":{"seq":6,');
    const reader = await verifyAuditLog(dir);
    assert.ok(reader.ok, reader.message);
    assert.match(reader.notes.join(' '), /unfinished write/);
    const log = await AuditLog.open(dir);
    assert.ok(log.recovery.tornBytesDropped > 0);
    assert.match(log.recovery.messages.join(' '), /dropped \d+ bytes of an unfinished journal write/);
    assert.equal((await log.append(sampleEvent(6))).seq, 6);
    await log.close();
    assert.ok((await verifyAuditLog(dir)).ok);
  });

  it('continues the chain when the journal file is gone (the database holds the events)', async () => {
    await logWith(dir, 5);
    fs.rmSync(join(dir, 'audit.journal'));
    const log = await AuditLog.open(dir);
    assert.match(log.recovery.messages.join(' '), /journal was missing/);
    assert.equal((await log.append(sampleEvent(6))).seq, 6);
    await log.close();
    assert.ok((await verifyAuditLog(dir)).ok);
  });

  it('an empty journal (a writer died between creating it and writing its header) verifies, with a note, and the next writer starts it again', async () => {
    await logWith(dir, 5);
    fs.writeFileSync(join(dir, 'audit.journal'), '');
    const v = await verifyAuditLog(dir);
    assert.ok(v.ok && v.events === 5, v.message);
    assert.match(v.notes.join(' '), /journal is an empty file/);
    const log = await AuditLog.open(dir);
    assert.equal((await log.append(sampleEvent(6))).seq, 6);
    await log.close();
    const after = await verifyAuditLog(dir);
    assert.ok(after.ok && after.events === 6, after.message);
  });

  it('creates a journal whole, its header in it before it has its name (a leftover half-made one is ignored)', async () => {
    // What a writer killed while making the journal leaves now: only the unnamed file, never a headerless journal.
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, 'audit.journal.new'), '{"airlockJour');
    const log = await AuditLog.open(dir, { persist: { onClose: false } });
    await log.append(sampleEvent(1));
    await log.close();
    assert.match(fs.readFileSync(join(dir, 'audit.journal'), 'utf8'), /^\{"airlockJournal":1,"after":\{"hash":"0{64}","seq":0,/);
    assert.ok(!fs.existsSync(join(dir, 'audit.journal.new')), 'the half-made file is gone');
    const v = await verifyAuditLog(dir);
    assert.ok(v.ok && v.events === 1, v.message);
  });

  it("a journal's temporary name left behind by a writer killed right after naming the journal never lets a later journal be written over it once it is rotated", async () => {
    // A writer makes the journal under a temporary name, links it to its real name, then removes the temporary one.
    // Killed between the last two steps, it leaves the journal with a second name. That journal is later rotated
    // into a segment; the next journal made must not reuse (and truncate) the file behind that second name.
    await logWith(dir, 20, { persist: { onClose: false } });
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
    fs.linkSync(join(dir, 'audit.journal'), join(dir, 'audit.journal.new')); // the temporary name of earlier versions
    fs.linkSync(join(dir, 'audit.journal'), join(dir, `audit.journal.tmp-${dead}-0badc0de`));
    const log = await AuditLog.open(dir, { persist: { onClose: false } });
    for (let i = 21; i <= 30; i++) await log.append(sampleEvent(i));
    await log.persist(); // rotates the journal (events 1–30) into a segment and starts a new one
    for (let i = 31; i <= 35; i++) await log.append(sampleEvent(i));
    await log.close();
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('audit.journal.')), [], 'no temporary name of the journal is left');
    // The segment is the archive the database is rebuilt from: it must hold the rotated events, not the new journal.
    assert.deepEqual(collectAfter(dir, 0, undefined).records.map((r) => r.seq), Array.from({ length: 30 }, (_, i) => i + 1));
    fs.rmSync(join(dir, 'audit.sqlite'));
    const v = await verifyAuditLog(dir);
    assert.ok(v.ok && v.events === 35, v.message);
    assert.deepEqual(await allSeqs(dir), Array.from({ length: 35 }, (_, i) => i + 1));
  });

  it('takes over the lock of a writer that died holding it, at once', async () => {
    await logWith(dir, 2);
    const dead = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(join(dir, 'audit.lock'), JSON.stringify({ pid: Number(dead), host: hostname(), boot: fs.existsSync('/proc/sys/kernel/random/boot_id') ? fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : '', token: 'dead' }));
    // A lock wait far longer than the test may run: only a takeover (not a wait for the timeout) lets it pass.
    const log = await AuditLog.open(dir, { lockTimeoutMs: 10 * 60_000 });
    await log.append(sampleEvent(3));
    await log.close();
    assert.equal(fs.existsSync(join(dir, 'audit.lock')), false, 'the dead writer\'s lock was taken over and released');
    assert.equal((await verifyAuditLog(dir)).events, 3);
  });

  it('refuses a database from a newer schema version with a clear error, and leaves every file untouched', async () => {
    await logWith(dir, 3);
    const db = await AuditDatabase.fromBytes(fs.readFileSync(join(dir, 'audit.sqlite')), 'x');
    const bytes = db.export({ seq: 3, hash: '0'.repeat(64) });
    db.close();
    // user_version lives at offset 60 of the SQLite header.
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).writeUInt32BE(SCHEMA_VERSION + 1, 60);
    fs.writeFileSync(join(dir, 'audit.sqlite'), bytes);
    const before = { db: sha(join(dir, 'audit.sqlite')), journal: sha(join(dir, 'audit.journal')), files: fs.readdirSync(dir).sort() };
    for (const options of [{}, { readOnly: true }]) {
      await assert.rejects(AuditLog.open(dir, options), (e: unknown) => AuditError.is(e, 'newer-schema') && /newer version of Airlock.*left untouched/.test(e.message));
    }
    await assert.rejects(verifyAuditLog(dir), (e: unknown) => AuditError.is(e, 'newer-schema'));
    assert.deepEqual({ db: sha(join(dir, 'audit.sqlite')), journal: sha(join(dir, 'audit.journal')), files: fs.readdirSync(dir).sort() }, before);
  });

  it('refuses a journal from a newer format the same way', async () => {
    await logWith(dir, 3, { persist: { onClose: false } });
    const lines = journalLines(dir);
    lines[0] = lines[0]!.replace('"airlockJournal":1', '"airlockJournal":2');
    writeJournalLines(dir, lines);
    const before = sha(join(dir, 'audit.journal'));
    await assert.rejects(AuditLog.open(dir), (e: unknown) => AuditError.is(e, 'newer-schema'));
    assert.equal(sha(join(dir, 'audit.journal')), before);
  });

  for (const [label, damage] of [
    ['cut in half', (p: string) => fs.truncateSync(p, Math.floor(fs.statSync(p).size / 2))],
    ['its header overwritten', (p: string) => fs.writeFileSync(p, Buffer.concat([Buffer.alloc(100, 0x41), fs.readFileSync(p).subarray(100)]))],
    [
      'pages in the middle overwritten',
      (p: string) => {
        const b = fs.readFileSync(p);
        b.fill(0x5a, 4096 * 3, 4096 * 6);
        fs.writeFileSync(p, b);
      },
    ],
  ] as const) {
    it(`rebuilds a damaged database (${label}) from the journal segments, keeps the damaged file, and says what was recovered`, async () => {
      await logWith(dir, 60, { persist: { minEvents: 20, ratio: 0 } });
      const log0 = await AuditLog.open(dir, { persist: { onClose: false } });
      for (let i = 61; i <= 70; i++) await log0.append(sampleEvent(i));
      await log0.close();
      damage(join(dir, 'audit.sqlite'));
      const v = await verifyAuditLog(dir);
      assert.equal(v.ok, false, 'verify reports the damage before anything is rebuilt');
      const log = await AuditLog.open(dir);
      const r = log.recovery;
      assert.ok(r.rebuilt, r.messages.join(' '));
      assert.equal(r.rebuilt.recovered, 70);
      assert.deepEqual(r.rebuilt.missing, []);
      assert.match(r.messages.join(' '), /damaged .* moved to .*audit\.sqlite\.corrupt-.* rebuilt: 70 events recovered .*nothing is missing/);
      assert.ok(fs.existsSync(r.rebuilt.quarantinedAs!));
      await log.append(sampleEvent(71));
      await log.close();
      assert.deepEqual(await allSeqs(dir), Array.from({ length: 71 }, (_, i) => i + 1));
      assert.ok((await verifyAuditLog(dir)).ok);
    });
  }

  it('when the segments are gone too, recovers what the damaged database and the journal still hold, and names the gap', async () => {
    await logWith(dir, 400, { persist: { minEvents: 1e9, onClose: true } });
    const log0 = await AuditLog.open(dir, { persist: { onClose: false } });
    for (let i = 401; i <= 405; i++) await log0.append(sampleEvent(i));
    await log0.close();
    fs.rmSync(join(dir, 'audit-segments'), { recursive: true, force: true });
    // Damage the last pages of the file: the newest rows are lost with them.
    const p = join(dir, 'audit.sqlite');
    const b = fs.readFileSync(p);
    const pages = b.length / 4096;
    b.fill(0, 4096 * Math.floor(pages * 0.6));
    fs.writeFileSync(p, b);
    const log = await AuditLog.open(dir);
    const rebuilt = log.recovery.rebuilt!;
    assert.ok(rebuilt, log.recovery.messages.join(' '));
    assert.ok(rebuilt.missing.length > 0);
    assert.ok(rebuilt.fromDatabase > 0 && rebuilt.fromJournal === 5);
    assert.match(log.recovery.messages.join(' '), /missing: #\d+/);
    await log.close();
    const v = await verifyAuditLog(dir);
    assert.equal(v.ok, false);
    assert.equal(v.firstBadSeq, rebuilt.missing[0]![0], v.message);
  });

  it('a full disk rejects the append with a typed error, leaves no partial line, and stops the log', async function () {
    const mnt = join(dir, 'tiny');
    fs.mkdirSync(mnt);
    let simulated = false;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      simulated = true;
    }
    try {
      // With a real small file system the kernel says ENOSPC; without the right to mount one, fdatasync says it.
      const io = simulated
        ? {
            fdatasync: async () => {
              throw Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' });
            },
          }
        : nodeJournalIo;
      const log = await AuditLog.open(mnt, { lazy: true, journalIo: io, persist: { onClose: false } });
      let failure: unknown;
      const acked: number[] = [];
      for (let i = 0; i < 400 && failure === undefined; i++) {
        try {
          acked.push((await log.append(sampleEvent(i, { result: { body: 'x'.repeat(2000) } }))).seq);
        } catch (e) {
          failure = e;
        }
      }
      assert.ok(AuditError.is(failure, 'disk-full'), `got ${String(failure)}`);
      assert.match((failure as Error).message, /no space left .* Free some disk space/);
      await assert.rejects(log.append(sampleEvent(999)), (e: unknown) => AuditError.is(e, 'disk-full'), 'the log stays stopped');
      await log.close();
      if (!simulated) {
        const text = fs.readFileSync(join(mnt, 'audit.journal'), 'utf8');
        assert.ok(text.endsWith('\n'), 'no partial line left behind');
        const v = await verifyAuditLog(mnt);
        assert.ok(v.ok, v.message);
        assert.ok(v.events >= acked.length);
      }
      this.test!.title += simulated ? ' [simulated: no permission to mount a small tmpfs]' : ' [real ENOSPC on a 128 KB tmpfs]';
    } finally {
      if (!simulated) execFileSync('umount', [mnt], { stdio: 'ignore' });
    }
  });

  it('permission denied (a state folder this user cannot write) rejects open and append with a typed error', async function () {
    this.timeout(90_000); // two writers, each given 20 s to answer
    // Tests run as root here, and root ignores file modes: the writer runs as "nobody" then, for real.
    const asNobody = isRoot ? { uid: 65534, gid: 65534 } : {};
    fs.chmodSync(dir, 0o755);
    const own = join(dir, 'mine');
    fs.mkdirSync(own);
    if (isRoot) fs.chownSync(own, 65534, 65534);

    // 1. A folder it may not write at all: open fails.
    const locked = join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o555 });
    fs.chmodSync(locked, 0o555);
    const w1 = startWriter(['until-error', locked], asNobody);
    const line = await w1.waitFor('error ');
    await w1.exited;
    assert.match(line, /^error permission-denied .*permission denied/);

    // 2. Writable at first, then not (someone changes the permissions mid-run): the next append fails. A writer
    // that holds the lock and the open journal may go on appending (the open file is still writable); one that has
    // let go of the lock (idle for longer than IDLE_RELEASE_MS, 100 ms) must take it again, and that fails. So the
    // writer appends every 250 ms: every append takes the lock anew, whatever the machine's speed.
    const w2 = startWriter(['until-error', own, '250'], asNobody);
    await w2.waitFor('ack ');
    fs.chmodSync(own, 0o555);
    const line2 = await w2.waitFor('error ');
    await w2.exited;
    fs.chmodSync(own, 0o755);
    assert.match(line2, /^error permission-denied /, line2);
    const v = await verifyAuditLog(own);
    assert.ok(v.ok, v.message);
    assert.ok(acks(w2.lines).every((a) => a.seq <= v.head.seq), 'every acknowledged event is in the log');
    this.test!.title += isRoot ? ' [as uid 65534]' : '';
  });

  it('a folder made read-only while the writer holds the lock: the next take says permission denied, not "busy" after the timeout', function () {
    // The lock file that could not be removed names this live process; waiting for it would wait for ourselves.
    fs.chmodSync(dir, 0o755);
    if (isRoot) fs.chownSync(dir, 65534, 65534);
    const script = `
      const fs = require('node:fs');
      const { AuditWriterLock } = require(${JSON.stringify(join(__dirname, '../../src/core/audit/auditLock'))});
      const dir = ${JSON.stringify(dir)};
      (async () => {
        const lock = new AuditWriterLock(dir + '/audit.lock', 3000);
        await lock.acquire();
        fs.chmodSync(dir, 0o555);
        lock.release();
        const out = [];
        try { await lock.acquire(); out.push('taken'); } catch (e) { out.push(e.reason + ': ' + e.message); }
        fs.chmodSync(dir, 0o755);
        await lock.acquire();
        out.push(lock.held ? 'taken after the folder is writable again' : 'not held');
        lock.release();
        out.push(fs.existsSync(dir + '/audit.lock') ? 'lock file left' : 'lock file removed');
        // Closing the log (a release while not holding it) also clears such a file once the folder is writable.
        await lock.acquire();
        fs.chmodSync(dir, 0o555);
        lock.release();
        fs.chmodSync(dir, 0o755);
        lock.release();
        out.push(fs.existsSync(dir + '/audit.lock') ? 'lock file left at close' : 'lock file removed at close');
        process.stdout.write(out.join('\\n'));
      })().catch((e) => { process.stdout.write('failed ' + e.stack); process.exit(1); });`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', ...(isRoot ? { uid: 65534, gid: 65534 } : {}) }).split('\n');
    assert.match(out[0]!, /^permission-denied: .*permission denied while unlocking .*audit\.lock \(EACCES\)\. Make the state folder writable/, out[0]);
    assert.deepEqual(out.slice(1), ['taken after the folder is writable again', 'lock file removed', 'lock file removed at close']);
  });

  for (const kind of ['', 'lazy'] as const) {
    it(`two ${kind ? 'lazy ' : ''}writer processes appending at once lose nothing, interleave whole events, and keep one chain`, async function () {
      this.timeout(120_000); // its own waits allow a slow machine a minute
      // Lazy writers (the product's) write out on workers, which fold in the events handed to them only where they
      // continue the database: the other writer's events come in between.
      const a = startWriter(['burst', dir, '600', 'A', kind]);
      const b = startWriter(['burst', dir, '600', 'B', kind]);
      await Promise.all([a.waitFor('ready'), b.waitFor('ready')]);
      fs.writeFileSync(join(dir, 'go'), '');
      await Promise.all([a.waitFor('done', 60_000), b.waitFor('done', 60_000)]);
      await Promise.all([a.exited, b.exited]);
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok, v.message);
      assert.equal(v.events, 1200);
      const log = await AuditLog.open(dir, { readOnly: true });
      const stored = new Map<number, { hash: string; tag: string; n: number }>();
      for await (const e of log.iterate()) stored.set(e.seq, { hash: e.hash, tag: (e.args as { tag: string }).tag, n: (e.args as { n: number }).n });
      await log.close();
      for (const w of [a, b]) {
        const mine = acks(w.lines);
        assert.equal(mine.length, 600);
        for (const k of mine) assert.deepEqual(stored.get(k.seq), { hash: k.hash, tag: k.tag, n: k.n });
      }
      // How often the writers took turns depends on the scheduler; it is reported, not asserted.
      const tags = [...stored.entries()].sort((x, y) => x[0] - y[0]).map(([, s]) => s.tag);
      const turns = tags.filter((t, i) => i > 0 && t !== tags[i - 1]).length;
      this.test!.title += ` [${turns} turns]`;
    });
  }
});
