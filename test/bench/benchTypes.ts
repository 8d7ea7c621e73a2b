// What each benchmark module returns; test/bench/bench.ts prints the sections side by side.
export interface BenchRow {
  readonly label: string;
  /** Our figure, already formatted with its unit ("0.21 ms", "4,800 calls/s"). */
  readonly ours: string;
  /** The baseline measured in the same run, formatted, when there is one. */
  readonly baseline?: string;
  /** "12.4× faster", "0.8×" … */
  readonly ratio?: string;
  /** The target and whether it was met ("≤ 0.3 ms ✓"). */
  readonly target?: string;
}

export interface BenchSection {
  readonly title: string;
  readonly baselineName?: string;
  readonly rows: readonly BenchRow[];
  readonly notes?: readonly string[];
}
