import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApprovalPolicy } from '../../src/core/guard/approvalPolicy';
import { PolicyError, builtinDefaults, loadPolicy, parsePolicyText, resolveAgentPolicy } from '../../src/core/policy/policyLoader';
import { policyJsonSchema } from '../../src/core/policy/policyJsonSchema';

const FILE = '/ws/.airlock/policy.json';

function invalid(text: string): PolicyError {
  try {
    parsePolicyText(text, FILE);
  } catch (e) {
    assert.ok(PolicyError.is(e), `expected PolicyError, got ${e}`);
    return e;
  }
  assert.fail('the policy was accepted');
}

describe('policy file', () => {
  it('a missing file gives the built-in defaults: read anywhere, write only with approval, no network, no custom tools', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-policy-'));
    const loaded = loadPolicy(join(dir, 'nope.json'));
    assert.equal(loaded.file, undefined);
    const p = resolveAgentPolicy(loaded.policy, 'any');
    assert.deepEqual(p.scope.read, ['**']);
    assert.deepEqual(p.scope.net, []);
    assert.deepEqual(p.tools, {});
    const levels = new ApprovalPolicy(p.approval);
    assert.equal(levels.levelOf('fs.write', { path: 'a', content: '' }).level, 'require');
    assert.equal(levels.levelOf('fs.delete', { path: 'a' }).level, 'require');
    assert.equal(levels.levelOf('fs.read', { path: 'a' }).level, 'auto');
  });

  it('accepts comments and trailing commas (the starter policy is commented)', () => {
    const p = parsePolicyText('// top\n{ "version": 1, /* c */ "defaults": { "limits": { "maxCalls": 3, }, }, }', FILE);
    assert.equal(p.defaults?.limits?.maxCalls, 3);
  });

  it('a syntax error names line and column', () => {
    const e = invalid('{\n  "version": 1,\n  "defaults": { "limits": { "maxCalls": 3 }\n');
    assert.equal(e.reason, 'syntax');
    assert.match(e.message, /policy\.json:\d+:\d+: /);
  });

  it('an invalid field is named by its path', () => {
    const e = invalid('{ "version": 1, "agents": { "refactor": { "limits": { "maxCalls": "many" } } } }');
    assert.equal(e.reason, 'invalid');
    assert.deepEqual(e.fields, ['agents.refactor.limits.maxCalls']);
    assert.match(e.message, /agents\.refactor\.limits\.maxCalls/);
  });

  it('rejects unknown fields, bad levels, bad rates, bad versions and bad regexes, naming each', () => {
    assert.deepEqual(invalid('{ "version": 1, "defaults": { "scop": {} } }').fields, ['defaults']);
    assert.deepEqual(invalid('{ "version": 1, "defaults": { "approval": { "fs.write": "maybe" } } }').fields, ['defaults.approval.fs.write']);
    assert.deepEqual(invalid('{ "version": 1, "defaults": { "limits": { "rate": { "*": "10 per minute" } } } }').fields, ['defaults.limits.rate.*']);
    assert.deepEqual(invalid('{ "version": 2 }').fields, ['version']);
    const re = invalid('{ "version": 1, "defaults": { "approval": { "rules": [ { "tool": "x", "when": { "a": { "matches": "(" } }, "level": "deny" } ] } } }');
    assert.deepEqual(re.fields, ['defaults.approval.rules[0].when.a.matches']);
  });

  it('rejects a custom tool with a broken JSON Schema or a built-in name', () => {
    assert.deepEqual(invalid('{ "version": 1, "tools": { "x.y": { "input": { "type": "nonsense" } } } }').fields, ['tools.x.y.input']);
    assert.deepEqual(invalid('{ "version": 1, "tools": { "fs.read": {} } }').fields, ['tools.fs.read']);
  });

  it('merges an agent over the file defaults over the built-in defaults (objects merge, arrays replace)', () => {
    const file = parsePolicyText(
      JSON.stringify({
        version: 1,
        defaults: { scope: { write: ['src/**'] }, limits: { maxCalls: 10, rate: { '*': '5/sec' } } },
        agents: { refactor: { scope: { deny: ['secret/**'] }, limits: { maxCalls: 20 } } },
      }),
      FILE,
    );
    const r = resolveAgentPolicy(file, 'refactor');
    assert.deepEqual(r.scope.write, ['src/**']);
    assert.deepEqual(r.scope.deny, ['secret/**']);
    assert.deepEqual(r.scope.read, builtinDefaults.scope.read);
    assert.equal(r.limits.maxCalls, 20);
    assert.deepEqual(r.limits.rate, { '*': '5/sec' });
    assert.equal(r.limits.memoryMb, builtinDefaults.limits.memoryMb);
    const other = resolveAgentPolicy(file, 'other');
    assert.equal(other.limits.maxCalls, 10);
    assert.deepEqual(other.scope.deny, builtinDefaults.scope.deny);
  });

  it('loads a real file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-policy-'));
    writeFileSync(join(dir, 'p.json'), '{ "version": 1 }');
    assert.equal(loadPolicy(join(dir, 'p.json')).file, join(dir, 'p.json'));
  });

  it('generates a JSON Schema from the same zod schema', () => {
    const s = policyJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    assert.ok(s.properties.agents && s.properties.tools && s.properties.defaults);
    assert.deepEqual(s.required, ['version']);
  });
});

