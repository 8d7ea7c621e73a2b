// Small helpers for benchmark figures.
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function ms(x: number, digits = 3): string {
  return `${x.toFixed(digits)} ms`;
}

export function perSec(x: number): string {
  return `${Math.round(x).toLocaleString('en-US')}/s`;
}

export function ratio(baseline: number, ours: number, better: 'lower' | 'higher' = 'lower'): string {
  const r = better === 'lower' ? baseline / ours : ours / baseline;
  return r >= 1 ? `${r.toFixed(1)}× better` : `${(1 / r).toFixed(1)}× worse`;
}

export function target(ok: boolean, text: string): string {
  return `${text} ${ok ? '✓' : '✗'}`;
}

/** Runs fn n times and returns sorted durations in ms. */
export function timeSync(n: number, fn: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}
