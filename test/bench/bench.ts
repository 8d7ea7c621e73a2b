// `npm run bench`: runs every benchmark section and prints our figures beside the baseline measured in the
// same run, with ratios and targets. Figures, not assertions: these machines are shared and noisy.
import type { BenchSection } from './benchTypes';

type SectionFactory = () => Promise<BenchSection>;

async function sections(): Promise<Array<[string, SectionFactory]>> {
  const list: Array<[string, SectionFactory]> = [];
  const add = async (name: string, load: () => Promise<SectionFactory>) => list.push([name, await load()]);
  await add('runtime', async () => (await import('./runtimeBench')).runtimeBench);
  await add('diff', async () => (await import('./diffBench')).diffBench);
  await add('sandbox', async () => (await import('./sandboxBench')).sandboxBench);
  await add('audit', async () => (await import('./auditBench')).auditBench);
  await add('snapshots', async () => (await import('./snapshotBench')).snapshotBench);
  return list;
}

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
  for (const [name, run] of await sections()) {
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
