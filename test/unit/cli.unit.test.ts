// The `airlock` command as a user runs it: a real process, real exit codes, real output.
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunJsonReport } from '../../src/cli/runCommand';
import { hashTree } from '../helpers/hashTree';
import { makeWorkspace, repoRoot, writeAgent, writePolicy } from '../helpers/agentHarness';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function airlock(args: string[], as: { uid?: number; gid?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(repoRoot, 'bin', 'airlock.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], ...as });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The CLI keeps its state in the workspace's .airlock/state (agents can never reach it). */
const STATE = ['.airlock/state'];
const example = (name: string) => join(repoRoot, 'examples', 'agents', `${name}.agent.js`);

describe('airlock CLI', function () {
  this.timeout(60_000);

  it('--help explains the commands and exits 0; no command exits 2', async () => {
    const help = await airlock(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /airlock run <agent-file>/);
    assert.equal((await airlock([])).code, 2);
    const unknown = await airlock(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('run --json follows the report contract; the workspace is unchanged', async () => {
    const ws = makeWorkspace();
    const before = hashTree(ws, STATE);
    const r = await airlock(['run', example('refactor'), '--workspace', ws, '--json', '--state', join(ws, '..', `${Date.now()}-state`)]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RunJsonReport;
    assert.deepEqual(Object.keys(report).sort(), ['agent', 'calls', 'changes', 'reason', 'result', 'runId', 'snapshot', 'status']);
    assert.equal(report.status, 'completed');
    assert.equal(report.agent, 'refactor');
    assert.equal(report.snapshot, null);
    assert.deepEqual(report.calls, { total: 8, denied: 1 });
    const format = report.changes.find((c) => c.path === 'src/format.js')!;
    assert.deepEqual([format.kind, format.approved, format.applied], ['modify', true, false]);
    assert.match(format.diff, /^--- a\/src\/format\.js\n\+\+\+ b\/src\/format\.js\n@@ /);
    assert.equal(hashTree(ws, STATE), before);
  });

  it('human output: status, calls, a diff per change, and how to apply', async () => {
    const ws = makeWorkspace();
    const r = await airlock(['run', example('refactor'), '--workspace', ws]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /✔ refactor completed/);
    assert.match(r.stdout, /8 tool calls, 1 denied/);
    assert.match(r.stdout, /\nM src\/cart\.js {2}\(approved\)\n--- a\/src\/cart\.js/);
    assert.match(r.stdout, /--apply/);
    assert.match(r.stderr, /gate {2}fs\.delete .* → denied \(--approve none\)/);
  });

  it('exit 3 when a guardrail halts the run (hostile example, breaker)', async () => {
    const ws = makeWorkspace();
    const before = hashTree(ws, STATE);
    const r = await airlock(['run', example('hostile'), '--workspace', ws, '--json']);
    assert.equal(r.code, 3);
    assert.match((JSON.parse(r.stdout) as RunJsonReport).reason, /circuit breaker/);
    assert.equal(hashTree(ws, STATE), before);
  });

  it('--approve all approves gates (the refund over 500 goes through), never a deny', async () => {
    const ws = makeWorkspace();
    const none = JSON.parse((await airlock(['run', example('refunds'), '--workspace', ws, '--json'])).stdout) as RunJsonReport;
    assert.equal((none.result as { notRefunded: unknown[] }).notRefunded.length, 1);
    const all = JSON.parse((await airlock(['run', example('refunds'), '--workspace', ws, '--json', '--approve', 'all'])).stdout) as RunJsonReport;
    assert.equal((all.result as { refunded: unknown[] }).refunded.length, 3);
    writePolicy(ws, { version: 1, defaults: { approval: { 'fs.write': 'deny', '*': 'auto' } } });
    const agent = writeAgent(`export default async (ctx) => { try { await ctx.fs.write('x.txt', 'x'); return 'written'; } catch (e) { return e.message; } }`);
    const denied = JSON.parse((await airlock(['run', agent, '--workspace', ws, '--json', '--approve', 'all'])).stdout) as RunJsonReport;
    assert.match(String(denied.result), /the policy denies fs\.write/);
  });

  it('--apply applies only auto changes without --approve all, takes a snapshot, and rollback restores the bytes', async () => {
    const ws = makeWorkspace();
    writePolicy(ws, { version: 1, defaults: { scope: { write: ['src/**'] }, approval: { 'fs.write': 'auto', '*': 'auto' }, limits: {} }, agents: { refactor: { approval: { 'fs.write': 'auto', 'fs.delete': 'require', rules: [{ tool: 'fs.write', when: { path: { eq: 'src/invoice.js' } }, level: 'review' }] } } } });
    const before = hashTree(ws, STATE);
    const r = await airlock(['run', example('refactor'), '--workspace', ws, '--json', '--apply']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RunJsonReport;
    assert.match(report.snapshot ?? '', /.+/);
    assert.deepEqual(report.changes.map((c) => [c.path, c.approved, c.applied]), [
      ['src/cart.js', true, true],
      ['src/format.js', true, true],
      ['src/invoice.js', false, false],
    ]);
    assert.match(readFileSync(join(ws, 'src/format.js'), 'utf8'), /formatMoney/);
    assert.match(readFileSync(join(ws, 'src/invoice.js'), 'utf8'), /formatPrice/);
    const list = await airlock(['snapshots', '--workspace', ws]);
    assert.equal(list.code, 0);
    assert.ok(list.stdout.includes(report.snapshot!));
    const rb = await airlock(['rollback', '--last', '--workspace', ws]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(hashTree(ws, STATE), before);
  });

  it('works the same for an ordinary user: run --apply, snapshots, rollback, audit verify', async function () {
    // Tests run as root here, and root may do what a user may not (write a read-only file, say): the editor and
    // the CLI run as the user, so the whole apply-and-undo path is run once as one.
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const as = isRoot ? { uid: 65534, gid: 65534 } : {};
    const ws = makeWorkspace();
    if (isRoot) execFileSync('chown', ['-R', '65534:65534', ws]);
    const before = hashTree(ws, STATE);
    const r = await airlock(['run', example('refactor'), '--workspace', ws, '--json', '--apply', '--approve', 'all'], as);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RunJsonReport;
    assert.ok(report.changes.length > 0 && report.changes.every((c) => c.applied), JSON.stringify(report.changes));
    assert.notEqual(hashTree(ws, STATE), before);
    const list = await airlock(['snapshots', '--workspace', ws], as);
    assert.ok(list.stdout.includes(report.snapshot!), list.stderr);
    const rb = await airlock(['rollback', '--last', '--workspace', ws], as);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(hashTree(ws, STATE), before);
    const verify = await airlock(['audit', 'verify', '--workspace', ws], as);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    if (isRoot) this.test!.title += ' [as uid 65534]';
  });

  it('bad input: invalid policy → 2 naming the field; missing agent → 2; syntax error → 1 with line and column; import → 1 saying why', async () => {
    const ws = makeWorkspace({ 'a.txt': 'a' });
    writePolicy(ws, '{ "version": 1, "defaults": { "limits": { "maxCalls": "lots" } } }');
    const bad = await airlock(['run', example('refactor'), '--workspace', ws]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /defaults\.limits\.maxCalls/);

    const ws2 = makeWorkspace({ 'a.txt': 'a' });
    const missing = await airlock(['run', join(ws2, 'nope.agent.js'), '--workspace', ws2]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no agent file at/);

    const syntax = writeAgent('export default async (ctx) => {\n  const x = ;\n}\n');
    const s = await airlock(['run', syntax, '--workspace', ws2, '--json']);
    assert.equal(s.code, 1);
    assert.match((JSON.parse(s.stdout) as RunJsonReport).reason, /syntax error: .*line 2, column \d+/);

    const imp = writeAgent("import fs from 'node:fs';\nexport default async () => fs.readFileSync('/etc/passwd', 'utf8');\n");
    const i = await airlock(['run', imp, '--workspace', ws2, '--json']);
    assert.equal(i.code, 1);
    assert.match((JSON.parse(i.stdout) as RunJsonReport).reason, /import/i);
    assert.match((JSON.parse(i.stdout) as RunJsonReport).reason, /bundle/);

    const usage = await airlock(['run', syntax, '--approve', 'maybe']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--approve must be none, policy or all/);
  });

  it('the audit log of the runs verifies and exports', async () => {
    const ws = makeWorkspace();
    await airlock(['run', example('refactor'), '--workspace', ws]);
    const v = await airlock(['audit', 'verify', '--workspace', ws]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    const jsonl = await airlock(['audit', 'export', '--format', 'jsonl', '--workspace', ws]);
    const events = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    assert.equal(events[0]!.type, 'run.start');
    assert.equal(events[events.length - 1]!.type, 'run.end');
  });
});
