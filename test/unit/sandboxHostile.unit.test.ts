// Escape and exhaustion attempts (test/fixtures/hostile), each run in a real isolate in the real sandbox process.
// Each must end with the outcome in the manifest, and the sandbox process must stay healthy: same process, and a
// normal run right after succeeds.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunOutcome, RunStartParams } from '../../src/protocol/sandboxProtocol';
import { SandboxHost } from '../../src/core/runtime/sandboxHost';
import { hostileDir, normalAgent, RecordingResponder, runParams, sandboxDir } from '../helpers/sandboxResponder';

interface ExpectedCall {
  tool: string;
  args: unknown;
  reason?: string;
}

interface HostileCase {
  file: string;
  attempt: string;
  params?: Partial<RunStartParams>;
  expect: {
    status: RunOutcome['status'];
    kind?: string;
    message?: string;
    line?: number;
    column?: number;
    result?: unknown;
    calls?: ExpectedCall[];
    callCount?: number;
    logs?: { level: string; source: string; message: string }[];
    logCount?: number;
    logLinesDropped?: number;
  };
}

interface Manifest {
  defaults: Partial<RunStartParams>;
  cases: HostileCase[];
}

const manifest = JSON.parse(readFileSync(path.join(hostileDir, 'manifest.json'), 'utf8')) as Manifest;

describe('sandbox: hostile agents', function () {
  this.timeout(20_000);
  let host: SandboxHost;
  let pid: number | undefined;

  before(async () => {
    host = new SandboxHost({ sandboxDir });
    await host.ping();
    pid = host.pid;
  });
  after(() => host.dispose());

  it('the manifest covers every hostile fixture, and there are at least 20', () => {
    const files = readdirSync(hostileDir).filter((f) => f.endsWith('.agent.js')).sort();
    assert.deepEqual(manifest.cases.map((c) => c.file).sort(), files);
    assert.ok(files.length >= 20);
  });

  for (const c of manifest.cases) {
    it(`${c.file}: ${c.attempt}`, async () => {
      const responder = new RecordingResponder();
      const source = readFileSync(path.join(hostileDir, c.file), 'utf8');
      const outcome = await host.runAgent(runParams(source, { filename: c.file, ...manifest.defaults, ...c.params }), responder);
      const e = c.expect;

      assert.equal(outcome.status, e.status, `outcome: ${JSON.stringify(outcome)}`);
      if (outcome.status === 'failed') {
        assert.equal(outcome.kind, e.kind, `outcome: ${JSON.stringify(outcome)}`);
        if (e.line !== undefined) assert.equal(outcome.line, e.line);
        if (e.column !== undefined) assert.equal(outcome.column, e.column);
      }
      if (e.message !== undefined) {
        assert.ok(outcome.status === 'failed' || e.result !== undefined, 'a message is only expected of failed runs');
        if (outcome.status === 'failed') assert.match(outcome.message, new RegExp(e.message));
      }
      if (e.result !== undefined) {
        assert.ok(outcome.status === 'completed' && outcome.resultJson !== undefined, `outcome: ${JSON.stringify(outcome)}`);
        assert.deepEqual(JSON.parse(outcome.resultJson), e.result);
      }
      if (e.calls !== undefined) {
        const seen = responder.calls.map((call) => (call.reason === undefined ? { tool: call.tool, args: call.args } : { tool: call.tool, args: call.args, reason: call.reason }));
        assert.deepEqual(seen, e.calls);
      }
      if (e.callCount !== undefined) assert.equal(responder.calls.length, e.callCount);
      if (e.logs !== undefined) assert.deepEqual(responder.logs.map(({ level, source, message }) => ({ level, source, message })), e.logs);
      if (e.logCount !== undefined) assert.equal(responder.logs.length, e.logCount);
      if (e.logLinesDropped !== undefined) assert.equal(outcome.logLinesDropped, e.logLinesDropped);
      // Every call the host saw belongs to this run and came in order.
      assert.deepEqual(
        responder.calls.map((call) => call.callId),
        responder.calls.map((_, i) => i),
      );

      // The sandbox process is unaffected: the same process runs a normal agent right after.
      assert.equal(host.pid, pid, 'the sandbox process was replaced');
      const follow = new RecordingResponder();
      const next = await host.runAgent(runParams(normalAgent), follow);
      assert.deepEqual(next, { status: 'completed', resultJson: JSON.stringify({ ok: true, text: 'contents of notes.txt' }) });
      assert.equal(host.pid, pid);
    });
  }

  it('a hostile run next to normal runs does not disturb them', async () => {
    const loop = host.runAgent(runParams('export default async () => { for (;;) {} }', { timeoutMs: 1500 }), new RecordingResponder());
    const bomb = host.runAgent(runParams(readFileSync(path.join(hostileDir, 'memory-bomb.agent.js'), 'utf8'), { memoryMb: 32 }), new RecordingResponder());
    const normal = await Promise.all([1, 2, 3].map(() => host.runAgent(runParams(normalAgent), new RecordingResponder())));
    for (const o of normal) assert.equal(o.status, 'completed');
    const b = await bomb;
    assert.ok(b.status === 'failed' && b.kind === 'memory', JSON.stringify(b));
    const l = await loop;
    assert.ok(l.status === 'failed' && l.kind === 'timeout', JSON.stringify(l));
    assert.equal(host.pid, pid);
  });
});
