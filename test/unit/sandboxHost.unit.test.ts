// SandboxHost against the real sandbox process (and, for misbehaviour the real one never shows, small fake
// sandbox processes): the ctx API as the host sees it, concurrent runs, the kill switch, process death and
// restart, and refusal of messages that are not in the protocol, in both directions.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import type { RunOutcome } from '../../src/protocol/sandboxProtocol';
import { SandboxError, SandboxHost, type SandboxExit } from '../../src/core/runtime/sandboxHost';
import { findSandboxNode } from '../../src/core/runtime/sandboxNode';
import { normalAgent, RecordingResponder, repoRoot, runParams, sandboxDir } from '../helpers/sandboxResponder';

const normalResult: RunOutcome = { status: 'completed', resultJson: JSON.stringify({ ok: true, text: 'contents of notes.txt' }) };

function failedWith(outcome: RunOutcome, kind: string): Extract<RunOutcome, { status: 'failed' }> {
  assert.ok(outcome.status === 'failed' && outcome.kind === kind, `expected a failed run of kind ${kind}, got ${JSON.stringify(outcome)}`);
  return outcome;
}

describe('sandbox host: the real sandbox process', function () {
  this.timeout(20_000);
  let host: SandboxHost;
  before(() => (host = new SandboxHost({ sandboxDir })));
  after(() => host.dispose());

  it('starts lazily on Node >= 22 with isolated-vm >= 6.2', async () => {
    assert.equal(new SandboxHost({ sandboxDir }).pid, undefined);
    const ping = await host.ping();
    assert.ok(Number(ping.node.split('.')[0]) >= 22, ping.node);
    const [major, minor] = ping.isolatedVm.split('.').map(Number);
    assert.ok(major! > 6 || (major === 6 && minor! >= 2), ping.isolatedVm);
    assert.equal(ping.runs, 0);
    assert.ok(host.pid !== undefined);
  });

  it('forwards every ctx method as the documented tool name and argument shape, with logs and the result', async () => {
    const r = new RecordingResponder();
    const source = `export default async function agent(ctx) {
      ctx.reason('look first');
      const a = await ctx.fs.read('src/a.js');
      await ctx.fs.write('src/a.js', 'new');
      let denied = '';
      try { await ctx.fs.delete('tmp.txt'); } catch (e) { denied = e.message; }
      await ctx.fs.list('src');
      await ctx.fs.list();
      await ctx.fs.search('TODO', { glob: 'src/**' });
      await ctx.fs.search('FIXME');
      await ctx.net.fetch('https://api.example.com/v1/x', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await ctx.net.fetch('https://api.example.com/v1/y');
      await ctx.tools.call('refund.process', { orderId: 'A1', amount: 120 });
      await ctx.tools.call('noargs.tool');
      const answer = await ctx.escalate('which module?');
      console.info('info line');
      console.warn('warn', 1);
      console.error(new Error('shown'));
      console.debug('dbg');
      ctx.log('done', { n: 1 });
      return { a, denied, task: ctx.task, answer };
    }`;
    const outcome = await host.runAgent(runParams(source, { task: 'rename the helper' }), r);
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.deepEqual(JSON.parse((outcome as { resultJson: string }).resultJson), {
      a: 'contents of src/a.js',
      denied: 'fs.delete denied: deleting needs approval',
      task: 'rename the helper',
      answer: { echo: { question: 'which module?' } },
    });
    assert.deepEqual(
      r.calls.map(({ tool, args, reason }) => (reason === undefined ? { tool, args } : { tool, args, reason })),
      [
        { tool: 'fs.read', args: { path: 'src/a.js' }, reason: 'look first' },
        { tool: 'fs.write', args: { path: 'src/a.js', content: 'new' } },
        { tool: 'fs.delete', args: { path: 'tmp.txt' } },
        { tool: 'fs.list', args: { path: 'src' } },
        { tool: 'fs.list', args: {} },
        { tool: 'fs.search', args: { pattern: 'TODO', glob: 'src/**' } },
        { tool: 'fs.search', args: { pattern: 'FIXME' } },
        { tool: 'net.fetch', args: { url: 'https://api.example.com/v1/x', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' } },
        { tool: 'net.fetch', args: { url: 'https://api.example.com/v1/y' } },
        { tool: 'refund.process', args: { orderId: 'A1', amount: 120 } },
        { tool: 'noargs.tool', args: {} },
        { tool: 'agent.escalate', args: { question: 'which module?' } },
      ],
    );
    const logs = r.logs.map(({ level, source, message }) => ({ level, source, message: message.split('\n')[0] }));
    assert.deepEqual(logs, [
      { level: 'info', source: 'console', message: 'info line' },
      { level: 'warn', source: 'console', message: 'warn 1' },
      { level: 'error', source: 'console', message: 'Error: shown' },
      { level: 'debug', source: 'console', message: 'dbg' },
      { level: 'info', source: 'ctx', message: 'done {"n":1}' },
    ]);
  });

  it('runs several agents at once in one process, each call attributed to its own run', async () => {
    const source = `export default async (ctx) => {
      const out = [];
      for (let i = 0; i < 30; i++) out.push(await ctx.fs.read(ctx.task + '-' + i));
      return out.length;
    }`;
    const responders = [0, 1, 2, 3].map(() => new RecordingResponder());
    const params = responders.map((_, i) => runParams(source, { task: `run${i}` }));
    const outcomes = await Promise.all(params.map((p, i) => host.runAgent(p, responders[i]!)));
    outcomes.forEach((o) => assert.deepEqual(o, { status: 'completed', resultJson: '30' }));
    responders.forEach((r, i) => {
      assert.equal(r.calls.length, 30);
      assert.ok(r.calls.every((c) => c.runId === params[i]!.runId && (c.args as { path: string }).path.startsWith(`run${i}-`)));
    });
  });

  it('stops a run inside while(true){} within one second, and the process carries on', async () => {
    const pid = host.pid;
    const r = new RecordingResponder();
    const params = runParams(`export default async (ctx) => { ctx.log('spinning'); while (true) {} }`);
    const running = host.runAgent(params, r);
    await r.logged('spinning');
    const started = performance.now();
    await host.stopRun(params.runId, 'kill switch');
    const stopMs = performance.now() - started;
    const outcome = await running;
    assert.ok(stopMs < 1000, `stopping took ${stopMs.toFixed(0)} ms`);
    assert.deepEqual(outcome, { status: 'failed', kind: 'stopped', message: 'kill switch' });
    assert.equal(host.pid, pid, 'the isolate was disposed; the process did not need killing');
    assert.deepEqual(await host.runAgent(runParams(normalAgent), new RecordingResponder()), normalResult);
  });

  it('stops a run waiting on a hung tool call; a late answer is ignored', async () => {
    const r = new RecordingResponder();
    const params = runParams(`export default async (ctx) => { await ctx.tools.call('test.hang', {}); return 'answered'; }`);
    const running = host.runAgent(params, r);
    while (r.hanging.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await host.stopRun(params.runId, 'halted by the circuit breaker');
    assert.deepEqual(await running, { status: 'failed', kind: 'stopped', message: 'halted by the circuit breaker' });
    r.hanging[0]!({ ok: true, value: 'too late' });
    assert.deepEqual(await host.runAgent(runParams(normalAgent), new RecordingResponder()), normalResult);
  });

  it('stopping an unknown or finished run is a no-op', async () => {
    await host.stopRun('no-such-run', 'whatever');
    const params = runParams(normalAgent);
    await host.runAgent(params, new RecordingResponder());
    await host.stopRun(params.runId, 'too late');
  });

  it('refuses a duplicate run id and invalid run parameters', async () => {
    const r = new RecordingResponder();
    const params = runParams(`export default async (ctx) => ctx.tools.call('test.hang', {})`);
    const running = host.runAgent(params, r);
    await assert.rejects(host.runAgent(params, new RecordingResponder()), (e) => SandboxError.is(e) && e.reason === 'duplicate-run');
    await host.stopRun(params.runId, 'done');
    failedWith(await running, 'stopped');
    await assert.rejects(host.runAgent(runParams(normalAgent, { memoryMb: 1 }), r), (e) => SandboxError.is(e) && e.reason === 'invalid-params' && /memoryMb/.test(e.message));
  });

  it('a tool handler that throws or answers nonsense rejects the agent call, not the run', async () => {
    const handlers = {
      onToolCall: async (p: { tool: string }) => {
        if (p.tool === 'throws') throw new Error('handler exploded');
        return { ok: 'yes' } as never;
      },
      onLog: () => undefined,
    };
    const source = `export default async (ctx) => {
      const out = [];
      for (const t of ['throws', 'garbage']) { try { await ctx.tools.call(t, {}); } catch (e) { out.push(e.message); } }
      return out;
    }`;
    const outcome = await host.runAgent(runParams(source), handlers);
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.deepEqual(JSON.parse((outcome as { resultJson: string }).resultJson), [
      'throws: internal error: handler exploded',
      'garbage: internal error: the tool handler gave an invalid answer',
    ]);
  });

  it('when the sandbox process is killed mid-run, the run fails as internal and the next run gets a fresh process', async () => {
    const exits: SandboxExit[] = [];
    const sub = host.onDidExit((e) => exits.push(e));
    const r = new RecordingResponder();
    const running = host.runAgent(runParams(`export default async (ctx) => { await ctx.tools.call('test.hang', {}); }`), r);
    while (r.hanging.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const pid = host.pid!;
    process.kill(pid, 'SIGKILL');
    const outcome = failedWith(await running, 'internal');
    assert.match(outcome.message, /the sandbox process died \(signal SIGKILL\)/);
    assert.equal(exits.length, 1);
    assert.equal(exits[0]!.signal, 'SIGKILL');
    assert.equal(exits[0]!.expected, false);
    assert.equal(exits[0]!.pid, pid);
    assert.deepEqual(await host.runAgent(runParams(normalAgent), new RecordingResponder()), normalResult);
    assert.ok(host.pid !== undefined && host.pid !== pid);
    sub.dispose();
  });

  it('a stop that arrives while the process is still starting ends the run before it runs', async () => {
    const fresh = new SandboxHost({ sandboxDir });
    try {
      const r = new RecordingResponder();
      const params = runParams(normalAgent);
      const running = fresh.runAgent(params, r);
      await fresh.stopRun(params.runId, 'changed my mind');
      assert.deepEqual(await running, { status: 'failed', kind: 'stopped', message: 'changed my mind' });
      assert.equal(r.calls.length, 0);
    } finally {
      fresh.dispose();
    }
  });

  it('dispose ends pending runs as stopped and refuses new ones', async () => {
    const h = new SandboxHost({ sandboxDir });
    const r = new RecordingResponder();
    const running = h.runAgent(runParams(`export default async (ctx) => ctx.tools.call('test.hang', {})`), r);
    while (r.hanging.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    h.dispose();
    failedWith(await running, 'stopped');
    assert.equal(h.pid, undefined);
    await assert.rejects(h.runAgent(runParams(normalAgent), r), (e) => SandboxError.is(e) && e.reason === 'disposed');
  });

  it('says how to build the sandbox when sandbox/dist/main.js is missing', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'airlock-nosandbox-'));
    try {
      const h = new SandboxHost({ sandboxDir: empty });
      await assert.rejects(h.runAgent(runParams(normalAgent), new RecordingResponder()), (e) => SandboxError.is(e) && e.reason === 'not-built' && /npm run build/.test(e.message));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('an idle host does not keep its process alive', function () {
    const script = `
      const { SandboxHost } = require(${JSON.stringify(path.join(repoRoot, 'out/src/core/runtime/sandboxHost.js'))});
      const host = new SandboxHost({ sandboxDir: ${JSON.stringify(sandboxDir)} });
      host.runAgent({ runId: 'r', filename: 'a.agent.js', source: 'export default async () => 1', task: '', memoryMb: 32, timeoutMs: 5000, maxArgChars: 1000, maxLogLines: 10 },
        { onToolCall: async () => ({ ok: true, value: null }), onLog() {} }).then((o) => console.log(JSON.stringify(o)));
    `;
    // A host that kept its process alive would keep this script running until spawnSync kills it (status null).
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.signal, null, 'the script had to be killed: the idle host kept it alive');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), JSON.stringify({ status: 'completed', resultJson: '1' }));
  });
});

describe('sandbox host: the sandbox process refuses what is not in the protocol', function () {
  this.timeout(20_000);
  it('answers unknown methods and invalid params with JSON-RPC errors, and keeps working', async () => {
    const node = await findSandboxNode({ sandboxDir });
    const child = spawn(node.path, ['--no-node-snapshot', path.join(sandboxDir, 'dist', 'main.js')], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const c = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    // This raw host answers tool calls with nonsense: the sandbox must not pass it to the agent as a value.
    c.onRequest('tool/call', () => ({ ok: 'certainly', value: 'x' }));
    c.listen();
    const code = async (method: string, params?: unknown) => {
      try {
        await c.sendRequest(method, params);
        return 'answered';
      } catch (e) {
        return (e as { code: number }).code;
      }
    };
    try {
      assert.equal(await code('evil/method', {}), -32601);
      assert.equal(await code('run/start', { runId: 42 }), -32602);
      assert.equal(await code('run/start', { ...runParams(normalAgent), memoryMb: 'lots' }), -32602);
      assert.equal(await code('sandbox/ping', { extra: true }), -32602);
      assert.equal(await code('run/stop', { runId: 1 }), -32602);
      assert.deepEqual(await c.sendRequest('run/stop', { runId: 'nothing', reason: 'x' }), { stopped: false });
      await c.sendNotification('evil/notification', { x: 1 });

      const hung = runParams(`export default async (ctx) => { for (;;) {} }`);
      const first = c.sendRequest('run/start', hung);
      assert.equal(await code('run/start', hung), -32600);
      assert.deepEqual(await c.sendRequest('run/stop', { runId: hung.runId, reason: 'enough' }), { stopped: true });
      assert.deepEqual(await first, { status: 'failed', kind: 'stopped', message: 'enough' });

      const outcome = (await c.sendRequest('run/start', runParams(`export default async (ctx) => { try { return await ctx.fs.read('a'); } catch (e) { return e.message; } }`))) as RunOutcome;
      assert.deepEqual(outcome, { status: 'completed', resultJson: JSON.stringify('fs.read: the host answered with an invalid result') });
      assert.match(stderr, /refused unknown notification "evil\/notification"/);
      assert.equal(child.exitCode, null, 'the sandbox is still running');
    } finally {
      c.dispose();
      child.kill('SIGKILL');
    }
  });
});

describe('sandbox host: misbehaving sandbox processes', function () {
  this.timeout(20_000);
  let dir: string;
  let nodePath: string;
  before(async () => {
    nodePath = (await findSandboxNode({ sandboxDir })).path;
  });
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'airlock-fakesandbox-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake sandbox process speaking (or abusing) the protocol. */
  function fake(body: string): SandboxHost {
    mkdirSync(path.join(dir, 'dist'));
    const jsonrpc = path.join(repoRoot, 'node_modules', 'vscode-jsonrpc', 'lib', 'node', 'main.js');
    writeFileSync(
      path.join(dir, 'dist', 'main.js'),
      `const { createMessageConnection, IPCMessageReader, IPCMessageWriter } = require(${JSON.stringify(jsonrpc)});
      const c = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
      process.on('disconnect', () => process.exit(0));
      ${body}
      c.listen();`,
    );
    return new SandboxHost({ sandboxDir: dir, nodePath, maxRestartsPerMinute: 2, stopGraceMs: 300 });
  }

  it('the host refuses unknown and malformed requests and notifications from the sandbox', async () => {
    const host = fake(`
      c.onRequest('run/start', async (p) => {
        const codes = [];
        const attempt = async (method, params) => {
          try { await c.sendRequest(method, params); codes.push('answered'); } catch (e) { codes.push(e.code); }
        };
        await attempt('tool/call', { runId: p.runId, callId: -1, tool: 'fs.read', args: {} });
        await attempt('evil/method', { x: 1 });
        await attempt('tool/call', { runId: 'not-a-run', callId: 0, tool: 'fs.read', args: {} });
        c.sendNotification('run/log', { runId: p.runId, level: 'shout', source: 'console', message: 'bad level' });
        c.sendNotification('evil/notification', {});
        const answer = await c.sendRequest('tool/call', { runId: p.runId, callId: 0, tool: 'fs.read', args: { path: 'a.txt' } });
        c.sendNotification('run/log', { runId: p.runId, level: 'info', source: 'ctx', message: 'valid line' });
        return { status: 'completed', resultJson: JSON.stringify({ codes, answer }) };
      });`);
    try {
      const rejected: string[] = [];
      host.onDidRejectMessage((m) => rejected.push(m.method));
      const r = new RecordingResponder();
      const outcome = await host.runAgent(runParams(normalAgent), r);
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
      assert.deepEqual(JSON.parse((outcome as { resultJson: string }).resultJson), {
        codes: [-32602, -32601, -32602],
        answer: { ok: true, value: 'contents of a.txt' },
      });
      assert.deepEqual(r.calls.map((c) => c.args), [{ path: 'a.txt' }]);
      assert.deepEqual(r.logs.map((l) => l.message), ['valid line']);
      assert.deepEqual(rejected, ['tool/call', 'evil/method', 'tool/call', 'run/log', 'evil/notification']);
    } finally {
      host.dispose();
    }
  });

  it('an invalid run outcome from the sandbox fails the run as internal', async () => {
    const host = fake(`c.onRequest('run/start', () => ({ status: 'exploded', resultJson: 42 }));`);
    try {
      const outcome = failedWith(await host.runAgent(runParams(normalAgent), new RecordingResponder()), 'internal');
      assert.match(outcome.message, /invalid outcome/);
    } finally {
      host.dispose();
    }
  });

  it('a sandbox that ignores run/stop is killed: the run ends as stopped well within a second', async () => {
    const host = fake(`c.onRequest('run/start', () => new Promise(() => {})); c.onRequest('run/stop', () => new Promise(() => {}));`);
    try {
      const exits: SandboxExit[] = [];
      host.onDidExit((e) => exits.push(e));
      const params = runParams(normalAgent);
      const running = host.runAgent(params, new RecordingResponder());
      await host.ping().catch(() => undefined);
      const pid = host.pid;
      const started = performance.now();
      await host.stopRun(params.runId, 'kill switch');
      const stopMs = performance.now() - started;
      assert.deepEqual(await running, { status: 'failed', kind: 'stopped', message: 'kill switch' });
      assert.ok(stopMs < 1000, `stopping took ${stopMs.toFixed(0)} ms`);
      while (exits.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(exits[0]!.expected, true);
      assert.equal(exits[0]!.pid, pid);
    } finally {
      host.dispose();
    }
  });

  it('a crashing sandbox fails each run with its exit code and last words, and is restarted only so often', async () => {
    const host = fake(`process.stderr.write('boom: the fake sandbox fails on purpose\\n'); process.exit(3);`);
    try {
      for (let i = 0; i < 2; i++) {
        const outcome = failedWith(await host.runAgent(runParams(normalAgent), new RecordingResponder()), 'internal');
        assert.match(outcome.message, /the sandbox process died \(exit code 3: boom: the fake sandbox fails on purpose\)/);
      }
      await assert.rejects(host.runAgent(runParams(normalAgent), new RecordingResponder()), (e) => SandboxError.is(e) && e.reason === 'restart-limit' && /crashed 2 times in the last minute/.test(e.message));
    } finally {
      host.dispose();
    }
  });
});
