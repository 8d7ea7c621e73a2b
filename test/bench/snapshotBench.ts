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

function generateWorkspace(ws: string): number {
  const t = performance.now();
  for (let i = 0; i < FILES; i++) {
    const rel = relOf(i);
    if (i % 50 === 0) mkdirSync(join(ws, rel, '..'), { recursive: true });
    writeFileSync(join(ws, rel), fileText(i));
  }
  return performance.now() - t;
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
  rmSync(ws, { recursive: true, force: true });
  return { ws, generatedMs: generateWorkspace(ws) };
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

/** Median latency of one small write + fsync in `dir`: the unit an apply's cost is made of (it needs three rounds). */
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

interface Comparison {
  readonly applyMs: number[];
  readonly rollbackMs: number[];
  readonly gitCheckpointMs: number[];
  readonly gitRestoreMs: number[];
  readonly firstCheckpointMs: number;
  readonly snapshotBytes: number;
  readonly gitObjectBytes: number;
}

/**
 * Runs 0..runs on `ws` (run 0 warms both sides up and is not counted): apply → shadow-git checkpoint of the
 * same workspace → rollback → git restore. Leaves `ws` exactly as it found it, and checks that it did.
 */
async function compare(ws: string, scratch: string, runs: number): Promise<Comparison> {
  const gitDir = join(scratch, 'shadow.git');
  const stateDir = join(scratch, 'state');
  mkdirSync(stateDir, { recursive: true });
  git(gitDir, ws, ['init', '-q']);
  const [baseTree, firstCheckpointMs] = timed(() => checkpoint(gitDir, ws));
  const store = await SnapshotStore.open(stateDir);
  const out: Comparison = { applyMs: [], rollbackMs: [], gitCheckpointMs: [], gitRestoreMs: [], firstCheckpointMs, snapshotBytes: 0, gitObjectBytes: 0 };
  let snapshotBytes = 0;
  for (let run = 0; run <= runs; run++) {
    const changes = changesFor(run);
    const storeBefore = duBytes(join(stateDir, 'snapshots'));
    const [snap, a] = await timedAsync(() => store.apply(ws, changes, { runId: `bench-${run}`, agent: 'bench', actor: 'policy' }));
    snapshotBytes = duBytes(join(stateDir, 'snapshots')) - storeBefore;
    // The shadow-git tool checkpoints the same workspace, with the same 10 files changed, index already warm.
    const [, c] = timed(() => checkpoint(gitDir, ws));
    const [, r] = await timedAsync(() => store.rollback(snap.id));
    // Its restore: from the index of the checkpoint just taken back to the one before the change (what a
    // shadow-git tool runs to undo a step; it rewrites the same ten paths our rollback restored).
    const [, g] = timed(() => git(gitDir, ws, ['read-tree', '--reset', '-u', baseTree]));
    if (run > 0) {
      out.applyMs.push(a);
      out.gitCheckpointMs.push(c);
      out.rollbackMs.push(r);
      out.gitRestoreMs.push(g);
    }
  }
  if (checkpoint(gitDir, ws) !== baseTree) throw new Error(`the workspace ${ws} does not match its first checkpoint after the rollbacks`);
  return { ...out, snapshotBytes, gitObjectBytes: duBytes(join(gitDir, 'objects')) };
}

const median = (xs: readonly number[]) => percentile([...xs].sort((x, y) => x - y), 50);
const list = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(', ');

/** A RAM disk for the second comparison, when this machine lets us mount one (root on Linux). */
function mountTmpfs(dir: string): boolean {
  return process.platform === 'linux' && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1g', 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

export async function snapshotBench(): Promise<BenchSection> {
  const { ws, generatedMs } = ensureWorkspace();
  const tmp = mkdtempSync(join(tmpdir(), 'airlock-snapbench-'));
  const notes: string[] = [];
  const rows: BenchRow[] = [];
  try {
    const fsyncBefore = fsyncProbe(tmp);
    const disk = await compare(ws, join(tmp, 'disk'), RUNS);
    markPristine(ws);
    const fsyncAfter = fsyncProbe(tmp);
    const ours = median(disk.applyMs);
    const gitCp = median(disk.gitCheckpointMs);
    rows.push(
      {
        label: 'apply + snapshot, 10-file change, 50,000-file workspace',
        ours: ms(ours, 1),
        baseline: ms(gitCp, 1),
        ratio: ratio(gitCp, ours),
        target: target(gitCp / ours >= 20, '≥ 20× faster than a shadow-git checkpoint'),
      },
      { label: 'rollback of that apply', ours: ms(median(disk.rollbackMs), 1), baseline: ms(median(disk.gitRestoreMs), 1), ratio: ratio(median(disk.gitRestoreMs), median(disk.rollbackMs)) },
      { label: 'first shadow-git checkpoint (empty index)', ours: '—', baseline: ms(disk.firstCheckpointMs, 0) },
      { label: 'storage per snapshot / for the shadow repo', ours: `${(disk.snapshotBytes / 1024).toFixed(1)} KiB`, baseline: `${(disk.gitObjectBytes / 1024 / 1024).toFixed(1)} MiB` },
      { label: 'one small write + fsync on this disk (before / after)', ours: `${fsyncBefore.toFixed(2)} / ${fsyncAfter.toFixed(2)} ms` },
    );
    notes.push(`medians of ${RUNS} runs after a warm-up; each run: apply (10 files: 6 modified, 2 created, 1 in a new folder, 2 deleted) → shadow-git checkpoint → rollback → git restore (read-tree --reset -u)`);
    notes.push(`disk, ours: apply ${list(disk.applyMs)} ms; rollback ${list(disk.rollbackMs)} ms. git checkpoint (add -A && write-tree, warm index): ${list(disk.gitCheckpointMs)} ms`);
    notes.push('git does not fsync loose objects by default; ours fsyncs every blob, file, folder, journal and manifest (three fsync rounds per apply), so on a disk busy with other writers our time follows the fsync latency');

    const ram = join(tmp, 'ram');
    mkdirSync(ram);
    if (mountTmpfs(ram)) {
      try {
        const ramWs = join(ram, 'ws');
        const genMs = generateWorkspace(ramWs);
        const r = await compare(ramWs, join(ram, 'scratch'), RUNS);
        const o = median(r.applyMs);
        const g = median(r.gitCheckpointMs);
        rows.push(
          { label: 'same on a RAM disk (tmpfs): apply + snapshot', ours: ms(o, 1), baseline: ms(g, 1), ratio: ratio(g, o), target: target(g / o >= 20, '≥ 20×') },
          { label: 'same on a RAM disk (tmpfs): rollback', ours: ms(median(r.rollbackMs), 1), baseline: ms(median(r.gitRestoreMs), 1), ratio: ratio(median(r.gitRestoreMs), median(r.rollbackMs)) },
        );
        notes.push(`tmpfs (fsync costs nothing there; isolates the work itself from disk contention; workspace generated in ${(genMs / 1000).toFixed(1)} s): ours apply ${list(r.applyMs)} ms; git checkpoint ${list(r.gitCheckpointMs)} ms`);
      } finally {
        spawnSync('umount', [ram], { stdio: 'ignore' });
      }
    } else {
      notes.push('the RAM-disk comparison was skipped: mounting a tmpfs needs root on Linux');
    }
    if (generatedMs !== undefined) notes.push(`generated the ${FILES.toLocaleString('en-US')}-file workspace in ${(generatedMs / 1000).toFixed(1)} s (cached in ${ws} for later runs)`);
    return { title: 'Snapshots (SnapshotStore vs shadow-git checkpoint, same workspace, same run)', baselineName: 'shadow git', rows, notes };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
