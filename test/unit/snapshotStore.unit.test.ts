// SnapshotStore: apply, rollback, redo, conflicts, path safety, audit, retention and the store lock.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProposedChange } from '../../src/core/staging/proposedChange';
import { SnapshotError } from '../../src/core/snapshots/snapshotError';
import { SnapshotStore } from '../../src/core/snapshots/snapshotStore';
import { INLINE_BUDGET_BYTES, INLINE_MAX_BYTES } from '../../src/core/snapshots/snapshotManifest';
import { MemoryAuditSink, pictureTree, removeDir, tempDir, writeTree } from '../fixtures/snapshotTree';

const meta = { runId: 'run-1', agent: 'refactor', actor: 'human:ada' };

function create(path: string, after: string | Buffer): ProposedChange {
  return { path, kind: 'create', before: null, after: Buffer.from(after), level: 'auto' };
}
function modify(path: string, before: string | Buffer, after: string | Buffer): ProposedChange {
  return { path, kind: 'modify', before: Buffer.from(before), after: Buffer.from(after), level: 'auto' };
}
function del(path: string, before: string | Buffer): ProposedChange {
  return { path, kind: 'delete', before: Buffer.from(before), after: null, level: 'auto' };
}

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

describe('SnapshotStore', () => {
  let ws: string;
  let state: string;
  const binary = Buffer.from([0, 1, 2, 255, 254, 0, 10, 13, 10, 0x80]);

  beforeEach(() => {
    ws = tempDir('snap-ws');
    state = tempDir('snap-state');
    writeTree(ws, {
      'src/a.ts': 'export const a = 1;\n',
      'src/run.sh': { data: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'secret.key': { data: 'k', mode: 0o600 },
      'img/logo.bin': binary,
      'empty.txt': '',
      'docs/naïve café/read me.md': 'ünïcödé\r\nline 2',
    });
  });
  afterEach(() => {
    removeDir(ws);
    removeDir(state);
  });

  it('applies text, binary, empty, Unicode and spaced files with new nested folders, and rolls back byte-exactly', async () => {
    const store = await SnapshotStore.open(state);
    const before = pictureTree(ws);
    const snap = await store.apply(
      ws,
      [
        modify('src/a.ts', 'export const a = 1;\n', 'export const a = 2;\n'),
        modify('src/run.sh', '#!/bin/sh\necho hi\n', '#!/bin/sh\necho bye\n'),
        del('secret.key', 'k'),
        modify('img/logo.bin', binary, Buffer.concat([binary, binary])),
        modify('empty.txt', '', 'now full'),
        modify('docs/naïve café/read me.md', 'ünïcödé\r\nline 2', ''),
        create('new/deeper/still/日本語 file.txt', '新しい'),
        create('new/deeper/empty', ''),
        create('top.bin', Buffer.alloc(0)),
      ],
      meta,
    );
    assert.equal(snap.kind, 'apply');
    assert.equal(snap.state, 'applied');
    assert.deepEqual(snap.createdDirs, ['new', 'new/deeper', 'new/deeper/still']);
    assert.equal(readFileSync(join(ws, 'src/a.ts'), 'utf8'), 'export const a = 2;\n');
    assert.equal(statSync(join(ws, 'src/run.sh')).mode & 0o777, 0o755, 'a modified file keeps its mode');
    assert.ok(!existsSync(join(ws, 'secret.key')));
    assert.deepEqual(readFileSync(join(ws, 'img/logo.bin')), Buffer.concat([binary, binary]));
    assert.equal(readFileSync(join(ws, 'docs/naïve café/read me.md')).length, 0);
    assert.equal(readFileSync(join(ws, 'new/deeper/still/日本語 file.txt'), 'utf8'), '新しい');
    assert.deepEqual(readdirSync(join(ws, 'src')).sort(), ['a.ts', 'run.sh'], 'no temp files left behind');

    const result = await store.rollback(snap.id, { actor: 'human:ada' });
    assert.deepEqual(pictureTree(ws), before, 'the tree, modes and folders are back exactly');
    assert.equal(result.target, snap.id);
    assert.equal(result.snapshot.kind, 'rollback');
    assert.equal(result.snapshot.rollsBack, snap.id);
    assert.deepEqual(result.snapshot.removedDirs, ['new', 'new/deeper', 'new/deeper/still']);
    assert.equal((await store.get(snap.id)).state, 'rolled-back');
    assert.equal((await store.get(snap.id)).rolledBackBy, result.snapshot.id);
  });

  it('restores the mode of a deleted file and the bytes of a file the apply emptied', async () => {
    const store = await SnapshotStore.open(state);
    const before = pictureTree(ws);
    const snap = await store.apply(ws, [del('secret.key', 'k'), del('src/run.sh', '#!/bin/sh\necho hi\n')], meta);
    await store.rollback(snap.id);
    assert.equal(statSync(join(ws, 'secret.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(ws, 'src/run.sh')).mode & 0o777, 0o755);
    assert.deepEqual(pictureTree(ws), before);
  });

  it('redo: rolling back the rollback re-applies the change exactly', async () => {
    const store = await SnapshotStore.open(state);
    const before = pictureTree(ws);
    const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'X'), create('n/f.txt', 'new')], meta);
    const applied = pictureTree(ws);
    const undo = await store.rollback(snap.id);
    assert.deepEqual(pictureTree(ws), before);
    const redo = await store.rollback(undo.snapshot.id);
    assert.deepEqual(pictureTree(ws), applied);
    const states = Object.fromEntries((await store.list()).map((s) => [s.id, s.state]));
    assert.deepEqual(states, { [snap.id]: 'applied', [undo.snapshot.id]: 'rolled-back', [redo.snapshot.id]: 'applied' });
    assert.equal((await store.last())?.id, snap.id, '--last is the newest apply in effect');
    await store.rollback(snap.id);
    assert.deepEqual(pictureTree(ws), before, 'after a redo the original apply can be rolled back again');
  });

  it('a rolled-back snapshot cannot be rolled back twice', async () => {
    const store = await SnapshotStore.open(state);
    const snap = await store.apply(ws, [create('x.txt', 'x')], meta);
    const r = await store.rollback(snap.id);
    const err = await rejects(store.rollback(snap.id), 'already-rolled-back');
    assert.match(err.message, new RegExp(r.snapshot.id));
  });

  describe('conflicts', () => {
    it('a human edit after the apply blocks the rollback of that file, names it, and changes nothing', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'agent\n'), create('b.txt', 'agent b')], meta);
      writeFileSync(join(ws, 'src/a.ts'), 'human edit\n');
      const edited = pictureTree(ws);
      const err = await rejects(store.rollback(snap.id), 'conflicts');
      assert.deepEqual(err.conflicts.map((c) => c.path), ['src/a.ts']);
      assert.match(err.message, /src\/a\.ts/);
      assert.deepEqual(pictureTree(ws), edited, 'nothing was rolled back, not even the file without conflict');
      const plan = await store.planRollback(snap.id);
      assert.deepEqual(plan.conflicts.map((c) => c.path), ['src/a.ts']);
      assert.equal((await store.readBlob(plan.files[0]!.target!)).toString(), 'export const a = 1;\n', 'the preview can show the bytes a rollback restores');
      assert.deepEqual(plan.files.map((f) => [f.path, f.change, f.conflict]), [['src/a.ts', 'modify', true], ['b.txt', 'delete', false]]);
    });

    it('force overrides, and the overwritten human edit comes back with a redo', async () => {
      const store = await SnapshotStore.open(state);
      const before = pictureTree(ws);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'agent\n')], meta);
      writeFileSync(join(ws, 'src/a.ts'), 'human edit\n');
      const edited = pictureTree(ws);
      const r = await store.rollback(snap.id, { force: true });
      assert.deepEqual(r.overridden.map((c) => c.path), ['src/a.ts']);
      assert.equal(r.snapshot.forced, true);
      assert.deepEqual(pictureTree(ws), before);
      await store.rollback(r.snapshot.id);
      assert.deepEqual(pictureTree(ws), edited, 'the human edit is not lost');
    });

    it('a file deleted by hand after the apply is a conflict too', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'agent\n')], meta);
      removeDir(join(ws, 'src/a.ts'));
      const err = await rejects(store.rollback(snap.id), 'conflicts');
      assert.deepEqual(err.conflicts, [{ path: 'src/a.ts', expected: err.conflicts[0]!.expected, actual: null }]);
    });

    it('a later apply to the same file makes the earlier one conflict', async () => {
      const store = await SnapshotStore.open(state);
      const s1 = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'v2\n')], meta);
      await store.apply(ws, [modify('src/a.ts', 'v2\n', 'v3\n')], meta);
      await rejects(store.rollback(s1.id), 'conflicts');
    });

    it('keeps a created folder that a human has put files in, and says so', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [create('gen/out.txt', 'o')], meta);
      writeFileSync(join(ws, 'gen/mine.txt'), 'mine');
      const r = await store.rollback(snap.id);
      assert.deepEqual(r.keptDirs, ['gen']);
      assert.deepEqual(readdirSync(join(ws, 'gen')), ['mine.txt']);
    });
  });

  describe('stale changes', () => {
    it('refuses to apply over a file edited since the run read it, and force snapshots the edit', async () => {
      const store = await SnapshotStore.open(state);
      writeFileSync(join(ws, 'src/a.ts'), 'edited meanwhile\n');
      const edited = pictureTree(ws);
      const err = await rejects(store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'agent\n'), create('c.txt', 'c')], meta), 'stale');
      assert.deepEqual(err.paths, ['src/a.ts']);
      assert.deepEqual(pictureTree(ws), edited);
      assert.equal((await store.list()).length, 0);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'agent\n')], meta, { force: true });
      assert.equal(snap.forced, true);
      await store.rollback(snap.id);
      assert.deepEqual(pictureTree(ws), edited);
    });

    it('refuses to create a file that exists now', async () => {
      const store = await SnapshotStore.open(state);
      await rejects(store.apply(ws, [create('src/a.ts', 'new')], meta), 'stale');
    });
  });

  describe('bad input', () => {
    const escapes: [string, SnapshotError['reason']][] = [
      ['../outside.txt', 'unsafe-path'],
      ['src/../../outside.txt', 'unsafe-path'],
      ['/etc/passwd', 'unsafe-path'],
      ['C:/x.txt', 'unsafe-path'],
      ['src\\..\\..\\x', 'unsafe-path'],
      ['.git/config', 'unsafe-path'],
      ['sub/.git/hooks/pre-commit', 'unsafe-path'],
      ['./a.txt', 'invalid-change'],
      ['a//b.txt', 'invalid-change'],
      ['', 'invalid-change'],
    ];
    for (const [path, reason] of escapes) {
      it(`refuses ${JSON.stringify(path)} (${reason}) and changes nothing`, async () => {
        const store = await SnapshotStore.open(state);
        const before = pictureTree(ws);
        await rejects(store.apply(ws, [create('ok.txt', 'fine'), create(path, 'x')], meta), reason);
        assert.deepEqual(pictureTree(ws), before);
      });
    }

    it('refuses a path through a symlinked folder that leads outside the workspace', async () => {
      const outside = tempDir('snap-outside');
      try {
        writeFileSync(join(outside, 'victim.txt'), 'untouched');
        symlinkSync(outside, join(ws, 'link'));
        const store = await SnapshotStore.open(state);
        const before = pictureTree(ws);
        await rejects(store.apply(ws, [create('link/new.txt', 'x')], meta), 'unsafe-path');
        await rejects(store.apply(ws, [modify('link/victim.txt', 'untouched', 'owned')], meta), 'unsafe-path');
        await rejects(store.apply(ws, [del('link/victim.txt', 'untouched')], meta), 'unsafe-path');
        assert.deepEqual(pictureTree(ws), before);
        assert.equal(readFileSync(join(outside, 'victim.txt'), 'utf8'), 'untouched');
        assert.deepEqual(readdirSync(outside), ['victim.txt']);
      } finally {
        removeDir(outside);
      }
    });

    it('allows a symlinked folder that stays inside the workspace', async () => {
      symlinkSync(join(ws, 'src'), join(ws, 'src-link'));
      const store = await SnapshotStore.open(state);
      const before = pictureTree(ws);
      const snap = await store.apply(ws, [create('src-link/via.txt', 'v')], meta);
      assert.equal(readFileSync(join(ws, 'src/via.txt'), 'utf8'), 'v');
      await store.rollback(snap.id);
      assert.deepEqual(pictureTree(ws), before);
    });

    it('refuses to write a file that is a symlink, or a folder', async () => {
      symlinkSync(join(ws, 'src/a.ts'), join(ws, 'alias.ts'));
      const store = await SnapshotStore.open(state);
      await rejects(store.apply(ws, [modify('alias.ts', 'export const a = 1;\n', 'x')], meta), 'unsupported-file');
      await rejects(store.apply(ws, [modify('src', 'x', 'y')], meta), 'unsupported-file');
    });

    it('never writes into the state folder when it lives inside the workspace (the CLI layout)', async () => {
      const inside = join(ws, '.airlock', 'state');
      mkdirSync(inside, { recursive: true });
      const store = await SnapshotStore.open(inside);
      await rejects(store.apply(ws, [create('.airlock/state/snapshots/manifests/evil.json', '{}')], meta), 'unsafe-path');
      await rejects(store.apply(ws, [create('.airlock/state/x', '{}')], meta), 'unsafe-path');
    });

    it('refuses malformed change lists', async () => {
      const store = await SnapshotStore.open(state);
      await rejects(store.apply(ws, [], meta), 'invalid-change');
      await rejects(store.apply(ws, [create('d.txt', 'a'), create('d.txt', 'b')], meta), 'invalid-change');
      await rejects(store.apply(ws, [create('f', 'a'), create('f/g', 'b')], meta), 'invalid-change');
      await rejects(store.apply(ws, [{ path: 'x', kind: 'delete', before: null, after: Buffer.from('y'), level: 'auto' }], meta), 'invalid-change');
      await rejects(store.apply(join(ws, 'nope'), [create('x', 'y')], meta), 'invalid-change');
    });

    it('a file standing where a folder is needed: refused, unless the same apply deletes it', async () => {
      const store = await SnapshotStore.open(state);
      const before = pictureTree(ws);
      await rejects(store.apply(ws, [create('empty.txt/inner.txt', 'x')], meta), 'not-a-directory');
      assert.deepEqual(pictureTree(ws), before);
      const snap = await store.apply(ws, [del('empty.txt', ''), create('empty.txt/inner.txt', 'x')], meta);
      assert.equal(readFileSync(join(ws, 'empty.txt/inner.txt'), 'utf8'), 'x');
      await store.rollback(snap.id);
      assert.deepEqual(pictureTree(ws), before);
    });

    it('an unknown snapshot id is a clear error; a unique prefix works', async () => {
      const store = await SnapshotStore.open(state);
      const err = await rejects(store.rollback('20991231-000000-dead'), 'unknown-snapshot');
      assert.match(err.message, /airlock snapshots/);
      await rejects(store.get('nope'), 'unknown-snapshot');
      const snap = await store.apply(ws, [create('p.txt', 'p')], meta);
      assert.equal((await store.resolve(snap.id.slice(0, 17))).id, snap.id);
      await rejects(store.resolve('abc'), 'unknown-snapshot');
    });

    it('a damaged blob (hash mismatch) stops the rollback before anything is restored', async () => {
      const store = await SnapshotStore.open(state);
      // Over INLINE_MAX_BYTES: kept as a blob file of its own.
      const key = 'k'.repeat(INLINE_MAX_BYTES + 1);
      writeTree(ws, { 'secret.key': key });
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'agent\n'), del('secret.key', key)], meta);
      assert.equal(snap.files[1]!.before!.data, undefined, 'a large file is not kept inline');
      const applied = pictureTree(ws);
      const blob = join(state, 'snapshots', 'blobs', snap.files[1]!.before!.hash.slice(0, 2), snap.files[1]!.before!.hash);
      chmodSync(blob, 0o644); // blobs are read-only files: whoever damages one has made it writable first
      writeFileSync(blob, 'K'.repeat(key.length)); // same size, different bytes
      const err = await rejects(store.rollback(snap.id), 'damaged-blob');
      assert.match(err.message, /secret\.key/);
      assert.deepEqual(pictureTree(ws), applied);
      removeDir(blob);
      await rejects(store.rollback(snap.id), 'damaged-blob');
      assert.deepEqual(pictureTree(ws), applied);
    });

    it('a small file is kept inline in the manifest, and a damaged inline copy stops the rollback before anything is restored', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'agent\n'), create('n.txt', 'n')], meta);
      assert.equal(Buffer.from(snap.files[0]!.before!.data!, 'base64').toString(), 'export const a = 1;\n');
      const manifestPath = join(state, 'snapshots', 'manifests', `${snap.id}.json`);
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      manifest.files[0].before.data = Buffer.from('export const a = 2;\n').toString('base64'); // same size, different bytes
      writeFileSync(manifestPath, JSON.stringify(manifest));
      const applied = pictureTree(ws);
      const err = await rejects((await SnapshotStore.open(state)).rollback(snap.id), 'damaged-blob');
      assert.match(err.message, /src\/a\.ts: .*kept in the snapshot's manifest is damaged/);
      assert.deepEqual(pictureTree(ws), applied);
    });

    it('finds an inline copy by its hash alone when another store (the CLI beside the editor) wrote the manifest since', async () => {
      const editor = await SnapshotStore.open(state);
      const cli = await SnapshotStore.open(state);
      const snap = await cli.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'changed\n')], meta);
      const { hash, size } = snap.files[0]!.before!;
      assert.equal((await editor.readBlob({ hash, size, mode: 0 })).toString(), 'export const a = 1;\n');
    });

    it('keeps small files inline up to the per-operation budget, the rest as blobs; all restore byte-exact', async () => {
      const store = await SnapshotStore.open(state);
      const sizes = [0, 1, INLINE_MAX_BYTES, INLINE_MAX_BYTES + 1];
      // Enough files at the limit to go past the budget.
      for (let i = 0; i * INLINE_MAX_BYTES <= INLINE_BUDGET_BYTES; i++) sizes.push(INLINE_MAX_BYTES - i);
      const tree: Record<string, Buffer> = {};
      sizes.forEach((n, i) => (tree[`f${i}.bin`] = Buffer.alloc(n, i + 1)));
      writeTree(ws, tree);
      const before = pictureTree(ws);
      const snap = await store.apply(ws, Object.entries(tree).map(([path, data]) => ({ path, kind: 'modify' as const, before: data, after: Buffer.from('x'), level: 'auto' as const })), meta);
      const inline = snap.files.filter((f) => f.before!.data !== undefined);
      const inlineBytes = inline.reduce((n, f) => n + f.before!.size, 0);
      assert.ok(inlineBytes <= INLINE_BUDGET_BYTES, `${inlineBytes} bytes inline`);
      assert.ok(inline.every((f) => f.before!.size <= INLINE_MAX_BYTES));
      assert.equal(snap.files.find((f) => f.path === 'f3.bin')!.before!.data, undefined, 'one byte over the limit is a blob');
      assert.ok(snap.files.some((f) => f.before!.size <= INLINE_MAX_BYTES && f.before!.data === undefined), 'past the budget, small files are blobs too');
      for (const f of snap.files.filter((g) => g.before!.data === undefined)) {
        assert.ok(existsSync(join(state, 'snapshots', 'blobs', f.before!.hash.slice(0, 2), f.before!.hash)), `${f.path} has its blob`);
      }
      assert.deepEqual(await store.readBlob({ hash: inline[1]!.before!.hash, size: inline[1]!.before!.size, mode: 0 }), tree[inline[1]!.path], 'found by hash alone (a document URI)');
      await store.rollback(snap.id);
      assert.deepEqual(pictureTree(ws), before);
    });

    it('a damaged manifest is reported for that id and skipped in the list', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [create('m.txt', 'm')], meta);
      writeFileSync(join(state, 'snapshots', 'manifests', `${snap.id}.json`), '{"version":1,');
      const fresh = await SnapshotStore.open(state);
      assert.deepEqual(await fresh.list(), []);
      await rejects(fresh.get(snap.id), 'damaged-manifest');
    });
  });

  describe('audit', () => {
    it('records apply and rollback (snapshot id, files, actor), each durable before the workspace changes', async () => {
      const audit = new MemoryAuditSink();
      const seen: string[] = [];
      audit.onAppend = (e) => seen.push(`${e.type}:${existsSync(join(ws, 'n.txt')) ? 'visible' : 'absent'}`);
      const store = await SnapshotStore.open(state, { audit });
      const snap = await store.apply(ws, [create('n.txt', 'n'), modify('src/a.ts', 'export const a = 1;\n', 'b')], meta);
      const r = await store.rollback(snap.id, { actor: 'human:bob' });
      assert.deepEqual(seen, ['apply:absent', 'rollback:visible'], 'each event is appended before its effect is visible');
      const [a, b] = audit.events;
      assert.equal(a!.type, 'apply');
      assert.equal(a!.actor, 'human:ada');
      assert.equal(a!.runId, 'run-1');
      assert.deepEqual(a!.args, { snapshot: snap.id, files: [{ path: 'n.txt', kind: 'create' }, { path: 'src/a.ts', kind: 'modify' }] });
      assert.equal(b!.type, 'rollback');
      assert.equal(b!.actor, 'human:bob');
      assert.deepEqual(b!.args, { snapshot: r.snapshot.id, target: snap.id, files: [{ path: 'n.txt', kind: 'delete' }, { path: 'src/a.ts', kind: 'modify' }] });
    });

    it('when the audit log refuses the event, nothing is applied', async () => {
      const audit = new MemoryAuditSink();
      const store = await SnapshotStore.open(state, { audit });
      const before = pictureTree(ws);
      audit.failWith = new Error('disk on fire');
      await rejects(store.apply(ws, [create('n.txt', 'n')], meta), 'audit-failed');
      assert.deepEqual(pictureTree(ws), before);
      assert.deepEqual(await store.list(), []);
      assert.deepEqual(readdirSync(join(state, 'snapshots', 'journal')), []);
    });
  });

  describe('retention', () => {
    it('keeps the last N, deletes the blobs only pruned snapshots used, keeps shared blobs', async () => {
      const store = await SnapshotStore.open(state, { keepLast: 2, keepDays: 0 });
      // Larger than INLINE_MAX_BYTES, so each is a blob file.
      const same = 'same bytes everywhere\n'.repeat(1000);
      const only = 'only in s1\n'.repeat(2000);
      writeTree(ws, { 'shared.txt': same, 'other.txt': same, 'only.txt': only });
      const s1 = await store.apply(ws, [modify('shared.txt', same, 'v1'), modify('only.txt', only, 'changed')], meta);
      const s2 = await store.apply(ws, [modify('other.txt', same, 'v2')], meta);
      const s3 = await store.apply(ws, [create('n.txt', 'n')], meta);
      const ids = (await store.list()).map((s) => s.id);
      assert.deepEqual(ids, [s3.id, s2.id]);
      const blobDir = join(state, 'snapshots', 'blobs');
      const blobs = readdirSync(blobDir).filter((d) => d !== 'tmp').flatMap((d) => readdirSync(join(blobDir, d)));
      assert.ok(blobs.includes(s2.files[0]!.before!.hash), 'the blob s2 shares with pruned s1 stays');
      assert.ok(!blobs.includes(s1.files[1]!.before!.hash), 'the blob only s1 used is gone');
      await store.rollback(s2.id);
      assert.equal(readFileSync(join(ws, 'other.txt'), 'utf8'), same);
    });

    it('keeps everything younger than D days even beyond N', async () => {
      let now = new Date('2026-11-01T00:00:00Z');
      const store = await SnapshotStore.open(state, { keepLast: 1, keepDays: 7, now: () => now });
      const old = await store.apply(ws, [create('1.txt', '1')], meta);
      now = new Date('2026-11-05T00:00:00Z');
      const mid = await store.apply(ws, [create('2.txt', '2')], meta);
      now = new Date('2026-11-10T00:00:00Z');
      const last = await store.apply(ws, [create('3.txt', '3')], meta);
      assert.deepEqual((await store.list()).map((s) => s.id), [last.id, mid.id], `${old.id} is older than 7 days and not among the last 1`);
    });

    it('refuses nonsense settings', async () => {
      await assert.rejects(SnapshotStore.open(state, { keepLast: 0 }), RangeError);
      await assert.rejects(SnapshotStore.open(state, { keepDays: -1 }), RangeError);
    });
  });

  describe('recovery (journals left by a process that died)', () => {
    /** Turns a finished operation back into an interrupted one: its manifest becomes a journal again. */
    function uncommit(id: string, recovery: 'undo' | 'complete') {
      const manifestPath = join(state, 'snapshots', 'manifests', `${id}.json`);
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      writeFileSync(join(state, 'snapshots', 'journal', `${id}.json`), JSON.stringify({ version: 1, recovery, pid: 999999, manifest }));
      removeDir(manifestPath);
    }

    it('undoes an apply that died after its writes but before its commit, and audits it', async () => {
      const store = await SnapshotStore.open(state);
      const before = pictureTree(ws);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'A'), create('n/new.txt', 'n'), del('secret.key', 'k')], meta);
      uncommit(snap.id, 'undo');
      writeFileSync(join(ws, `src/.airlock-${snap.id}-0.tmp`), 'half-written temp file');
      const audit = new MemoryAuditSink();
      const reopened = await SnapshotStore.open(state, { audit });
      assert.deepEqual(reopened.recovered, { undone: [snap.id], completed: [], leftAlone: [], failed: [] });
      assert.deepEqual(pictureTree(ws), before);
      assert.deepEqual(await reopened.list(), []);
      assert.equal(audit.events[0]!.type, 'alert');
      assert.match(audit.events[0]!.reason!, /undone on recovery/);
    });

    it('leaves a file alone that was edited after the crash, and reports it', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'A'), modify('empty.txt', '', 'E')], meta);
      uncommit(snap.id, 'undo');
      writeFileSync(join(ws, 'src/a.ts'), 'edited after the crash');
      const reopened = await SnapshotStore.open(state);
      assert.deepEqual(reopened.recovered.leftAlone, [{ snapshot: snap.id, path: 'src/a.ts' }]);
      assert.equal(readFileSync(join(ws, 'src/a.ts'), 'utf8'), 'edited after the crash');
      assert.equal(readFileSync(join(ws, 'empty.txt'), 'utf8'), '');
    });

    it('completes a rollback that died halfway, then records it', async () => {
      const store = await SnapshotStore.open(state);
      const before = pictureTree(ws);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'A'), create('n/new.txt', 'n')], meta);
      const r = await store.rollback(snap.id);
      uncommit(r.snapshot.id, 'complete');
      // Halfway: one file is still as the apply left it.
      writeFileSync(join(ws, 'src/a.ts'), 'A');
      const reopened = await SnapshotStore.open(state);
      assert.deepEqual(reopened.recovered.completed, [r.snapshot.id]);
      assert.deepEqual(pictureTree(ws), before);
      assert.equal((await reopened.get(snap.id)).state, 'rolled-back');
    });

    it('a journal beside its manifest is a committed operation; an unreadable journal is set aside', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [create('c.txt', 'c')], meta);
      const manifest = readFileSync(join(state, 'snapshots', 'manifests', `${snap.id}.json`), 'utf8');
      writeFileSync(join(state, 'snapshots', 'journal', `${snap.id}.json`), JSON.stringify({ version: 1, recovery: 'undo', pid: 1, manifest: JSON.parse(manifest) }));
      writeFileSync(join(state, 'snapshots', 'journal', '20260101-000000-0000.json'), '{"version":1,"recov');
      const reopened = await SnapshotStore.open(state);
      assert.deepEqual(reopened.recovered.completed, [snap.id]);
      assert.equal(reopened.recovered.failed.length, 1);
      assert.equal(readFileSync(join(ws, 'c.txt'), 'utf8'), 'c');
      assert.deepEqual(readdirSync(join(state, 'snapshots', 'journal')), ['20260101-000000-0000.json.damaged']);
    });

    it('an empty journal (created, then the process died before writing it) is removed without a word', async () => {
      await SnapshotStore.open(state);
      writeFileSync(join(state, 'snapshots', 'journal', '20260101-000000-0000.json'), '');
      const before = pictureTree(ws);
      const reopened = await SnapshotStore.open(state);
      assert.deepEqual(reopened.recovered, { undone: [], completed: [], leftAlone: [], failed: [] });
      assert.deepEqual(readdirSync(join(state, 'snapshots', 'journal')), []);
      assert.deepEqual(pictureTree(ws), before);
    });

    /** Puts the journal of a committed apply back beside its manifest, as a process that died at the commit point leaves it. */
    function journalBeside(id: string) {
      const manifest = readFileSync(join(state, 'snapshots', 'manifests', `${id}.json`), 'utf8');
      writeFileSync(join(state, 'snapshots', 'journal', `${id}.json`), JSON.stringify({ version: 1, recovery: 'undo', pid: 999999, manifest: JSON.parse(manifest) }));
      return manifest;
    }

    it('a manifest cut short beside its journal (the commit was being written) is removed, and the apply undone', async () => {
      const store = await SnapshotStore.open(state);
      const before = pictureTree(ws);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'A'), create('n/new.txt', 'n')], meta);
      const manifest = journalBeside(snap.id);
      writeFileSync(join(state, 'snapshots', 'manifests', `${snap.id}.json`), manifest.slice(0, manifest.length >> 1));
      const reopened = await SnapshotStore.open(state);
      assert.deepEqual(reopened.recovered, { undone: [snap.id], completed: [], leftAlone: [], failed: [] });
      assert.deepEqual(pictureTree(ws), before);
      assert.deepEqual(await reopened.list(), [], 'no damaged manifest left behind');
    });

    it('a whole manifest beside its journal does not commit an apply whose file is still as before (a rename lost to a power cut)', async () => {
      const store = await SnapshotStore.open(state);
      const snap = await store.apply(ws, [modify('src/a.ts', 'export const a = 1;\n', 'A'), modify('empty.txt', '', 'E')], meta);
      journalBeside(snap.id);
      // The rename of src/a.ts did not survive; empty.txt's did.
      writeFileSync(join(ws, 'src/a.ts'), 'export const a = 1;\n');
      const reopened = await SnapshotStore.open(state);
      assert.deepEqual(reopened.recovered.undone, [snap.id]);
      assert.equal(readFileSync(join(ws, 'src/a.ts'), 'utf8'), 'export const a = 1;\n');
      assert.equal(readFileSync(join(ws, 'empty.txt'), 'utf8'), '', 'the other file is put back too: all or nothing');
      assert.deepEqual(await reopened.list(), []);
    });
  });

  describe('lock', () => {
    it('serialises applies from two stores on the same state folder', async () => {
      const s1 = await SnapshotStore.open(state);
      const s2 = await SnapshotStore.open(state);
      const results = await Promise.all([
        s1.apply(ws, [create('one.txt', '1')], meta),
        s2.apply(ws, [create('two.txt', '2')], meta),
        s1.apply(ws, [create('three.txt', '3')], meta),
      ]);
      assert.equal(new Set(results.map((r) => r.seq)).size, 3);
      assert.equal((await s2.list()).length, 3);
    });

    it('takes over a lock left by a process that died', async () => {
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      const store = await SnapshotStore.open(state, { lockTimeoutMs: 500 });
      const boot = existsSync('/proc/sys/kernel/random/boot_id') ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : '';
      writeFileSync(join(state, 'snapshots', 'lock'), JSON.stringify({ pid: Number(dead.stdout), host: (await import('node:os')).hostname(), boot, token: 'old' }));
      await store.apply(ws, [create('after-crash.txt', 'x')], meta);
      assert.ok(!existsSync(join(state, 'snapshots', 'lock')));
    });

    it('a state folder made read-only while the lock is held: the operation keeps its result, the next one says why it cannot lock', () => {
      // The lock file that could not be removed names this live process; waiting for it would wait for ourselves.
      const dir = join(state, 'lockdir');
      mkdirSync(dir);
      chmodSync(state, 0o755);
      const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      if (asNobody.uid !== undefined) chownSync(dir, 65534, 65534);
      const script = `
        const fs = require('node:fs');
        const { withStoreLock } = require(${JSON.stringify(join(__dirname, '../../src/core/snapshots/storeLock'))});
        const dir = ${JSON.stringify(dir)};
        const lock = dir + '/lock';
        (async () => {
          const out = [await withStoreLock(lock, 3000, async () => (fs.chmodSync(dir, 0o555), 'first operation done'))];
          try { await withStoreLock(lock, 3000, async () => 'taken'); } catch (e) { out.push(e.reason + ': ' + e.message); }
          fs.chmodSync(dir, 0o755);
          out.push(await withStoreLock(lock, 3000, async () => 'taken after the folder is writable again'));
          out.push(fs.existsSync(lock) ? 'lock file left' : 'lock file removed');
          process.stdout.write(out.join('\\n'));
        })().catch((e) => { process.stdout.write('failed ' + e.stack); process.exit(1); });`;
      const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', ...asNobody });
      const out = run.stdout.split('\n');
      assert.equal(out[0], 'first operation done', run.stdout + run.stderr);
      assert.match(out[1]!, /^read-only: Could not remove the snapshot store's lock .*lock: the file system refused the write \(EACCES\)/, out[1]);
      assert.deepEqual(out.slice(2), ['taken after the folder is writable again', 'lock file removed']);
    });

    it('waits for a live holder and then says the store is busy', async () => {
      const store = await SnapshotStore.open(state, { lockTimeoutMs: 200 });
      writeFileSync(join(state, 'snapshots', 'lock'), JSON.stringify({ pid: process.ppid, host: (await import('node:os')).hostname(), boot: existsSync('/proc/sys/kernel/random/boot_id') ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : '', token: 'live' }));
      const before = pictureTree(ws);
      await rejects(store.apply(ws, [create('x.txt', 'x')], meta), 'locked');
      assert.deepEqual(pictureTree(ws), before);
      removeDir(join(state, 'snapshots', 'lock'));
    });
  });
});
