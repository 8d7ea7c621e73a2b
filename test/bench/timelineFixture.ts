// A large audit log for the timeline bench: runs of ~200 events (start, tool calls with a spread of tools,
// decisions and reasons, an approval now and then, end), written through the real AuditLog. Writing a million
// events takes minutes, so the result is kept under .vscode-test/bench/ and reused while the format matches.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_VERSION } from '../../src/core/audit/auditDatabase';
import { AuditLog } from '../../src/core/audit/auditLog';
import type { AuditEventInput } from '../../src/protocol/auditEvent';
import { cacheDir } from '../harness/harnessPaths';

const fixtureVersion = 1;
const tools = ['fs.read', 'fs.read', 'fs.read', 'fs.write', 'fs.list', 'fs.search', 'net.fetch', 'fs.delete', 'refund.process'];

function* events(count: number): Generator<AuditEventInput> {
  let seq = 0;
  for (let run = 0; seq < count; run++) {
    const runId = `run-bench-${String(run).padStart(6, '0')}`;
    const agent = ['refactor', 'refunds', 'docs-writer', 'triage'][run % 4]!;
    const size = Math.min(count - seq, 150 + (run % 100));
    for (let i = 0; i < size; i++, seq++) {
      if (i === 0) {
        yield { runId, agent, type: 'run.start', actor: 'system', args: { agentFile: `${agent}.agent.js`, task: `task number ${run}` } };
      } else if (i === size - 1) {
        yield { runId, agent, type: 'run.end', actor: 'system', decision: run % 17 === 0 ? 'halt' : 'allow', reason: run % 17 === 0 ? 'rate limit hit' : 'the agent finished', durationMs: 5000 + (run % 1000) };
      } else {
        const tool = tools[(seq * 7) % tools.length]!;
        const denied = seq % 23 === 0;
        yield {
          runId,
          agent,
          type: 'tool.call',
          tool,
          args: tool === 'net.fetch' ? { url: `https://api.example.com/v1/items/${seq}`, method: 'GET' } : { path: `src/module${seq % 300}/file${seq % 1000}.ts` },
          result: denied ? { error: `${tool} is outside the agent's scope` } : { bytes: (seq * 37) % 40_000 },
          decision: denied ? 'deny' : tool === 'fs.write' ? 'stage' : 'allow',
          level: tool === 'fs.delete' ? 'require' : tool === 'fs.write' ? 'review' : 'auto',
          rule: denied ? 'scope.write' : `approval.${tool}`,
          actor: tool === 'fs.delete' ? 'human:dev' : 'policy',
          reason: `step ${i} of run ${run}: look at module ${seq % 300}`,
          durationMs: seq % 40,
          costUsd: tool === 'refund.process' ? 0.01 : 0,
        };
      }
    }
  }
}

/** A state folder holding an audit log of `count` events; copied to `dest` (which must not hold a log). */
export async function auditLogWith(count: number, dest: string, log: (m: string) => void = () => undefined): Promise<void> {
  const cached = join(cacheDir, 'bench', `timeline-${count}`);
  const stamp = join(cached, 'fixture.json');
  const want = JSON.stringify({ fixtureVersion, schema: SCHEMA_VERSION, count });
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    rmSync(cached, { recursive: true, force: true });
    mkdirSync(cached, { recursive: true });
    const started = Date.now();
    const audit = await AuditLog.open(cached);
    let pending: Promise<unknown>[] = [];
    let n = 0;
    for (const e of events(count)) {
      pending.push(audit.append(e));
      if (pending.length >= 4096) {
        await Promise.all(pending);
        pending = [];
      }
      if (++n % 100_000 === 0) log(`  wrote ${n.toLocaleString('en-US')} events (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    await Promise.all(pending);
    await audit.persist();
    await audit.close();
    writeFileSync(stamp, want);
    log(`  ${count.toLocaleString('en-US')} events written in ${((Date.now() - started) / 1000).toFixed(0)} s (kept in ${cached})`);
  }
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(cached)) if (f !== 'fixture.json' && f !== 'audit.lock') cpSync(join(cached, f), join(dest, f), { recursive: true });
}
