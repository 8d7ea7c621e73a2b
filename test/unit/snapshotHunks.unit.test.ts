// Per-hunk apply: building the content when a reviewer accepts only some hunks of a change.
import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { diffFiles } from '../../src/core/diff/unifiedDiff';
import type { ProposedChange } from '../../src/core/staging/proposedChange';
import { HunkSelectionError, listHunks, selectHunks } from '../../src/core/snapshots/hunkSelection';

function change(before: string | Buffer | null, after: string | Buffer | null): ProposedChange {
  const b = before === null ? null : Buffer.from(before);
  const a = after === null ? null : Buffer.from(after);
  return { path: 'f.txt', kind: b === null ? 'create' : a === null ? 'delete' : 'modify', before: b, after: a, level: 'review' };
}

function throwsReason(fn: () => unknown, reason: HunkSelectionError['reason']): void {
  assert.throws(fn, (err: unknown) => HunkSelectionError.is(err, reason));
}

const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('');

describe('hunk selection', () => {
  const before = lines(30, (i) => `line ${i}\n`);
  const after = before.replace('line 2\n', 'LINE 2\n').replace('line 15\n', 'line 15\ninserted\n').replace('line 28\n', '');

  it('lists one hunk per separate change and applies only the selected ones, exactly', () => {
    const c = change(before, after);
    assert.equal(listHunks(c).length, 3);
    assert.equal(selectHunks(c, [0, 2])!.after!.toString(), before.replace('line 2\n', 'LINE 2\n').replace('line 28\n', ''));
    assert.equal(selectHunks(c, [1])!.after!.toString(), before.replace('line 15\n', 'line 15\ninserted\n'));
    assert.equal(selectHunks(c, new Set([2]))!.kind, 'modify');
  });

  it('nothing selected is nothing to apply; everything selected is the change itself', () => {
    const c = change(before, after);
    assert.equal(selectHunks(c, []), null);
    assert.equal(selectHunks(c, [0, 1, 2]), c);
    const created = change(null, 'new\nfile\n');
    assert.equal(selectHunks(created, []), null);
    assert.equal(selectHunks(created, [0]), created);
  });

  it('the hunks the review shows (diffFiles, context 3) select the same way', () => {
    const c = change(before, after);
    const shown = diffFiles(c.before, c.after).hunks;
    assert.equal(shown.length, 3);
    assert.equal(selectHunks(c, [0, 1], { hunks: shown })!.after!.toString(), before.replace('line 2\n', 'LINE 2\n').replace('line 15\n', 'line 15\ninserted\n'));
    assert.equal(selectHunks(c, [0, 1, 2], { hunks: shown }), c);
  });

  it('a delete is one hunk: all of it or nothing', () => {
    const c: ProposedChange = { path: 'f.txt', kind: 'delete', before: Buffer.from('a\nb\nc\nd\n'), after: null, level: 'require' };
    // A delete is a single hunk; choosing it deletes the file, choosing nothing keeps it.
    assert.equal(listHunks(c).length, 1);
    assert.equal(selectHunks(c, [0]), c);
    assert.equal(selectHunks(c, []), null);
  });

  it('keeps CRLF line endings, lone CRs and a missing final newline byte for byte', () => {
    const c = change('x\r\ny\r\nmid\rdle\nz', 'X\r\ny\r\nmid\rdle\nZ\n');
    assert.equal(listHunks(c).length, 2);
    assert.equal(selectHunks(c, [1])!.after!.toString(), 'x\r\ny\r\nmid\rdle\nZ\n');
    assert.equal(selectHunks(c, [0])!.after!.toString(), 'X\r\ny\r\nmid\rdle\nz');
  });

  it('accepts the hunks the reviewer saw, at any context size, and refuses hunks of another change', () => {
    const c = change(before, after);
    const wide = listHunks(c, { context: 3 });
    assert.equal(wide.length, 3);
    assert.equal(selectHunks(c, [1], { hunks: wide })!.after!.toString(), before.replace('line 15\n', 'line 15\ninserted\n'));
    const merged = listHunks(c, { context: 20 });
    assert.equal(merged.length, 1);
    const other = listHunks(change(lines(30, (i) => `other ${i}\n`), lines(30, (i) => `other ${i + 1}\n`)));
    throwsReason(() => selectHunks(c, [0], { hunks: other }), 'hunks-mismatch');
  });

  it('refuses binary content, invalid UTF-8 and unknown hunk numbers', () => {
    throwsReason(() => listHunks(change(Buffer.from([0, 1, 2]), 'text')), 'binary');
    throwsReason(() => listHunks(change('text', Buffer.from([0xc3, 0x28]))), 'binary');
    throwsReason(() => selectHunks(change(before, after), [3]), 'unknown-hunk');
    throwsReason(() => selectHunks(change(before, after), [-1]), 'unknown-hunk');
    throwsReason(() => selectHunks(change(before, after), [0.5]), 'unknown-hunk');
  });

  it('property: any subset of hunks, at any context, gives before with exactly those line ranges replaced', () => {
    const line = fc.constantFrom('a', 'b', 'c', 'é', '', 'a\r', 'x y');
    const text = fc.tuple(fc.array(line, { maxLength: 25 }), fc.boolean()).map(([ls, finalNewline]) => {
      const s = ls.join('\n');
      return finalNewline && s !== '' ? s + '\n' : s;
    });
    fc.assert(
      fc.property(text, text, fc.constantFrom(0, 1, 3, 'shown' as const), fc.array(fc.boolean(), { maxLength: 30 }), (b, a, context, picks) => {
        const c = change(b, a);
        // 'shown': the hunks the review displays (diffFiles trims common ends before jsdiff runs).
        const hunks = context === 'shown' ? diffFiles(c.before, c.after).hunks : listHunks(c, { context });
        const chosen = hunks.map((_, i) => picks[i] ?? false);
        const selected = chosen.flatMap((on, i) => (on ? [i] : []));
        const result = selectHunks(c, selected, { hunks });
        // An independent oracle: splice whole line ranges, taking each line from its own original text.
        const split = (s: string) => (s === '' ? [] : s.split(/(?<=\n)/));
        const oldL = split(b);
        const newL = split(a);
        let expected = '';
        let pos = 0;
        hunks.forEach((h, i) => {
          expected += oldL.slice(pos, h.oldStart - 1).join('');
          expected += chosen[i] ? newL.slice(h.newStart - 1, h.newStart - 1 + h.newLines).join('') : oldL.slice(h.oldStart - 1, h.oldStart - 1 + h.oldLines).join('');
          pos = h.oldStart - 1 + h.oldLines;
        });
        expected += oldL.slice(pos).join('');
        if (selected.length === 0) assert.equal(result, null);
        else assert.equal(result!.after!.toString(), expected);
        if (hunks.length > 0 && selected.length === hunks.length) assert.equal(result!.after!.toString(), a);
        if (hunks.length > 0 && selected.length === 0) assert.equal(expected, b);
      }),
      { numRuns: 500 },
    );
  });
});
