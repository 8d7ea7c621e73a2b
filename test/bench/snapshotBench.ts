// Snapshot timings: apply + snapshot of a 10-file change in a 50,000-file workspace, and its rollback, side by
// side with a shadow-git checkpoint of the same workspace (`git add -A && git write-tree` in a separate git dir)
// and a shadow-git restore (`git read-tree --reset -u`). The workspace is generated once and cached under the
// temp folder (it is left pristine: every apply is rolled back); the git dir and the state folder are removed.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProposedChange } from '../../src/core/staging/proposedChange';
import { SnapshotStore } from '../../src/core/snapshots/snapshotStore';
import type { BenchRow, BenchSection } from './benchTypes';
import { ms, percentile, ratio, target } from './benchStats';

const FILES = 50_000;
const RUNS = 9;
const CACHE_VERSION = 1;

function fileText(i: number): string {
  return `// generated file ${i}\nexport const value${i} = ${i};\n${'// padding to a typical small source file\n'.repeat(4 + (i % 8))}`;
}

function relOf(i: number): string {
  return `pkg${Math.floor(i / 1000)}/mod${Math.floor(i / 50) % 20}/file${i}.ts`;
}

/** The cached workspace: a `.complete` marker beside it says it is whole and unmodified. */
function ensureWorkspace(): { ws: string; generatedMs?: number } {
  const cache = join(tmpdir(), 'agent-airlock-bench-cache');
  const ws = join(cache, `ws-${FILES}-v${CACHE_VERSION}`);
  const marker = `${ws}.complete`;
  if (existsSync(marker) && existsSync(ws)) {
    rmSync(marker);
    return { ws };
  }
  const t = performance.now();
  rmSync(ws, { recursive: true, force: true });
  for (let i = 0; i < FILES; i++) {
    const rel = relOf(i);
    if (i % 50 === 0) mkdirSync(join(ws, rel, '..'), { recursive: true });
    writeFileSync(join(ws, rel), fileText(i));
  }
  return { ws, generatedMs: performance.now() - t };
}

function markPristine(ws: string): void {
  writeFileSync(`${ws}.complete`, new Date().toISOString());
}

/** Ten changes: six modified files, two created (one in a new folder), two deleted. Different bytes each run. */
function changesFor(run: number): ProposedChange[] {
  const pick = (k: number) => (k * 4_999 + run * 7) % FILES;
  const changes: ProposedChange[] = [];
  for (let k = 1; k <= 6; k++) {
    const i = pick(k);
    changes.push({ path: relOf(i), kind: 'modify', before: Buffer.from(fileText(i)), after: Buffer.from(`${fileText(i)}// edited in run ${run}\n`), level: 'auto' });
  }
  changes.push({ path: `pkg3/mod4/added-${run}.ts`, kind: 'create', before: null, after: Buffer.from(`export const added = ${run};\n`), level: 'auto' });
  changes.push({ path: `pkg7/new-folder-${run}/deeper/added.ts`, kind: 'create', before: null, after: Buffer.from(`export const nested = ${run};\n`), level: 'auto' });
  for (let k = 7; k <= 8; k++) {
    const i = pick(k);
    changes.push({ path: relOf(i), kind: 'delete', before: Buffer.from(fileText(i)), after: null, level: 'auto' });
  }
  return changes;
}

