// The pipeline's ordering promise: a tool call's effect is never visible before its audit event is durable,
// and when the audit log cannot be written the run halts instead of acting unaudited. A read's content reaches
// the agent alone: its event is in the journal (safe from a kill) before the content is returned, and durable
// before any later effect.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent, AuditEventInput } from '../../src/protocol/auditEvent';
import { heldSyncs } from '../fixtures/auditTestKit';
import { AuditLog } from '../../src/core/audit/auditLog';
import type { AuditSink } from '../../src/core/audit/auditSink';
import { Redactor } from '../../src/core/audit/redaction';
import { GuardPipeline } from '../../src/core/guard/guardPipeline';
import { secretScannerFrom } from '../../src/core/guard/secretScanner';
import { HostFetch } from '../../src/core/net/hostFetch';
import { parsePolicyText, resolveAgentPolicy } from '../../src/core/policy/policyLoader';
import { StagingOverlay } from '../../src/core/staging/stagingOverlay';
import { CustomToolRegistry } from '../../src/core/tools/customTools';
import { makeWorkspace } from '../helpers/agentHarness';

function pipelineWith(ws: string, audit: AuditSink, overlay: StagingOverlay, halts: string[]) {
  const policy = resolveAgentPolicy(parsePolicyText(JSON.stringify({ version: 1, defaults: { approval: { '*': 'auto' } } }), 'p.json'), 'a');
  const pipeline: GuardPipeline = new GuardPipeline({
    runId: 'r1',
    agent: 'a',
    workspace: ws,
    policy,
    overlay,
    tools: new CustomToolRegistry({}),
    fetcher: new HostFetch(policy.net),
    gate: { ask: async () => ({ approved: false, actor: 'policy' }) },
    audit,
    scanner: secretScannerFrom(new Redactor()),
    halt: (r) => halts.push(r),
    signal: new AbortController().signal,
  });
  return pipeline;
}

describe('guard pipeline: audit before effect', () => {
  it('a staged write is not visible to reads until its event is durable in the real audit log', async () => {
    const ws = makeWorkspace({ 'a.txt': 'old' });
    const log = await AuditLog.open(mkdtempSync(join(tmpdir(), 'airlock-state-')), {});
    const overlay = new StagingOverlay(ws, () => true);
    const seenAtAppend: string[] = [];
    let releaseAppend!: () => void;
    const held = new Promise<void>((r) => (releaseAppend = r));
    const sink: AuditSink = {
      async append(e: AuditEventInput): Promise<AuditEvent> {
        if (e.type === 'tool.call' && e.tool === 'fs.write') {
          seenAtAppend.push(overlay.read('a.txt').toString());
          await held; // the write waits here until the event is durable
        }
        return log.append(e);
      },
    };
    const pipeline = pipelineWith(ws, sink, overlay, []);
    const write = pipeline.handle({ runId: 'r1', callId: 1, tool: 'fs.write', args: { path: 'a.txt', content: 'new' } });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(overlay.read('a.txt').toString(), 'old', 'while the event is not durable, the write is not visible');
    releaseAppend();
    assert.deepEqual(await write, { ok: true, value: { path: 'a.txt', kind: 'modify', staged: true } });
    assert.equal(overlay.read('a.txt').toString(), 'new');
    assert.deepEqual(seenAtAppend, ['old']);
    const events = await log.query({ limit: 10 });
    assert.equal(events.events.filter((e) => e.tool === 'fs.write').length, 1);
    await log.close();
  });

  it("a read returns once its event is in the journal; the write after it becomes visible only once a sync covers both", async () => {
    const ws = makeWorkspace({ 'a.txt': 'old' });
    const state = mkdtempSync(join(tmpdir(), 'airlock-state-'));
    const held = heldSyncs();
    const log = await AuditLog.open(state, { lazy: true, persist: { onClose: false }, journalIo: held.io });
    const overlay = new StagingOverlay(ws, () => true);
    const pipeline = pipelineWith(ws, log, overlay, []);
    const read = await pipeline.handle({ runId: 'r1', callId: 1, tool: 'fs.read', args: { path: 'a.txt' } });
    assert.deepEqual(read, { ok: true, value: 'old' });
    assert.match(readFileSync(join(state, 'audit.journal'), 'utf8'), /"tool":"fs.read"/, 'the read is in the journal before its content is returned');
    const write = pipeline.handle({ runId: 'r1', callId: 2, tool: 'fs.write', args: { path: 'a.txt', content: 'new' } });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(overlay.read('a.txt').toString(), 'old', 'no sync yet: the write is not visible');
    // Let the held syncs complete one at a time: one covers both events, or (when the read's own sync had already
    // started) the second one covers the write.
    let settled = false;
    void write.then(() => (settled = true));
    for (let syncs = 0; !settled; syncs++) {
      assert.ok(syncs < 2, 'at most two syncs before the write is visible');
      await held.releaseNext();
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.deepEqual(await write, { ok: true, value: { path: 'a.txt', kind: 'modify', staged: true } });
    assert.equal(overlay.read('a.txt').toString(), 'new');
    const v = await log.verify();
    assert.ok(v.ok && v.events === 2, v.message);
    await log.close();
  });

  it('when the audit log cannot be written, the call is refused, nothing is staged and the run halts', async () => {
    const ws = makeWorkspace({ 'a.txt': 'old' });
    const overlay = new StagingOverlay(ws, () => true);
    const halts: string[] = [];
    const failing: AuditSink = {
      append: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    const pipeline = pipelineWith(ws, failing, overlay, halts);
    const r = await pipeline.handle({ runId: 'r1', callId: 1, tool: 'fs.write', args: { path: 'a.txt', content: 'new' } });
    assert.equal(r.ok, false);
    assert.deepEqual(overlay.changes(), []);
    assert.equal(halts.length, 1);
    assert.match(halts[0]!, /audit log cannot be written .*ENOSPC.*never acts unaudited/);
  });
});
