// Tool-name patterns: what matches, and which of several matching entries is the most specific.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { matchesTool, specificity } from '../../src/core/guard/toolPattern';

describe('toolPattern', () => {
  const cases: Array<[pattern: string, tool: string, expected: boolean]> = [
    ['fs.read', 'fs.read', true],
    ['fs.read', 'fs.readx', false],
    ['fs.read', 'FS.READ', false],
    ['fs.read', 'fsxread', false], // a dot is literal, not "any character"
    ['fs.*', 'fs.read', true],
    ['fs.*', 'fs.write', true],
    ['fs.*', 'fs', false],
    ['fs.*', 'fsx.read', false],
    ['fs.*', 'net.fetch', false],
    ['net.*', 'net.fetch', true],
    ['*', 'anything.at.all', true],
    ['*', '', true],
    ['*.process', 'refund.process', true],
    ['*.process', 'refund.processing', false],
    ['a*b*c', 'aXXbYYc', true],
    ['(x)+', '(x)+', true], // regex metacharacters are literals
    ['(x)+', 'xx', false],
  ];
  for (const [pattern, tool, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(tool)}`, () => {
      assert.equal(matchesTool(pattern, tool), expected);
    });
  }

  it('agrees with a regular-expression reference on random patterns and names', () => {
    const alphabet = fc.constantFrom('a', 'b', '.', '*');
    const text = (chars: fc.Arbitrary<string>) => fc.array(chars, { maxLength: 12 }).map((c) => c.join(''));
    fc.assert(
      fc.property(text(alphabet), text(fc.constantFrom('a', 'b', '.')), (pattern, tool) => {
        const reference = new RegExp(`^${pattern.split('*').map((x) => x.replace(/\./g, '\\.')).join('.*')}$`, 's');
        return matchesTool(pattern, tool) === reference.test(tool);
      }),
      { numRuns: 3000 },
    );
  });

  it('stays fast on a hostile tool name', () => {
    // Backtracking matchers take exponential time here: one would not return within the test's timeout.
    assert.equal(matchesTool('a*a*a*a*a*a*a*b', 'a'.repeat(20_000)), false);
  });

  it('ranks exact over fs.* over f* over *, and *.process over *', () => {
    const order = ['*', 'f*', 'fs.*', 'fs.read'].map(specificity);
    for (let i = 1; i < order.length; i++) assert.ok(order[i]! > order[i - 1]!, `rank ${i}`);
    assert.ok(specificity('*.process') > specificity('*'));
    assert.ok(specificity('net.fetch') > specificity('net.fetch.*'));
  });

  it('sorts a policy table so the first match is the most specific', () => {
    const table = ['*', 'fs.*', 'fs.read', 'f*'].sort((a, b) => specificity(b) - specificity(a));
    assert.deepEqual(table, ['fs.read', 'fs.*', 'f*', '*']);
    assert.equal(table.find((p) => matchesTool(p, 'fs.write')), 'fs.*');
  });
});
