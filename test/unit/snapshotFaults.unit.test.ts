// File-system faults, for real where this machine allows it: immutable files and folders (chattr +i, since
// tests run as root and chmod does not stop root), a full disk (a 1 MB tmpfs), and a 100 MB file.
// Each failure must be a typed error and leave the workspace exactly as it was.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProposedChange } from '../../src/core/staging/proposedChange';
import { SnapshotError } from '../../src/core/snapshots/snapshotError';
import { INLINE_MAX_BYTES } from '../../src/core/snapshots/snapshotManifest';
import { SnapshotStore } from '../../src/core/snapshots/snapshotStore';
import { MemoryAuditSink, pictureTree, removeDir, tempDir, writeTree } from '../fixtures/snapshotTree';

const meta = { runId: 'faults', agent: 'faults', actor: 'policy' };

async function rejects(p: Promise<unknown>, reason: SnapshotError['reason']): Promise<SnapshotError> {
  try {
    await p;
  } catch (err) {
    assert.ok(SnapshotError.is(err), `expected a SnapshotError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    return err;
  }
  assert.fail(`expected a ${reason} SnapshotError`);
}

function chattr(flag: '+i' | '-i', path: string): boolean {
  return spawnSync('chattr', [flag, path], { stdio: 'ignore' }).status === 0;
}

function modify(path: string, before: Buffer | string, after: Buffer | string): ProposedChange {
  return { path, kind: 'modify', before: Buffer.from(before), after: Buffer.from(after), level: 'auto' };
}

describe('SnapshotStore under file-system faults', function () {
  this.timeout(60_000);

  describe('read-only (immutable) files and folders', () => {
    let ws: string;
    let state: string;
    const locked: string[] = [];

    beforeEach(function () {
      ws = tempDir('snap-ro-ws');
      state = tempDir('snap-ro-state');
      writeTree(ws, { 'a.txt': 'a', 'b.txt': 'b', 'locked.txt': 'locked', 'frozen/inner.txt': 'i' });
      const probe = join(ws, 'probe');
      writeFileSync(probe, '');
      const ok = chattr('+i', probe);
      chattr('-i', probe);
      removeDir(probe);
      if (!ok) this.skip();
    });
    afterEach(() => {
      for (const p of locked.splice(0)) chattr('-i', p);
      removeDir(ws);
      removeDir(state);
    });
    function lock(rel: string) {
      const p = join(ws, rel);
      assert.ok(chattr('+i', p));
      locked.push(p);
    }

    it('an apply that meets an immutable file fails with read-only and restores what it had written', async () => {
      const store = await SnapshotStore.open(state);
      lock('locked.txt');
      const before = pictureTree(ws);
      const err = await rejects(
        store.apply(ws, [modify('a.txt', 'a', 'A'), modify('b.txt', 'b', 'B'), modify('locked.txt', 'locked', 'changed')], meta),
        'read-only',
      );
      assert.deepEqual(err.paths, ['locked.txt']);
      assert.deepEqual(pictureTree(ws), before);
      assert.deepEqual(await store.list(), []);
    });

    it('an apply into an immutable folder fails with read-only and removes the folders it created', async () => {
      const store = await SnapshotStore.open(state);
      lock('frozen');
      const before = pictureTree(ws);
      await rejects(
        store.apply(ws, [{ path: 'new/dir/x.txt', kind: 'create', before: null, after: Buffer.from('x'), level: 'auto' }, { path: 'frozen/new.txt', kind: 'create', before: null, after: Buffer.from('n'), level: 'auto' }], meta),
        'read-only',
      );
      assert.deepEqual(pictureTree(ws), before);
    });

    it('a rollback that meets an immutable file fails with read-only and leaves the applied state', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [modify('a.txt', 'a', 'A'), modify('b.txt', 'b', 'B')], meta);
      lock('b.txt');
      const applied = pictureTree(ws);
      await rejects(store.rollback(snap.id), 'read-only');
      assert.deepEqual(pictureTree(ws), applied);
      chattr('-i', join(ws, 'b.txt'));
      await store.rollback(snap.id);
      assert.equal(readFileSync(join(ws, 'b.txt'), 'utf8'), 'b');
    });

    it('a journal folder that cannot be written stops the apply before anything is written, and the audit log says so', async () => {
      const audit = new MemoryAuditSink();
      const store = await SnapshotStore.open(state, { audit });
      const journal = join(state, 'snapshots', 'journal');
      assert.ok(chattr('+i', journal));
      locked.push(journal);
      const before = pictureTree(ws);
      await rejects(store.apply(ws, [modify('a.txt', 'a', 'A')], meta), 'read-only');
      assert.deepEqual(pictureTree(ws), before);
      assert.deepEqual(await store.list(), []);
      assert.deepEqual(audit.events.map((e) => e.type), ['apply', 'alert'], 'the apply event, then why it stopped');
      assert.match(audit.events[1]!.reason!, /stopped before anything was written; the workspace is as it was/);
    });

    it('an apply that stops keeps a blob it rewrote in place of an untrusted file (an older journal may need its bytes)', async () => {
      // Larger than INLINE_MAX_BYTES: stored as blob files.
      const a = 'a'.repeat(INLINE_MAX_BYTES + 1);
      const b = 'b'.repeat(INLINE_MAX_BYTES + 1);
      writeTree(ws, { 'big a.txt': a, 'big b.txt': b });
      const store = await SnapshotStore.open(state);
      const hash = createHash('sha256').update(a).digest('hex');
      const blob = join(state, 'snapshots', 'blobs', hash.slice(0, 2), hash);
      mkdirSync(join(blob, '..'), { recursive: true });
      writeFileSync(blob, 'X');
      const journal = join(state, 'snapshots', 'journal');
      assert.ok(chattr('+i', journal));
      locked.push(journal);
      await rejects(store.apply(ws, [modify('big a.txt', a, 'A'), modify('big b.txt', b, 'B')], meta), 'read-only');
      assert.equal(readFileSync(blob, 'utf8'), a, 'rewritten with the right bytes, and kept');
      // Blobs that no snapshot or journal names are swept when the store is next opened.
      chattr('-i', journal);
      await SnapshotStore.open(state);
      const created = createHash('sha256').update(b).digest('hex');
      assert.equal(existsSync(join(state, 'snapshots', 'blobs', created.slice(0, 2), created)), false);
      assert.equal(existsSync(blob), false);
    });
  });

  describe('full disk (1 MB tmpfs)', () => {
    let mnt: string;
    let other: string;
    let mounted = false;

    before(function () {
      mnt = tempDir('snap-tmpfs');
      mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' }).status === 0;
      if (!mounted) this.skip();
    });
    after(() => {
      if (mounted) execFileSync('umount', [mnt]);
      removeDir(mnt);
    });
    beforeEach(() => {
      other = tempDir('snap-disk');
      for (const n of readdirSync(mnt)) removeDir(join(mnt, n));
    });
    afterEach(() => removeDir(other));

    it('the workspace disk fills up midway through an apply: no-space, and every written file is restored', async () => {
      const ws = join(mnt, 'ws');
      mkdirSync(ws);
      writeTree(ws, { 'a.txt': 'a'.repeat(1000), 'dir/b.txt': 'b' });
      const store = await SnapshotStore.open(other);
      const before = pictureTree(ws);
      await rejects(
        store.apply(
          ws,
          [
            modify('a.txt', 'a'.repeat(1000), 'A'.repeat(3000)),
            modify('dir/b.txt', 'b', 'B'),
            { path: 'new/big.bin', kind: 'create', before: null, after: Buffer.alloc(2 * 1024 * 1024, 7), level: 'auto' },
          ],
          meta,
        ),
        'no-space',
      );
      assert.deepEqual(pictureTree(ws), before, 'no new folder, no temp file, the old bytes everywhere');
      assert.deepEqual(await store.list(), []);
    });

    it('the state disk fills up while snapshotting: no-space before the workspace is touched', async () => {
      const ws = tempDir('snap-ws-big');
      try {
        const big = Buffer.alloc(2 * 1024 * 1024, 3);
        writeTree(ws, { 'big.bin': big, 'small.txt': 's' });
        const store = await SnapshotStore.open(join(mnt, 'state'));
        const before = pictureTree(ws);
        await rejects(store.apply(ws, [modify('small.txt', 's', 'S'), modify('big.bin', big, 'tiny')], meta), 'no-space');
        assert.deepEqual(pictureTree(ws), before);
      } finally {
        removeDir(ws);
      }
    });

    it('a rollback on a full disk fails with no-space and changes nothing; with space it succeeds', async () => {
      const ws = join(mnt, 'ws');
      mkdirSync(ws);
      const doc = Buffer.alloc(400 * 1024, 5);
      writeTree(ws, { 'doc.bin': doc, 'keep.txt': 'k' });
      const store = await SnapshotStore.open(other);
      const original = pictureTree(ws);
      const snap = await store.apply(ws, [{ path: 'doc.bin', kind: 'delete', before: doc, after: null, level: 'auto' }, modify('keep.txt', 'k', 'K')], meta);
      // Someone fills the disk after the apply.
      try {
        writeFileSync(join(ws, 'filler'), Buffer.alloc(1024 * 1024, 1));
      } catch {
        // The write stops when the disk is full; what it wrote stays.
      }
      const full = pictureTree(ws);
      await rejects(store.rollback(snap.id), 'no-space');
      assert.deepEqual(pictureTree(ws), full);
      removeDir(join(ws, 'filler'));
      await store.rollback(snap.id);
      assert.deepEqual(pictureTree(ws), original);
    });
  });

  describe('a 100 MB file', () => {
    it('is snapshotted, replaced and restored by streaming, without holding extra copies in memory', async () => {
      const ws = tempDir('snap-100mb');
      const state = tempDir('snap-100mb-state');
      try {
        const size = 100 * 1024 * 1024;
        const before = Buffer.alloc(size, 1);
        before.write('before', 0);
        const after = Buffer.alloc(size, 2);
        writeFileSync(join(ws, 'huge.bin'), before);
        const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
        const beforeHash = hash(before);
        const store = await SnapshotStore.open(state);
        // Sample the memory held in buffers while the store works; the two 100 MB buffers above are the baseline.
        const grew = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
          const base = process.memoryUsage().arrayBuffers;
          let peak = base;
          const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
          try {
            const r = await fn();
            return [r, Math.max(peak, process.memoryUsage().arrayBuffers) - base];
          } finally {
            clearInterval(timer);
          }
        };
        const [snap, applyGrowth] = await grew(() => store.apply(ws, [{ path: 'huge.bin', kind: 'modify', before, after, level: 'auto' }], meta));
        assert.equal(snap.files[0]!.before!.size, size);
        assert.equal(hash(readFileSync(join(ws, 'huge.bin'))), hash(after));
        const [, rollbackGrowth] = await grew(() => store.rollback(snap.id));
        const limit = 40 * 1024 * 1024;
        assert.ok(applyGrowth < limit, `apply held ${Math.round(applyGrowth / 1e6)} MB more in buffers`);
        assert.ok(rollbackGrowth < limit, `rollback held ${Math.round(rollbackGrowth / 1e6)} MB more in buffers`);
        assert.equal(hash(readFileSync(join(ws, 'huge.bin'))), beforeHash);
      } finally {
        removeDir(ws);
        removeDir(state);
      }
    });
  });
  describe('blob files and ownership', () => {
    let ws: string;
    let state: string;
    beforeEach(() => {
      ws = tempDir('snap-own-ws');
      state = tempDir('snap-own-state');
    });
    afterEach(() => {
      removeDir(ws);
      removeDir(state);
    });

    it('a blob file no committed snapshot names (left by an operation that died) is written again, never relied on', async () => {
      // Larger than INLINE_MAX_BYTES: stored as a blob file.
      const original = 'the original bytes\n'.repeat(1000);
      writeTree(ws, { 'a.txt': original });
      const store = await SnapshotStore.open(state);
      // What a crash while writing the blob could leave: the right name and length, the wrong bytes.
      const hash = createHash('sha256').update(original).digest('hex');
      const blob = join(state, 'snapshots', 'blobs', hash.slice(0, 2), hash);
      mkdirSync(join(blob, '..'), { recursive: true });
      writeFileSync(blob, `XXX${original.slice(3)}`);
      const snap = await store.apply(ws, [modify('a.txt', original, 'changed\n')], meta);
      assert.equal(readFileSync(blob, 'utf8'), original, 'the blob was written again');
      await store.rollback(snap.id);
      assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), original);
    });

    it('a hash a committed manifest keeps only inline does not make a blob file of that hash trusted', async () => {
      const same = Buffer.alloc(INLINE_MAX_BYTES, 's');
      writeTree(ws, { 'first.txt': same });
      const store = await SnapshotStore.open(state);
      await store.apply(ws, [modify('first.txt', same, 'changed\n')], meta); // its manifest keeps `same` inline
      // A blob file of that hash left by an operation that died: the right name and length, the wrong bytes.
      const hash = createHash('sha256').update(same).digest('hex');
      const blob = join(state, 'snapshots', 'blobs', hash.slice(0, 2), hash);
      mkdirSync(join(blob, '..'), { recursive: true });
      writeFileSync(blob, Buffer.alloc(INLINE_MAX_BYTES, 'X'));
      // Five files of that content: four fill the inline budget, the fifth needs the blob.
      const names = ['f1', 'f2', 'f3', 'f4', 'f5'].map((n) => `${n}.txt`);
      writeTree(ws, Object.fromEntries(names.map((n) => [n, same])));
      const before = pictureTree(ws);
      const snap = await store.apply(ws, names.map((n) => modify(n, same, 'x')), meta);
      assert.ok(snap.files.some((f) => f.before!.data === undefined), 'one of them is a blob');
      assert.deepEqual(readFileSync(blob), same, 'the blob was written again');
      await store.rollback(snap.id);
      assert.deepEqual(pictureTree(ws), before);
    });

    it('an ordinary user (not root) can apply, roll back and redo: blobs are read-only files', function () {
      const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
      if (isRoot) {
        // Tests run as root here; the store must work for the user an editor runs as.
        execFileSync('chown', ['-R', '65534:65534', ws, state]);
      }
      // sub/b.txt is larger than INLINE_MAX_BYTES, so its snapshot is a (read-only) blob file.
      writeTree(ws, { 'a.txt': 'a\n', 'sub/b.txt': 'b\n'.repeat(10_000) });
      if (isRoot) execFileSync('chown', ['-R', '65534:65534', ws]);
      const script = `
        const { SnapshotStore } = require(${JSON.stringify(require.resolve('../../src/core/snapshots/snapshotStore'))});
        (async () => {
          const store = await SnapshotStore.open(${JSON.stringify(state)});
          const meta = { runId: 'nobody', agent: 'nobody', actor: 'policy' };
          const snap = await store.apply(${JSON.stringify(ws)}, [
            { path: 'a.txt', kind: 'modify', before: Buffer.from('a\\n'), after: Buffer.from('A\\n'), level: 'auto' },
            { path: 'sub/b.txt', kind: 'delete', before: Buffer.from('b\\n'.repeat(10000)), after: null, level: 'auto' },
            { path: 'new/c.txt', kind: 'create', before: null, after: Buffer.from('c\\n'), level: 'auto' },
          ], meta);
          const back = await store.rollback(snap.id);
          const redo = await store.rollback(back.snapshot.id);
          process.stdout.write(JSON.stringify({ ok: true, redo: redo.snapshot.kind }));
        })().catch((e) => { process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message) })); });
      `;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', ...(isRoot ? { uid: 65534, gid: 65534 } : {}) });
      const out = JSON.parse(r.stdout || '{}') as { ok?: boolean; error?: string };
      assert.ok(out.ok, `as uid ${isRoot ? 65534 : process.getuid?.()}: ${out.error ?? r.stderr}`);
      assert.ok(readdirSync(join(state, 'snapshots', 'blobs')).some((d) => d !== 'tmp'), 'a blob file was written');
      assert.equal(existsSync(join(ws, 'sub', 'b.txt')), false, 'deleted again by the redo');
      assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'A\n', 'redone');
      assert.equal(readFileSync(join(ws, 'new', 'c.txt'), 'utf8'), 'c\n');
      if (isRoot) this.test!.title += ' [as uid 65534]';
    });
  });
});