function git(gitDir: string, ws: string, args: string[]): string {
  const r = spawnSync('git', ['-c', 'core.autocrlf=false', '-c', 'gc.auto=0', `--git-dir=${gitDir}`, `--work-tree=${ws}`, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: gitDir, GIT_AUTHOR_NAME: 'bench', GIT_COMMITTER_NAME: 'bench' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

function checkpoint(gitDir: string, ws: string): string {
  git(gitDir, ws, ['add', '-A']);
  return git(gitDir, ws, ['write-tree']);
}

function timed<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** Median latency of one small write + fsync in `dir`: the unit an apply's cost is made of (it needs five rounds). */
function fsyncProbe(dir: string): number {
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const p = join(dir, `probe-${i}`);
    const t = performance.now();
    const fd = openSync(p, 'w');
    writeSync(fd, `probe ${i}`);
    fsyncSync(fd);
    closeSync(fd);
    times.push(performance.now() - t);
    rmSync(p);
  }
  return percentile(times.sort((a, b) => a - b), 50);
}

function duBytes(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(p)) n += duBytes(join(p, e));
  return n;
}

export async function snapshotBench(): Promise<BenchSection> {
  const { ws, generatedMs } = ensureWorkspace();
  const tmp = mkdtempSync(join(tmpdir(), 'airlock-snapbench-'));
  const gitDir = join(tmp, 'shadow.git');
  const stateDir = join(tmp, 'state');
  mkdirSync(stateDir);
  const notes: string[] = [];
  try {
    git(gitDir, ws, ['init', '-q']);
    const [baseTree, firstCheckpoint] = timed(() => checkpoint(gitDir, ws));
    const store = await SnapshotStore.open(stateDir);
    const fsyncBefore = fsyncProbe(tmp);

    const applyMs: number[] = [];
    const rollbackMs: number[] = [];
    const gitCheckpointMs: number[] = [];
    const gitRestoreMs: number[] = [];
    let snapshotBytes = 0;
    // Run 0 warms both sides up (JIT, file-system caches) and is not counted.
    for (let run = 0; run <= RUNS; run++) {
      const changes = changesFor(run);
      const blobsBefore = duBytes(join(stateDir, 'snapshots'));
      const [snap, a] = await timedAsync(() => store.apply(ws, changes, { runId: `bench-${run}`, agent: 'bench', actor: 'policy' }));
      if (run > 0) applyMs.push(a);
      snapshotBytes = duBytes(join(stateDir, 'snapshots')) - blobsBefore;
      // The shadow-git tool checkpoints the same workspace, with the same 10 files changed, index already warm.
      const [, c] = timed(() => checkpoint(gitDir, ws));
      if (run > 0) gitCheckpointMs.push(c);
      const [, r] = await timedAsync(() => store.rollback(snap.id));
      if (run > 0) rollbackMs.push(r);
      // Its restore: from the index of the checkpoint just taken back to the one before the change (what a
      // shadow-git tool runs to undo a step; it rewrites the same ten paths our rollback restored).
      const [, g] = timed(() => git(gitDir, ws, ['read-tree', '--reset', '-u', baseTree]));
      if (run > 0) gitRestoreMs.push(g);
    }
    // Every apply was rolled back: the cached workspace must match the first checkpoint exactly.
    const finalTree = checkpoint(gitDir, ws);
    if (finalTree !== baseTree) throw new Error('the bench workspace does not match its first checkpoint after the rollbacks');
    markPristine(ws);

    const fsyncAfter = fsyncProbe(tmp);
    const med = (xs: number[]) => percentile([...xs].sort((x, y) => x - y), 50);
    const ours = med(applyMs);
    const gitCp = med(gitCheckpointMs);
    const oursRb = med(rollbackMs);
    const gitRb = med(gitRestoreMs);
    const gitObjects = duBytes(join(gitDir, 'objects'));
    const rows: BenchRow[] = [
      {
        label: 'apply + snapshot, 10-file change, 50,000-file workspace',
        ours: ms(ours, 1),
        baseline: ms(gitCp, 1),
        ratio: ratio(gitCp, ours),
        target: target(gitCp / ours >= 20, '≥ 20× faster than a shadow-git checkpoint'),
      },
      { label: 'first shadow-git checkpoint (empty index)', ours: '—', baseline: ms(firstCheckpoint, 0) },
      { label: 'rollback of that apply', ours: ms(oursRb, 1), baseline: ms(gitRb, 1), ratio: ratio(gitRb, oursRb) },
      { label: 'one small write + fsync on this disk (before / after)', ours: `${fsyncBefore.toFixed(2)} / ${fsyncAfter.toFixed(2)} ms` },
      { label: 'storage per snapshot / for the shadow repo', ours: `${(snapshotBytes / 1024).toFixed(1)} KiB`, baseline: `${(gitObjects / 1024 / 1024).toFixed(1)} MiB` },
    ];
    notes.push(`medians of ${RUNS} runs after a warm-up; every run: apply (10 files: 6 modified, 2 created, 1 in a new folder, 2 deleted) → shadow-git checkpoint → rollback → git restore`);
    notes.push(`ours: apply ${applyMs.map((x) => x.toFixed(1)).join(', ')} ms; rollback ${rollbackMs.map((x) => x.toFixed(1)).join(', ')} ms (fsync on, journal + audit-ready)`);
    notes.push(`git checkpoint (add -A && write-tree, warm index) ${gitCheckpointMs.map((x) => x.toFixed(0)).join(', ')} ms; restore = read-tree --reset -u. Git does not fsync loose objects by default; ours fsyncs every blob, file, folder, journal and manifest (five fsync rounds per apply), so on a disk busy with other writers its time follows the fsync latency above`);
    if (generatedMs !== undefined) notes.push(`generated the ${FILES.toLocaleString('en-US')}-file workspace in ${(generatedMs / 1000).toFixed(1)} s (cached in ${ws} for later runs)`);
    return { title: 'Snapshots (SnapshotStore vs shadow-git checkpoint, same workspace, same run)', baselineName: 'shadow git', rows, notes };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
