// Every escape and exhaustion fixture (test/fixtures/hostile) run through the whole runtime against a real
// workspace with a secret next to it: each run ends, the workspace is byte-identical, the secret outside the
// workspace never shows up in any event, log or result, and the runtime still works afterwards.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashTree } from '../helpers/hashTree';
import { disposeRuntime, makeWorkspace, repoRoot, runAgent, writeAgent, writePolicy } from '../helpers/agentHarness';

const hostileDir = join(repoRoot, 'test', 'fixtures', 'hostile');
const SECRET = `outside-secret-${Date.now()}-do-not-leak`;

describe('runtime: hostile fixtures against a real workspace', function () {
  this.timeout(120_000);
  after(() => disposeRuntime());

  const outside = mkdtempSync(join(tmpdir(), 'airlock-outside-'));
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  const ws = makeWorkspace({ 'src/a.js': 'export const a = 1;\n', 'notes.md': '# notes\n' });
  symlinkSync(join(outside, 'secret.txt'), join(ws, 'link-out.txt'));
  symlinkSync(outside, join(ws, 'dir-out'));
  writePolicy(ws, {
    version: 1,
    defaults: { scope: { write: ['**'], tools: ['fs.*', 'agent.escalate'] }, approval: { '*': 'auto' }, limits: { timeoutMs: 2000, memoryMb: 32, maxCalls: 2000 }, breaker: { failures: 1000, windowMs: 60000 } },
  });
  const before = hashTree(ws);
  const files = readdirSync(hostileDir).filter((f) => f.endsWith('.agent.js'));

  it(`covers at least 20 attempts (${files.length})`, () => assert.ok(files.length >= 20));

  for (const file of files) {
    it(`${file}: ends, leaves the workspace byte-identical and leaks nothing from outside`, async () => {
      // A run that did not end by itself (the policy's 2 s timeout at the latest) would not resolve in the test's time.
      const { report, events, logs } = await runAgent(ws, join(hostileDir, file), { agentName: 'hostile' });
      assert.ok(['completed', 'failed', 'halted'].includes(report.status));
      assert.equal(hashTree(ws), before, 'the workspace is byte-identical');
      const everything = JSON.stringify({ report: { ...report, changes: report.changes.map((c) => c.after?.toString() ?? null) }, events, logs });
      assert.ok(!everything.includes(SECRET), 'nothing from outside the workspace was read');
      assert.deepEqual(events[0]!.type, 'run.start');
      assert.deepEqual(events[events.length - 1]!.type, 'run.end');
    });
  }

  it('symlinks out of the workspace are refused, and the runtime still runs a normal agent', async () => {
    const agent = writeAgent(`export default async (ctx) => {
      const r = [];
      for (const p of ['link-out.txt', 'dir-out/secret.txt']) { try { r.push(await ctx.fs.read(p)); } catch (e) { r.push('refused: ' + e.message); } }
      r.push(await ctx.fs.read('src/a.js'));
      return r;
    }`);
    const { report } = await runAgent(ws, agent);
    assert.equal(report.status, 'completed');
    const r = report.result as string[];
    assert.match(r[0]!, /^refused: /);
    assert.match(r[1]!, /^refused: /);
    assert.equal(r[2], 'export const a = 1;\n');
    assert.equal(hashTree(ws), before);
  });
});
