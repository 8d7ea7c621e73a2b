// Unified diffs for reports and review. Bounded on any input: common leading and trailing lines are trimmed,
// the rest is diffed line by line with jsdiff's array diff under a time and edit-length budget,
// and when that gives up (or the change is obviously huge) the middle is shown as one replaced block — a
// coarser but correct diff — instead of hanging.
import { diffArrays, type StructuredPatchHunk } from 'diff';

export interface DiffOptions {
  /** Lines of context around each change. */
  readonly context?: number;
  /** Milliseconds jsdiff may spend before the coarse fallback is used. */
  readonly timeoutMs?: number;
}

export interface FileDiff {
  readonly hunks: StructuredPatchHunk[];
  readonly binary: boolean;
  /** True when the exact diff was too costly and the middle of the file is shown as one replaced block. */
  readonly coarse: boolean;
}

const BINARY_SNIFF = 8000;
/** Above this many lines present on one side only, an exact diff is slow (Myers is O(N·D)) and no easier to read. */
const MAX_EXACT_EDITS = 5000;
const NO_NEWLINE = '\\ No newline at end of file';

export function isBinary(data: Buffer | null): boolean {
  if (!data) return false;
  return data.subarray(0, BINARY_SNIFF).includes(0);
}

/** Splits into lines that keep their terminators, so joining them gives back the exact text. */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) break;
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

type Op = ' ' | '-' | '+';

export function diffFiles(before: Buffer | null, after: Buffer | null, options: DiffOptions = {}): FileDiff {
  if (isBinary(before) || isBinary(after)) return { hunks: [], binary: true, coarse: false };
  const context = options.context ?? 3;
  const a = splitLines(before?.toString('utf8') ?? '');
  const b = splitLines(after?.toString('utf8') ?? '');

  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  if (head === a.length && head === b.length) return { hunks: [], binary: false, coarse: false };

  const aEnd = a.length - tail;
  const bEnd = b.length - tail;
  const aMid = a.slice(head, aEnd);
  const bMid = b.slice(head, bEnd);
  const lowerBound = oneSided(aMid, bMid);
  const parts =
    lowerBound > MAX_EXACT_EDITS ? undefined : diffArrays(aMid, bMid, { timeout: options.timeoutMs ?? 500, maxEditLength: lowerBound * 2 + 2000 });

  // The edit script over the whole file, as (op, index into a or b).
  const ops: Array<[Op, number]> = [];
  for (let i = 0; i < head; i++) ops.push([' ', i]);
  let coarse = false;
  if (parts) {
    let ai = head;
    let bi = head;
    for (const p of parts) {
      const n = p.count ?? p.value.length;
      for (let k = 0; k < n; k++) {
        if (p.added) ops.push(['+', bi++]);
        else if (p.removed) ops.push(['-', ai++]);
        else {
          ops.push([' ', ai++]);
          bi++;
        }
      }
    }
  } else {
    coarse = true;
    for (let i = head; i < aEnd; i++) ops.push(['-', i]);
    for (let i = head; i < bEnd; i++) ops.push(['+', i]);
  }
  for (let i = aEnd; i < a.length; i++) ops.push([' ', i]);
  return { hunks: buildHunks(ops, a, b, context), binary: false, coarse };
}

/**
 * Lines present on one side only: a lower bound on the edit distance. Counted over 32-bit line hashes (a
 * collision can only lower the bound), because hashing strings in a Map costs more than the diff itself.
 */
function oneSided(a: readonly string[], b: readonly string[]): number {
  const count = new Map<number, number>();
  for (const l of a) {
    const h = lineHash(l);
    count.set(h, (count.get(h) ?? 0) + 1);
  }
  let onlyB = 0;
  for (const l of b) {
    const h = lineHash(l);
    const n = count.get(h);
    if (n) count.set(h, n - 1);
    else onlyB++;
  }
  let onlyA = 0;
  for (const n of count.values()) onlyA += n;
  return onlyA + onlyB;
}

/** FNV-1a over UTF-16 code units. */
function lineHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** Groups an edit script into hunks with `context` lines around changes, merging hunks that touch. */
function buildHunks(ops: ReadonlyArray<[Op, number]>, a: readonly string[], b: readonly string[], context: number): StructuredPatchHunk[] {
  const hunks: StructuredPatchHunk[] = [];
  const changed: number[] = [];
  ops.forEach(([op], i) => {
    if (op !== ' ') changed.push(i);
  });
  let k = 0;
  while (k < changed.length) {
    let from = Math.max(0, changed[k]! - context);
    let last = changed[k]!;
    while (k + 1 < changed.length && changed[k + 1]! - last <= 2 * context + 1) last = changed[++k]!;
    k++;
    const to = Math.min(ops.length - 1, last + context);
    // Where this hunk starts in each file: count the lines of each side before `from`.
    let oldStart = 0;
    let newStart = 0;
    for (let i = 0; i < from; i++) {
      const op = ops[i]![0];
      if (op !== '+') oldStart++;
      if (op !== '-') newStart++;
    }
    from = Math.max(from, 0);
    const lines: string[] = [];
    let oldLines = 0;
    let newLines = 0;
    for (let i = from; i <= to; i++) {
      const [op, idx] = ops[i]!;
      const text = op === '+' ? b[idx]! : a[idx]!;
      lines.push(op + (text.endsWith('\n') ? text.slice(0, -1) : text));
      if (!text.endsWith('\n')) lines.push(NO_NEWLINE);
      if (op !== '+') oldLines++;
      if (op !== '-') newLines++;
    }
    hunks.push({ oldStart: oldStart + 1, oldLines, newStart: newStart + 1, newLines, lines });
  }
  return hunks;
}

/** A git-style unified diff of one file (`--- a/path`, `+++ b/path`, hunks). */
export function unifiedDiff(path: string, before: Buffer | null, after: Buffer | null, options: DiffOptions = {}): string {
  const d = diffFiles(before, after, options);
  const oldName = before === null ? '/dev/null' : `a/${path}`;
  const newName = after === null ? '/dev/null' : `b/${path}`;
  if (d.binary) return `--- ${oldName}\n+++ ${newName}\nBinary files differ (${before?.length ?? 0} → ${after?.length ?? 0} bytes)\n`;
  const out = [`--- ${oldName}`, `+++ ${newName}`];
  for (const h of d.hunks) {
    // Unified-diff convention: an empty side is numbered by the line before it.
    const oldStart = h.oldLines === 0 ? h.oldStart - 1 : h.oldStart;
    const newStart = h.newLines === 0 ? h.newStart - 1 : h.newStart;
    out.push(`@@ -${oldStart},${h.oldLines} +${newStart},${h.newLines} @@${d.coarse ? ' (coarse: too many changes for an exact diff)' : ''}`);
    out.push(...h.lines);
  }
  return out.join('\n') + '\n';
}
