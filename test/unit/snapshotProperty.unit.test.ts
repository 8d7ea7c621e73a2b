// Property tests: for random workspaces and random change sets (create, modify, delete, nested folders, binary,
// modes), apply then rollback gives back a byte-identical tree; and random interleavings of applies, undos,
// redos and rollbacks of older snapshots always leave exactly the tree a simple model predicts.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import type { ProposedChange } from '../../src/core/staging/proposedChange';
import { SnapshotError } from '../../src/core/snapshots/snapshotError';
import { INLINE_MAX_BYTES } from '../../src/core/snapshots/snapshotManifest';
import { SnapshotStore } from '../../src/core/snapshots/snapshotStore';
import { pictureTree, removeDir, tempDir, writeTree, type TreeFile } from '../fixtures/snapshotTree';

const meta = { runId: 'prop', agent: 'prop', actor: 'policy' };

// A small alphabet of names so paths collide, nest and replace each other often.
const name = fc.constantFrom('a', 'b', 'c d', 'é', '日本', 'x.txt', '.hidden', 'n 2');
const relPath = fc.array(name, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const content = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
  fc.string({ unit: 'binary', maxLength: 80 }).map((s) => Buffer.from(s, 'utf8')),
  fc.constant(Buffer.alloc(0)),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(`${s}\r\n${s}\n`)),
  // Around the size up to which a snapshot keeps a file inline in its manifest rather than as a blob.
  fc.tuple(fc.integer({ min: INLINE_MAX_BYTES - 2, max: INLINE_MAX_BYTES + 2 }), fc.integer({ min: 0, max: 255 })).map(([n, b]) => Buffer.alloc(n, b)),
);
const mode = fc.constantFrom(0o644, 0o755, 0o600, 0o640);

/** Files whose paths never have another file as a parent folder. */
const workspaceArb = fc.array(fc.record({ path: relPath, data: content, mode }), { maxLength: 12 }).map((entries) => {
  const files = new Map<string, TreeFile>();
  for (const e of entries) {
    if (conflicts(e.path, files.keys())) continue;
    files.set(e.path, { data: e.data, mode: e.mode });
  }
  return files;
});

/** Raw randomness that `changesFor` turns into a valid change set for whatever tree is there. */
const changeSeedArb = fc.record({
  actions: fc.array(fc.record({ op: fc.constantFrom('keep', 'modify', 'delete'), data: content }), { maxLength: 12 }),
  creates: fc.array(fc.record({ path: relPath, data: content }), { maxLength: 6 }),
});
type ChangeSeed = typeof changeSeedArb extends fc.Arbitrary<infer T> ? T : never;

function conflicts(p: string, existing: Iterable<string>): boolean {
  for (const q of existing) if (p === q || p.startsWith(q + '/') || q.startsWith(p + '/')) return true;
  return false;
}

function readFiles(ws: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const p of Object.keys(pictureTree(ws).files)) out.set(p, readFileSync(join(ws, ...p.split('/'))));
  return out;
}

/** A valid change set for the tree in `ws`: never two changes to one path, never a file where a folder must go. */
function changesFor(ws: string, seed: ChangeSeed): ProposedChange[] {
  const current = readFiles(ws);
  const paths = [...current.keys()];
  const changes: ProposedChange[] = [];
  const remaining = new Set(paths);
  seed.actions.forEach((a, i) => {
    const p = paths[i];
    if (p === undefined || a.op === 'keep') return;
    const before = current.get(p)!;
    if (a.op === 'delete') {
      changes.push({ path: p, kind: 'delete', before, after: null, level: 'auto' });
      remaining.delete(p);
    } else {
      changes.push({ path: p, kind: 'modify', before, after: a.data, level: 'auto' });
    }
  });
  const created = new Set<string>();
  for (const c of seed.creates) {
    // A create may replace a file that this same set deletes by putting a folder where it was.
    if (conflicts(c.path, remaining) || conflicts(c.path, created) || current.has(c.path)) continue;
    created.add(c.path);
    changes.push({ path: c.path, kind: 'create', before: null, after: c.data, level: 'auto' });
  }
  return changes;
}

function fileMapOf(ws: string): Record<string, string> {
  return pictureTree(ws).files;
}

