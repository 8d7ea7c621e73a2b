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

  // The edit script over the whole file: an op per line and its index into a (kept, removed) or b (added).
  const script = new EditScript(a.length + b.length);
  for (let i = 0; i < head; i++) script.push(KEEP, i);
  let coarse = false;
  if (parts) {
    let ai = head;
    let bi = head;
    for (const p of parts) {
      const n = p.count ?? p.value.length;
      for (let k = 0; k < n; k++) {
        if (p.added) script.push(ADD, bi++);
        else if (p.removed) script.push(REMOVE, ai++);
        else {
          script.push(KEEP, ai++);
          bi++;
        }
      }
    }
  } else {
    coarse = true;
    for (let i = head; i < aEnd; i++) script.push(REMOVE, i);
    for (let i = head; i < bEnd; i++) script.push(ADD, i);
  }
  for (let i = aEnd; i < a.length; i++) script.push(KEEP, i);
  return { hunks: buildHunks(script, a, b, context), binary: false, coarse };
}

const KEEP = 0;
const REMOVE = 1;
const ADD = 2;
const OP_CHAR = [' ', '-', '+'] as const;

/** An edit script in two flat arrays (a file of 100,000 lines would otherwise be 100,000 small arrays). */
class EditScript {
  readonly ops: Uint8Array;
  readonly index: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.ops = new Uint8Array(capacity);
    this.index = new Int32Array(capacity);
  }

  push(op: number, index: number): void {
    this.ops[this.length] = op;
    this.index[this.length++] = index;
  }
}

/**
 * Lines present on one side only: a lower bound on the edit distance. Counted over 32-bit line hashes (a
 * collision can only lower the bound), sorted and merged: a Map of 100,000 lines cost more than the diff itself.
 */
function oneSided(a: readonly string[], b: readonly string[]): number {
  const ha = lineHashes(a).sort();
  const hb = lineHashes(b).sort();
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < ha.length && j < hb.length) {
    const x = ha[i]!;
    const y = hb[j]!;
    if (x === y) {
      common++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return ha.length + hb.length - 2 * common;
}

function lineHashes(lines: readonly string[]): Int32Array {
  const out = new Int32Array(lines.length);
  for (let i = 0; i < lines.length; i++) out[i] = lineHash(lines[i]!);
  return out;
}

/** FNV-1a over UTF-16 code units. */
function lineHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** Groups an edit script into hunks with `context` lines around changes, merging hunks that touch. */
function buildHunks(script: EditScript, a: readonly string[], b: readonly string[], context: number): StructuredPatchHunk[] {
  const { ops, index } = script;
  const hunks: StructuredPatchHunk[] = [];
  const changed: number[] = [];
  for (let i = 0; i < script.length; i++) if (ops[i] !== KEEP) changed.push(i);
  // Lines of each side before script position `at`, counted forward once for all hunks (they come in order).
  let at = 0;
  let oldBefore = 0;
  let newBefore = 0;
  let k = 0;
  while (k < changed.length) {
    const from = Math.max(0, changed[k]! - context);
    let last = changed[k]!;
    while (k + 1 < changed.length && changed[k + 1]! - last <= 2 * context + 1) last = changed[++k]!;
    k++;
    const to = Math.min(script.length - 1, last + context);
    for (; at < from; at++) {
      if (ops[at] !== ADD) oldBefore++;
      if (ops[at] !== REMOVE) newBefore++;
    }
    const lines: string[] = [];
    let oldLines = 0;
    let newLines = 0;
    for (let i = from; i <= to; i++) {
      const op = ops[i]!;
      const text = op === ADD ? b[index[i]!]! : a[index[i]!]!;
      lines.push(OP_CHAR[op as 0 | 1 | 2] + (text.endsWith('\n') ? text.slice(0, -1) : text));
      if (!text.endsWith('\n')) lines.push(NO_NEWLINE);
      if (op !== ADD) oldLines++;
      if (op !== REMOVE) newLines++;
    }
    hunks.push({ oldStart: oldBefore + 1, oldLines, newStart: newBefore + 1, newLines, lines });
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