describe('approval levels', () => {
  const policy = (levels: Record<string, string>, rules: unknown[] = []) =>
    new ApprovalPolicy({ levels: levels as never, rules: rules as never });

  it('a rule beats a tool entry, which beats a pattern, which beats *', () => {
    const p = policy({ '*': 'auto', 'fs.*': 'review', 'fs.delete': 'require' }, [{ tool: 'fs.delete', when: { path: { matches: '^tmp/' } }, level: 'auto' }]);
    assert.deepEqual(p.levelOf('fs.delete', { path: 'tmp/x' }), { level: 'auto', rule: 'approval.rules[0]' });
    assert.deepEqual(p.levelOf('fs.delete', { path: 'src/x' }), { level: 'require', rule: 'approval.fs.delete' });
    assert.deepEqual(p.levelOf('fs.write', { path: 'src/x' }), { level: 'review', rule: 'approval.fs.*' });
    assert.deepEqual(p.levelOf('net.fetch', {}), { level: 'auto', rule: 'approval.*' });
  });

  it('the refund threshold: amount > 500 requires a human, 500 and below do not', () => {
    const p = policy({ 'refund.process': 'auto' }, [{ tool: 'refund.process', when: { amount: { gt: 500 } }, level: 'require' }]);
    assert.equal(p.levelOf('refund.process', { orderId: 'A', amount: 500.01 }).level, 'require');
    assert.equal(p.levelOf('refund.process', { orderId: 'A', amount: 500 }).level, 'auto');
    // A string "900" is not a number above 500: the rule does not fire, and the tool's schema rejects it earlier.
    assert.equal(p.levelOf('refund.process', { orderId: 'A', amount: '900' }).level, 'auto');
  });

  it('evaluates every operator, on nested fields, and never on inherited properties', () => {
    const rule = (when: unknown) => policy({ '*': 'auto' }, [{ tool: 't', when, level: 'deny' }]);
    const deny = (when: unknown, args: unknown) => rule(when).levelOf('t', args).level === 'deny';
    assert.ok(deny({ n: { gte: 2, lte: 2 } }, { n: 2 }));
    assert.ok(!deny({ n: { lt: 2 } }, { n: 2 }));
    assert.ok(deny({ s: { eq: 'x' } }, { s: 'x' }));
    assert.ok(deny({ s: { ne: 'x' } }, { s: 'y' }));
    assert.ok(deny({ s: { in: ['a', 'b'] } }, { s: 'b' }));
    assert.ok(!deny({ s: { in: ['a', 'b'] } }, { s: 'c' }));
    assert.ok(deny({ 'a.b': { eq: 1 } }, { a: { b: 1 } }));
    assert.ok(!deny({ toString: { matches: 'function' } }, {}));
    assert.ok(!deny({ n: { gt: 1 } }, {}));
  });
});