describe('SnapshotStore properties', function () {
  this.timeout(120_000);

  it('apply then rollback gives a byte-identical tree (files, modes, folders)', async () => {
    await fc.assert(
      fc.asyncProperty(workspaceArb, changeSeedArb, async (files, seed) => {
        const ws = tempDir('snap-prop-ws');
        const state = tempDir('snap-prop-state');
        try {
          writeTree(ws, Object.fromEntries(files));
          const before = pictureTree(ws);
          const changes = changesFor(ws, seed);
          fc.pre(changes.length > 0);
          const store = await SnapshotStore.open(state);
          const snap = await store.apply(ws, changes, meta);
          for (const c of changes) {
            const now = readFiles(ws).get(c.path) ?? null;
            assert.deepEqual(now, c.after, `${c.path} after the apply`);
          }
          await store.rollback(snap.id);
          assert.deepEqual(pictureTree(ws), before);
        } finally {
          removeDir(ws);
          removeDir(state);
        }
      }),
      { numRuns: Number(process.env.AIRLOCK_PROP_RUNS ?? 50) },
    );
  });

  it('interleaved applies, undos, redos and rollbacks of older snapshots match the model', async () => {
    const op = fc.oneof(
      { weight: 3, arbitrary: changeSeedArb.map((seed) => ({ kind: 'apply' as const, seed })) },
      { weight: 2, arbitrary: fc.constant({ kind: 'undo' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'redo' as const }) },
      { weight: 1, arbitrary: fc.nat().map((n) => ({ kind: 'rollback-any' as const, n })) },
    );
    await fc.assert(
      fc.asyncProperty(workspaceArb, fc.array(op, { minLength: 1, maxLength: 10 }), async (files, ops) => {
        const ws = tempDir('snap-prop-ws');
        const state = tempDir('snap-prop-state');
        try {
          writeTree(ws, Object.fromEntries(files));
          const store = await SnapshotStore.open(state);
          // Editor-style history: undo pops the newest apply, redo rolls back the rollback that undid it.
          const undo: { id: string; tree: ReturnType<typeof pictureTree> }[] = [];
          const redo: { id: string; tree: ReturnType<typeof pictureTree> }[] = [];
          for (const o of ops) {
            const treeNow = pictureTree(ws);
            if (o.kind === 'apply') {
              const changes = changesFor(ws, o.seed);
              if (changes.length === 0) continue;
              const snap = await store.apply(ws, changes, meta);
              undo.push({ id: snap.id, tree: treeNow });
              redo.length = 0;
            } else if (o.kind === 'undo') {
              const top = undo.pop();
              if (!top) continue;
              const r = await store.rollback(top.id);
              assert.deepEqual(pictureTree(ws), top.tree, 'undo restores the tree before the apply');
              redo.push({ id: r.snapshot.id, tree: treeNow });
            } else if (o.kind === 'redo') {
              const top = redo.pop();
              if (!top) continue;
              const r = await store.rollback(top.id);
              assert.deepEqual(pictureTree(ws), top.tree, 'redo restores the tree before the undo');
              undo.push({ id: r.snapshot.id, tree: treeNow });
            } else {
              // Any snapshot still in effect: either it rolls back exactly its own files, or it refuses and
              // changes nothing.
              const candidates = (await store.list()).filter((s) => s.state === 'applied');
              if (candidates.length === 0) continue;
              const target = candidates[o.n % candidates.length]!;
              const filesNow = fileMapOf(ws);
              try {
                await store.rollback(target.id);
              } catch (err) {
                // Refusals: a file changed since (conflicts), or a file/folder now stands where a folder/file must go.
                assert.ok(SnapshotError.is(err) && ['conflicts', 'not-a-directory', 'unsupported-file'].includes(err.reason), String(err));
                assert.deepEqual(pictureTree(ws), treeNow, 'a refused rollback changes nothing');
                if (err.reason === 'conflicts') assert.ok(err.conflicts.length > 0);
                continue;
              }
              const filesAfter = fileMapOf(ws);
              const touched = new Set(target.files.map((f) => f.path));
              for (const f of target.files) {
                const got = filesAfter[f.path];
                assert.equal(got === undefined ? null : got.split(':')[0], f.before?.hash ?? null, `${f.path} is back to its bytes before ${target.id}`);
              }
              for (const [p, v] of Object.entries(filesNow)) if (!touched.has(p)) assert.equal(filesAfter[p], v, `${p} was not part of ${target.id} and is untouched`);
              for (const p of Object.keys(filesAfter)) assert.ok(touched.has(p) || p in filesNow, `${p} appeared from nowhere`);
              // The history model no longer holds once an arbitrary snapshot was rolled back.
              undo.length = 0;
              redo.length = 0;
            }
          }
        } finally {
          removeDir(ws);
          removeDir(state);
        }
      }),
      { numRuns: Number(process.env.AIRLOCK_PROP_RUNS ?? 30) },
    );
  });
});
