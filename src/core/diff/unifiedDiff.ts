// Unified diffs for reports and review. Bounded on any input: common leading and trailing lines are trimmed
// before jsdiff runs, jsdiff gets a time and edit-length budget, and when it gives up the middle is shown as
// one replaced block (a coarser but correct diff) instead of hanging.
import { structuredPatch, type StructuredPatchHunk } from 'diff';

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

export function isBinary(data: Buffer | null): boolean {
  if (!data) return false;
  return data.subarray(0, BINARY_SNIFF).includes(0);
}

/** Splits into lines that keep their terminators, so joining them gives back the exact text. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/(?<=\n)/);
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

  // Keep `context` lines on each side of the changed middle so jsdiff can place its context correctly.
  const from = Math.max(0, head - context);
  const aMid = a.slice(from, a.length - Math.max(0, tail - context));
  const bMid = b.slice(from, b.length - Math.max(0, tail - context));
  const patch = structuredPatch('a', 'b', aMid.join(''), bMid.join(''), undefined, undefined, {
    context,
    timeout: options.timeoutMs ?? 1000,
    maxEditLength: 200_000,
  });
  if (patch) {
    const hunks = patch.hunks.map((h) => ({ ...h, oldStart: h.oldStart + from, newStart: h.newStart + from }));
    return { hunks, binary: false, coarse: false };
  }
  return { hunks: [coarseHunk(a, b, head, tail, context)], binary: false, coarse: true };
}

function coarseHunk(a: string[], b: string[], head: number, tail: number, context: number): StructuredPatchHunk {
  const start = Math.max(0, head - context);
  const aEnd = a.length - tail;
  const bEnd = b.length - tail;
  const after = Math.min(context, tail);
  const strip = (l: string) => l.replace(/\r?\n$/, '');
  const lines = [
    ...a.slice(start, head).map((l) => ' ' + strip(l)),
    ...a.slice(head, aEnd).map((l) => '-' + strip(l)),
    ...b.slice(head, bEnd).map((l) => '+' + strip(l)),
    ...a.slice(aEnd, aEnd + after).map((l) => ' ' + strip(l)),
  ];
  return {
    oldStart: start + 1,
    oldLines: aEnd + after - start,
    newStart: start + 1,
    newLines: bEnd + after - start,
    lines,
  };
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
