// AuditReader: the read-only audit log on a worker thread that the editor's timeline uses. It must answer
// exactly what AuditLog answers, pick up other writers' events, keep AuditErrors typed, and fail clearly (never
// hang) when its worker is gone.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { AuditError } from '../../src/core/audit/auditError';
import { AuditLog } from '../../src/core/audit/auditLog';
import { AuditReader } from '../../src/core/audit/auditReader';
import { journalLines, removeDir, sampleEvent, tempStateDir, writeJournalLines } from '../fixtures/auditTestKit';

describe('AuditReader (the audit log on a worker thread)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempStateDir('reader')));
  afterEach(() => removeDir(dir));

  async function writeEvents(n: number, from = 1): Promise<void> {
    const log = await AuditLog.open(dir);
    for (let i = from; i < from + n; i++) await log.append(sampleEvent(i, { runId: `run-${i % 3}`, tool: i % 2 ? 'fs.read' : 'fs.write' }));
    await log.close();
  }

  it('answers pages, filters, text search, details, runs and export exactly as the log itself', async () => {
    await writeEvents(250);
    const direct = await AuditLog.open(dir, { readOnly: true });
    const reader = await AuditReader.open(dir);
    try {
      assert.deepEqual(reader.lastEvent, direct.lastEvent);
      for (const q of [{}, { limit: 7 }, { runId: 'run-1', limit: 20 }, { tool: 'fs.write', before: 200, limit: 15 }, { after: 100, limit: 30 }, { text: 'file1', limit: 50 }]) {
        assert.deepEqual(await reader.query(q), await direct.query(q), JSON.stringify(q));
      }
      assert.deepEqual(await reader.get(123), await direct.get(123));
      assert.equal(await reader.get(99_999), undefined);
      assert.deepEqual(await reader.runs({ limit: 10 }), await direct.runs({ limit: 10 }));
      const all: number[] = [];
      for await (const e of reader.iterate({ runId: 'run-2' })) all.push(e.seq);
      const expected: number[] = [];
      for await (const e of direct.iterate({ runId: 'run-2' })) expected.push(e.seq);
      assert.deepEqual(all, expected);
      assert.ok(all.length > 80);
      const v = await reader.verify();
      assert.ok(v.ok, v.message);
      assert.equal(v.events, 250);
    } finally {
      await reader.close();
      await direct.close();
    }
  });

  it('sync() picks up what another writer appended, and lastEvent follows', async () => {
    await writeEvents(10);
    const reader = await AuditReader.open(dir);
    try {
      assert.equal(reader.lastEvent.seq, 10);
      await writeEvents(5, 11);
      assert.equal(await reader.sync(), 5);
      assert.equal(reader.lastEvent.seq, 15);
      assert.equal((await reader.query({ limit: 1 })).events[0]!.seq, 15);
      assert.equal(await reader.sync(), 0);
    } finally {
      await reader.close();
    }
  });

  it('keeps AuditErrors typed: a journal from a newer version is refused with its reason and left untouched', async () => {
    await writeEvents(3);
    const lines = journalLines(dir);
    lines[0] = lines[0]!.replace('"airlockJournal":1', '"airlockJournal":2');
    writeJournalLines(dir, lines);
    const before = fs.readFileSync(join(dir, 'audit.journal'));
    await assert.rejects(AuditReader.open(dir), (e: unknown) => AuditError.is(e, 'newer-schema') && /newer version of Airlock/.test(e.message));
    assert.deepEqual(fs.readFileSync(join(dir, 'audit.journal')), before);
    await assert.rejects(AuditReader.open(join(dir, 'no-such-folder')), (e: unknown) => AuditError.is(e, 'io-error') && /does not exist/.test(e.message));
  });

  it('when its worker is gone, calls fail with what to do instead of hanging', async () => {
    await writeEvents(20);
    const reader = await AuditReader.open(dir);
    const waiting = reader.query({ limit: 5 });
    // The worker dying under it (as a crash would): reached through the private field on purpose.
    await (reader as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await assert.rejects(waiting.then(() => reader.query({ limit: 5 })), /audit reader stopped .*reopen the Audit Timeline/);
    await assert.rejects(reader.get(1), /audit reader stopped/);
    await reader.close();
  });

  it('after close, calls are refused as closed', async () => {
    await writeEvents(2);
    const reader = await AuditReader.open(dir);
    await reader.close();
    await assert.rejects(reader.query(), (e: unknown) => AuditError.is(e, 'closed'));
    await reader.close();
  });
});
