import * as assert from 'node:assert/strict';
import { applyPatch } from 'diff';
import { diffFiles, unifiedDiff } from '../../src/core/diff/unifiedDiff';

const lines = (n: number, f: (i: number) => string = (i) => `line ${i}`) => Array.from({ length: n }, (_, i) => f(i) + '\n').join('');

describe('unified diff', () => {
  it('shows a small edit with context, in git format', () => {
    const before = Buffer.from(lines(20));
    const after = Buffer.from(lines(20).replace('line 10\n', 'line ten\n'));
    const d = unifiedDiff('src/a.js', before, after);
    assert.match(d, /^--- a\/src\/a\.js\n\+\+\+ b\/src\/a\.js\n@@ -8,7 \+8,7 @@\n/);
    assert.match(d, /\n-line 10\n\+line ten\n/);
  });

  it('creates and deletes against /dev/null', () => {
    assert.match(unifiedDiff('n.txt', null, Buffer.from('hi\n')), /^--- \/dev\/null\n\+\+\+ b\/n\.txt\n@@ -0,0 \+1,1 @@\n\+hi\n/);
    assert.match(unifiedDiff('o.txt', Buffer.from('bye\n'), null), /^--- a\/o\.txt\n\+\+\+ \/dev\/null\n/);
  });

  it('says "binary" for binary content instead of printing it', () => {
    assert.match(unifiedDiff('x.bin', Buffer.from([0, 1, 2]), Buffer.from([0, 1, 3])), /Binary files differ/);
  });

  it('hunks from the trimmed diff re-apply to give exactly the new text (hunk positions are right)', () => {
    const before = lines(3000);
    const after = before.replace('line 5\n', 'LINE 5\n').replace('line 1500\n', '').replace('line 2990\n', 'line 2990\nextra\n');
    const patch = unifiedDiff('f', Buffer.from(before), Buffer.from(after)).replace('--- a/f\n+++ b/f\n', '--- a\n+++ b\n');
    assert.equal(applyPatch(before, patch), after);
  });

  it('stays bounded on a pathological pair (every line changed): a coarse diff that still re-applies', () => {
    const before = lines(20000, (i) => `a${i}`);
    const after = lines(20000, (i) => `b${i}`);
    const d = diffFiles(Buffer.from(before), Buffer.from(after), { timeoutMs: 200 });
    assert.equal(d.coarse, true);
    const patch = unifiedDiff('f', Buffer.from(before), Buffer.from(after), { timeoutMs: 200 }).replace('--- a/f\n+++ b/f\n', '--- a\n+++ b\n').replace(/ \(coarse[^)]*\)/, '');
    assert.equal(applyPatch(before, patch), after);
  });

  it('no diff for identical content', () => {
    assert.deepEqual(diffFiles(Buffer.from('x\n'), Buffer.from('x\n')).hunks, []);
  });
});

describe('unified diff: property', () => {
  it('for any pair of texts, the diff re-applies to give exactly the new text', async () => {
    const fc = await import('fast-check');
    const line = fc.constantFrom('a', 'b', 'c', 'd', '', 'e\r', 'x y');
    const text = fc.array(line, { maxLength: 40 }).chain((ls) => fc.boolean().map((nl) => ls.join('\n') + (nl && ls.length ? '\n' : '')));
    fc.assert(
      fc.property(text, text, (before, after) => {
        const patch = unifiedDiff('f', Buffer.from(before), Buffer.from(after)).replace('--- a/f\n+++ b/f\n', '--- a\n+++ b\n');
        const got = before === after ? before : applyPatch(before, patch);
        return got === after;
      }),
      { numRuns: 500 },
    );
  });
});
