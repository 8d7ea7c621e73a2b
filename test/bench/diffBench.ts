// Diff timings: our bounded unified diff against `git diff --no-index` as a whole process, on files of
// 1,000 / 10,000 / 100,000 lines with 20 small edits, and on a pathological pair where every line changed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unifiedDiff } from '../../src/core/diff/unifiedDiff';
import type { BenchRow, BenchSection } from './benchTypes';
import { ms, percentile, ratio, target, timeSync } from './benchStats';

function file(lines: number, edit: (i: number) => boolean, tag: string): string {
  let s = '';
  for (let i = 0; i < lines; i++) s += edit(i) ? `${tag} changed line ${i}\n` : `const value${i} = compute(${i}); // line ${i}\n`;
  return s;
}

export async function diffBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-diffbench-'));
  const rows: BenchRow[] = [];
  try {
    for (const n of [1_000, 10_000, 100_000]) {
      const step = Math.floor(n / 20);
      const a = file(n, () => false, '');
      const b = file(n, (i) => i % step === step / 2, 'edit');
      rows.push(measure(dir, `${n.toLocaleString('en-US')} lines, 20 edits`, a, b, n >= 100_000 ? 5 : 15));
    }
    const n = 20_000;
    const a = file(n, () => true, 'a');
    const b = file(n, () => true, 'b');
    rows.push(measure(dir, `${n.toLocaleString('en-US')} lines, every line changed`, a, b, 3));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { title: 'Diffs (unifiedDiff vs git diff --no-index, median)', baselineName: 'git diff --no-index', rows };
}

function measure(dir: string, label: string, a: string, b: string, runs: number): BenchRow {
  const fa = join(dir, 'a.txt');
  const fb = join(dir, 'b.txt');
  writeFileSync(fa, a);
  writeFileSync(fb, b);
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  const ours = percentile(timeSync(runs, () => unifiedDiff('f', ba, bb)), 50);
  const git = percentile(timeSync(runs, () => spawnSync('git', ['diff', '--no-index', '--no-color', fa, fb], { maxBuffer: 1 << 30 })), 50);
  return { label, ours: ms(ours, 1), baseline: ms(git, 1), ratio: ratio(git, ours), target: target(ours <= Math.max(git * 1.5, 50), '≈ git diff') };
}
