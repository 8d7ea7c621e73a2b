// Crash safety with real processes: a child applies and rolls back a 24-file change in a loop and is killed with
// SIGKILL at a random moment, 50 times. After recovery (open → recover) the workspace must be exactly the
// tree before the apply or exactly the tree after it, never a mix, and the store's records must agree.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SnapshotStore } from '../../src/core/snapshots/snapshotStore';
import { crashChanges, crashInitialTree } from '../fixtures/snapshotCrashPlan';
import { pictureTree, removeDir, tempDir, writeTree } from '../fixtures/snapshotTree';

const KILLS = 50;
const CHILD = join(__dirname, '..', 'fixtures', 'snapshotCrashChild.js');

/** xorshift32: the kill moments are random but reproducible from the printed seed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function runAndKill(ws: string, state: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ws, state], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (!killed && d.toString().includes('ready')) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the child exited by itself (code ${code}): ${stderr}`));
    });
  });
}

describe('SnapshotStore crash safety (SIGKILL, real processes)', function () {
  this.timeout(120_000);
  let ws: string;
  let state: string;

  before(() => {
    ws = tempDir('snap-crash-ws');
    state = tempDir('snap-crash-state');
  });
  after(() => {
    removeDir(ws);
    removeDir(state);
  });

  it(`after ${KILLS} random SIGKILLs during apply/rollback, each apply is all there or all absent`, async () => {
    writeTree(ws, crashInitialTree());
    const pre = pictureTree(ws);
    // The tree after the apply, produced once in-process.
    const setupState = tempDir('snap-crash-setup');
    let post: ReturnType<typeof pictureTree>;
    let cycleMs: number;
    try {
      const s = await SnapshotStore.open(setupState);
      const first = await s.apply(ws, crashChanges(), { runId: 'setup', agent: 'crash', actor: 'policy' });
      post = pictureTree(ws);
      await s.rollback(first.id);
      // Time a second, warm cycle: that is what the child spends most of its life in.
      const started = Date.now();
      const snap = await s.apply(ws, crashChanges(), { runId: 'setup', agent: 'crash', actor: 'policy' });
      await s.rollback(snap.id);
      cycleMs = Date.now() - started;
      assert.deepEqual(pictureTree(ws), pre);
    } finally {
      removeDir(setupState);
    }

    const seed = Number(process.env.AIRLOCK_CRASH_SEED ?? Date.now() % 2 ** 31);
    const random = prng(seed);
    let midOperation = 0;
    let foundPost = 0;
    for (let i = 0; i < KILLS; i++) {
      // Kill anywhere within about two apply+rollback cycles, as timed on this machine just now.
      const delay = Math.floor(random() * Math.max(20, cycleMs * 2));
      await runAndKill(ws, state, delay);
      const store = await SnapshotStore.open(state, { keepLast: 4, keepDays: 0 });
      const report = await store.recover(); // open already recovered; a second pass must find nothing left
      assert.deepEqual(report, { undone: [], completed: [], leftAlone: [], failed: [] }, `seed ${seed}, kill ${i}`);
      const now = pictureTree(ws);
      const inEffect = await store.last();
      if (JSON.stringify(now) === JSON.stringify(post)) {
        foundPost++;
        assert.ok(inEffect, `seed ${seed}, kill ${i}: the workspace shows the apply but no apply is recorded in effect`);
        await store.rollback(inEffect.id);
        assert.deepEqual(pictureTree(ws), pre, `seed ${seed}, kill ${i}: rollback after recovery`);
      } else {
        assert.deepEqual(now, pre, `seed ${seed}, kill ${i} (after ${delay} ms): the workspace is neither before nor after the apply`);
        assert.equal(inEffect, undefined, `seed ${seed}, kill ${i}: an apply is recorded in effect but the workspace does not show it`);
      }
      assert.deepEqual(readdirSync(join(state, 'snapshots', 'journal')), [], `seed ${seed}, kill ${i}: a journal is left (${readdirSync(join(state, 'snapshots', 'journal')).join(', ')})`);
      midOperation += store.recovered.undone.length + store.recovered.completed.length;
    }
    // The kills must actually land inside operations (a journal found on open), or this test proves nothing.
    assert.ok(midOperation >= KILLS / 5, `seed ${seed}: only ${midOperation} of ${KILLS} kills interrupted an apply or rollback`);
    console.log(`      seed ${seed}: ${midOperation} kills interrupted an operation (cycle ${cycleMs} ms), ${foundPost} recovered to the applied state`);
  });
});
