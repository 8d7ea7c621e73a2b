// Per-hunk approval: builds the content to apply when the reviewer accepted only some hunks of a change, by
// applying exactly those hunks (jsdiff `structuredPatch` hunks of before→after) onto `before`. Lines are taken
// from the original buffers, so line endings and a missing final newline survive byte for byte.
import { structuredPatch, type StructuredPatchHunk } from 'diff';
import type { ProposedChange } from '../staging/proposedChange';

export type HunkSelectionReason =
  /** One side is not UTF-8 text: only whole-file approval is possible. */
  | 'binary'
  /** A selected index is not a hunk of this change. */
  | 'unknown-hunk'
  /** The hunks given do not describe this change's before→after (wrong file, or overlapping or out of order). */
  | 'hunks-mismatch'
  /** The diff would take too long to compute exactly; approve the whole file instead. */
  | 'too-large';

export class HunkSelectionError extends Error {
  override readonly name = 'HunkSelectionError';

  constructor(
    readonly reason: HunkSelectionReason,
    message: string,
  ) {
    super(message);
  }

  static is(err: unknown, reason?: HunkSelectionReason): err is HunkSelectionError {
    return err instanceof HunkSelectionError && (reason === undefined || err.reason === reason);
  }
}

export interface HunkOptions {
  /** Context lines per hunk. Default 0: every separate change region is its own hunk, the finest choice a reviewer can make. */
  readonly context?: number;
  /** Milliseconds jsdiff may spend; beyond it the change is `too-large` for hunk selection. Default 2000. */
  readonly timeoutMs?: number;
}

/** The hunks of a change, in order; their indices are what `selectHunks` takes. */
export function listHunks(change: Pick<ProposedChange, 'path' | 'before' | 'after'>, options: HunkOptions = {}): StructuredPatchHunk[] {
  const [before, after] = texts(change);
  const patch = structuredPatch(change.path, change.path, before, after, undefined, undefined, {
    context: options.context ?? 0,
    timeout: options.timeoutMs ?? 2000,
  });
  if (!patch) throw new HunkSelectionError('too-large', `${change.path} has too many changes to split into hunks; approve or reject the whole file.`);
  return patch.hunks;
}

/**
 * The change restricted to the hunks in `selected`: null when none is selected (nothing to apply), the change
 * itself when all are, otherwise a `modify` (or `create`) whose `after` is `before` with just those hunks applied.
 * `hunks` defaults to `listHunks(change)`; pass the ones the reviewer saw when they came from elsewhere (any
 * context size works; they are checked against the change).
 */
export function selectHunks(
  change: ProposedChange,
  selected: Iterable<number>,
  options: HunkOptions & { readonly hunks?: readonly StructuredPatchHunk[] } = {},
): ProposedChange | null {
  const hunks = options.hunks ?? listHunks(change, options);
  const chosen = new Set<number>();
  for (const i of selected) {
    if (!Number.isInteger(i) || i < 0 || i >= hunks.length) {
      throw new HunkSelectionError('unknown-hunk', `${change.path} has ${hunks.length} hunk${hunks.length === 1 ? '' : 's'}; there is no hunk ${i}.`);
    }
    chosen.add(i);
  }
  if (chosen.size === 0) return null;
  if (chosen.size === hunks.length) return change;
  const content = applySelectedHunks(change, hunks, chosen);
  return { ...change, kind: change.before === null ? 'create' : 'modify', after: content };
}

/** Applies the chosen hunks onto `before`, taking each line (with its own line ending) from the original text. */
export function applySelectedHunks(change: Pick<ProposedChange, 'path' | 'before' | 'after'>, hunks: readonly StructuredPatchHunk[], chosen: ReadonlySet<number>): Buffer {
  const [beforeText, afterText] = texts(change);
  const oldLines = splitKeepingEol(beforeText);
  const newLines = splitKeepingEol(afterText);
  const mismatch = (why: string) => new HunkSelectionError('hunks-mismatch', `The hunks do not match ${change.path}: ${why}.`);
  const out: string[] = [];
  let pos = 0;
  hunks.forEach((h, index) => {
    // jsdiff numbers lines from 1 and, for a pure insertion, names the line the insertion goes before.
    const start = h.oldStart - 1;
    if (start < pos || start > oldLines.length) throw mismatch(`hunk ${index} starts at line ${h.oldStart}, out of order or past the end`);
    for (; pos < start; pos++) out.push(oldLines[pos]!);
    let oi = start;
    let ni = h.newStart - 1;
    const take = chosen.has(index);
    for (const line of h.lines) {
      const tag = line[0];
      const text = line.slice(1);
      if (tag === '\\') continue;
      if (tag === ' ' || tag === '-') {
        if (oi >= oldLines.length || stripEol(oldLines[oi]!) !== stripCr(text)) throw mismatch(`line ${oi + 1} of the old text differs from hunk ${index}`);
        if (tag === ' ' || !take) out.push(oldLines[oi]!);
        oi++;
        if (tag === ' ') ni++;
      } else if (tag === '+') {
        if (ni >= newLines.length || stripEol(newLines[ni]!) !== stripCr(text)) throw mismatch(`line ${ni + 1} of the new text differs from hunk ${index}`);
        if (take) out.push(newLines[ni]!);
        ni++;
      } else {
        throw mismatch(`hunk ${index} has a line that is not context, removal or addition`);
      }
    }
    if (oi - start !== h.oldLines) throw mismatch(`hunk ${index} covers ${oi - start} old lines, not ${h.oldLines}`);
    pos = oi;
  });
  for (; pos < oldLines.length; pos++) out.push(oldLines[pos]!);
  return Buffer.from(out.join(''), 'utf8');
}

function texts(change: Pick<ProposedChange, 'path' | 'before' | 'after'>): [string, string] {
  return [text(change.before, change.path), text(change.after, change.path)];
}

function text(data: Buffer | null, path: string): string {
  if (data === null) return '';
  const s = data.toString('utf8');
  // Binary content and invalid UTF-8 (which would not round-trip) can only be approved as a whole file.
  if (data.includes(0) || !Buffer.from(s, 'utf8').equals(data)) {
    throw new HunkSelectionError('binary', `${path} is not UTF-8 text; approve or reject the whole file.`);
  }
  return s;
}

function splitKeepingEol(s: string): string[] {
  return s === '' ? [] : s.split(/(?<=\n)/);
}

function stripEol(line: string): string {
  return stripCr(line.endsWith('\n') ? line.slice(0, -1) : line);
}

function stripCr(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
