// `npm run bench`: runs every benchmark section and prints our figures beside the baseline measured in the
// same run, with ratios and targets. Figures, not assertions: these machines are shared and noisy.
import { auditBench } from './auditBench';
import type { BenchSection } from './benchTypes';
import { diffBench } from './diffBench';
import { runtimeBench } from './runtimeBench';
import { sandboxBench } from './sandboxBench';
import { snapshotBench } from './snapshotBench';
import { timelineBench } from './timelineBench';

type SectionFactory = () => Promise<BenchSection>;

const sections: Array<[string, SectionFactory]> = [
  ['runtime', runtimeBench],
  ['diff', diffBench],
  ['sandbox', sandboxBench],
  ['audit', auditBench],
  ['snapshots', snapshotBench],
  ['timeline', timelineBench],
];

function print(section: BenchSection): void {
  const rows = section.rows;
  const headers = ['', 'ours', section.baselineName ?? 'baseline', 'ratio', 'target'];
  const cells = rows.map((r) => [r.label, r.ours, r.baseline ?? '', r.ratio ?? '', r.target ?? '']);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(`\n## ${section.title}`);
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  for (const n of section.notes ?? []) console.log(`  note: ${n}`);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  console.log(`Agent Airlock benchmarks — Node ${process.versions.node}, ${new Date().toISOString()}`);
  for (const [name, run] of sections) {
    if (only.length > 0 && !only.includes(name)) continue;
    const started = Date.now();
    try {
      print(await run());
    } catch (e) {
      console.log(`\n## ${name}: FAILED — ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    }
    console.log(`  (${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

void main();
