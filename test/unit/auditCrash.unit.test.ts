// The crash test with real processes: a child appending events (in singles and bursts, folding the database as
// it goes) is SIGKILLed at random moments, 50 times. After each kill every event it acknowledged is present —
// those acknowledged as durable and those acknowledged as written alike — with the hash it was acknowledged
// with, in order, and the chain verifies.
import * as assert from 'node:assert/strict';
import { AuditLog, verifyAuditLog } from '../../src/core/audit/auditLog';
import { acks, removeDir, startWriter, tempStateDir } from '../fixtures/auditTestKit';

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 0x100000000;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AuditLog crash recovery (real processes, SIGKILL)', function () {
  this.timeout(240_000);

  it('50 kills at random moments: every acknowledged event survives, in order, and the chain verifies', async () => {
    const dir = tempStateDir('crash');
    const seed = Number(process.env.AIRLOCK_CRASH_SEED ?? Math.floor(Math.random() * 1e9));
    const random = rng(seed);
    const acked = new Map<number, { hash: string; tag: string; n: number }>();
    let killedDuringStartup = 0;
    try {
      for (let i = 0; i < 50; i++) {
        const w = startWriter(['crash', dir, String(seed + i)]);
        // One kill in five lands before the writer is ready: during its start-up or its recovery of the last kill.
        // The others land while it appends: after its first acknowledgement (fsync latency on a busy disk varies
        // from 0.1 to hundreds of ms, so a fixed delay would often kill it before it has done anything).
        if (random() < 0.2) {
          killedDuringStartup++;
          await sleep(Math.floor(random() * 300));
        } else {
          await w.waitFor('ack ', 30_000);
          await sleep(Math.floor(random() * 250));
        }
        w.child.kill('SIGKILL');
        await w.exited;
        for (const a of acks(w.lines)) {
          const had = acked.get(a.seq);
          assert.ok(!had || had.hash === a.hash, `seq ${a.seq} acknowledged twice with different hashes (seed ${seed})`);
          acked.set(a.seq, { hash: a.hash, tag: a.tag, n: a.n });
        }
        const v = await verifyAuditLog(dir);
        assert.ok(v.ok, `after kill ${i + 1}: ${v.message} (seed ${seed})`);
        const log = await AuditLog.open(dir, { readOnly: true });
        try {
          const stored = new Map<number, { hash: string; tag: string; n: number }>();
          let expect = 1;
          for await (const e of log.iterate()) {
            assert.equal(e.seq, expect++, `events are contiguous (seed ${seed})`);
            const args = e.args as { tag: string; n: number };
            stored.set(e.seq, { hash: e.hash, tag: args.tag, n: args.n });
          }
          for (const [seq, a] of acked) assert.deepEqual(stored.get(seq), a, `acknowledged event #${seq} survived kill ${i + 1} (seed ${seed})`);
          // In order: each writer's events appear in the order it appended them.
          const lastN = new Map<string, number>();
          for (const [, s] of [...stored].sort((x, y) => x[0] - y[0])) {
            assert.ok((lastN.get(s.tag) ?? -1) < s.n, `writer ${s.tag}'s events are in append order (seed ${seed})`);
            lastN.set(s.tag, s.n);
          }
        } finally {
          await log.close();
        }
      }
      // A writer opening after the last kill recovers, and the log is still whole.
      const log = await AuditLog.open(dir);
      const head = log.lastEvent.seq;
      await log.close();
      const v = await verifyAuditLog(dir);
      assert.ok(v.ok, v.message);
      assert.equal(v.events, head);
      assert.ok(acked.size > 200, `the writers acknowledged ${acked.size} events (enough to mean something)`);
      assert.ok(killedDuringStartup >= 0);
    } finally {
      removeDir(dir);
    }
  });
});
