// The sandbox bridge on its own: a trivial tool call from the isolate through IPC to an in-memory handler and
// back, the cost of a fresh isolate per run, how long the kill switch takes inside while(true){}, and how long
// the sandbox process takes to start. (The guarded round trip through the real pipeline is the runtime bench.)
import path from 'node:path';
import type { ToolCallParams, ToolCallResult } from '../../src/protocol/sandboxProtocol';
import { SandboxHost, type RunHandlers } from '../../src/core/runtime/sandboxHost';
import type { BenchRow, BenchSection } from './benchTypes';
import { ms, percentile, perSec, target } from './benchStats';

const sandboxDir = path.resolve(__dirname, '..', '..', '..', 'sandbox');
const WARMUP = 500;
const CALLS = 5_000;

let runSeq = 0;
function params(source: string, timeoutMs = 60_000) {
  return { runId: `bench-${++runSeq}`, filename: 'bench.agent.js', source, task: '', memoryMb: 64, timeoutMs, maxArgChars: 1_000_000, maxLogLines: 100 };
}

/** Answers every fs.read at once and notes when each call arrived. */
function timingHandler(arrivals: number[]): RunHandlers {
  const answer: ToolCallResult = { ok: true, value: 'export const x = 1;\n' };
  return {
    onToolCall: (_p: ToolCallParams) => {
      arrivals.push(performance.now());
      return Promise.resolve(answer);
    },
    onLog: () => undefined,
  };
}

const readLoop = (n: number) => `export default async function agent(ctx) {
  for (let i = 0; i < ${n}; i++) await ctx.fs.read('src/util.js');
  return ${n};
}`;

export async function sandboxBench(): Promise<BenchSection> {
  const host = new SandboxHost({ sandboxDir });
  const rows: BenchRow[] = [];
  try {
    let t = performance.now();
    await host.ping();
    const startMs = performance.now() - t;

    // Sequential round trips: the time between two arrivals at the host is one full trip isolate → host → isolate.
    await host.runAgent(params(readLoop(WARMUP)), timingHandler([]));
    const arrivals: number[] = [];
    const outcome = await host.runAgent(params(readLoop(CALLS)), timingHandler(arrivals));
    if (outcome.status !== 'completed') throw new Error(`the round-trip agent failed: ${JSON.stringify(outcome)}`);
    const trips = arrivals.slice(1).map((a, i) => a - arrivals[i]!).sort((a, b) => a - b);
    const p50 = percentile(trips, 50);
    const p99 = percentile(trips, 99);
    const perSecond = (CALLS - 1) / ((arrivals[arrivals.length - 1]! - arrivals[0]!) / 1000);

    // Four runs at once, each with its own isolate, sharing the process and the IPC channel.
    const together: number[][] = [[], [], [], []];
    t = performance.now();
    await Promise.all(together.map((a) => host.runAgent(params(readLoop(2_000)), timingHandler(a))));
    const togetherPerSecond = 8_000 / ((performance.now() - t) / 1000);

    // A fresh isolate per run: a trivial agent, end to end from the host.
    const starts: number[] = [];
    for (let i = 0; i < 40; i++) {
      t = performance.now();
      await host.runAgent(params('export default async () => 1'), timingHandler([]));
      starts.push(performance.now() - t);
    }
    starts.sort((a, b) => a - b);

    // The kill switch inside while(true){}: from stopRun to the run being over.
    const kills: number[] = [];
    for (let i = 0; i < 10; i++) {
      let spinning!: () => void;
      const ready = new Promise<void>((resolve) => (spinning = resolve));
      const p = params(`export default async (ctx) => { ctx.log('spinning'); for (;;) {} }`);
      const running = host.runAgent(p, { onToolCall: () => Promise.resolve({ ok: true, value: null }), onLog: () => spinning() });
      await ready;
      await new Promise((resolve) => setTimeout(resolve, 20));
      t = performance.now();
      await host.stopRun(p.runId, 'bench');
      kills.push(performance.now() - t);
      await running;
    }
    kills.sort((a, b) => a - b);

    rows.push(
      { label: `tool call round trip, isolate → IPC → host → isolate (p50 of ${CALLS.toLocaleString('en-US')})`, ours: ms(p50), target: target(p50 <= 0.3, '≤ 0.3 ms') },
      { label: 'tool call round trip (p99)', ours: ms(p99) },
      { label: 'tool calls per second, one run', ours: perSec(perSecond), target: target(perSecond >= 3000, '≥ 3,000/s') },
      { label: 'tool calls per second, 4 runs at once', ours: perSec(togetherPerSecond) },
      { label: 'fresh isolate per run: trivial agent end to end (p50 of 40)', ours: ms(percentile(starts, 50), 2) },
      { label: 'fresh isolate per run (p99)', ours: ms(percentile(starts, 99), 2) },
      { label: 'stop inside while(true){} (p50 of 10)', ours: ms(percentile(kills, 50), 2), target: target(kills[kills.length - 1]! < 1000, 'max < 1,000 ms') },
      { label: 'stop inside while(true){} (max)', ours: ms(kills[kills.length - 1]!, 2) },
      { label: 'sandbox process start (spawn → first answer)', ours: ms(startMs, 0) },
    );
  } finally {
    host.dispose();
  }
  return {
    title: 'Sandbox bridge (in-memory tool handler, no guard pipeline)',
    rows,
    notes: ['Round trip = time between consecutive tool-call arrivals at the host while the agent awaits each call in turn.'],
  };
}
