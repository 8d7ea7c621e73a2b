// Property tests of the hash chain: random event sequences verify, and any single changed byte, deleted event
// or swapped pair makes verify fail at exactly the right seq, whether the damage is in the database file or in
// the journal.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import type { AuditEvent, AuditEventInput } from '../../src/protocol/auditEvent';
import { AuditLog, verifyAuditLog } from '../../src/core/audit/auditLog';
import { canonicalJson, chainHash, GENESIS_HASH } from '../../src/core/audit/hashChain';
import { Redactor } from '../../src/core/audit/redaction';
import { editDatabase, eventArb, flipByte, journalLines, removeDir, sampleEvent, tempStateDir, writeJournalLines } from '../fixtures/auditTestKit';

/** Appends `dbPart` events and writes them into the database, then `journalPart` events that stay in the journal. */
async function buildLog(dbPart: readonly AuditEventInput[], journalPart: readonly AuditEventInput[]): Promise<{ dir: string; events: AuditEvent[] }> {
  const dir = tempStateDir('chain');
  const log = await AuditLog.open(dir, { persist: { minEvents: 1e9, onClose: false } });
  const events: AuditEvent[] = [];
  events.push(...(await Promise.all(dbPart.map((e) => log.append(e)))));
  if (dbPart.length > 0) await log.persist();
  events.push(...(await Promise.all(journalPart.map((e) => log.append(e)))));
  await log.close();
  return { dir, events };
}

/** RFC 8785's reference implementation (`canonicalize`, published with the RFC). */
async function rfc8785Reference(): Promise<(v: unknown) => string> {
  const mod = (await import('canonicalize')) as unknown as { default: ((v: unknown) => string) | { default: (v: unknown) => string } };
  return typeof mod.default === 'function' ? mod.default : mod.default.default;
}

/** JSON values whose keys are the hard cases of member order: integer-like, non-ASCII, "__proto__", secret-looking. */
const keyedValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom('0', '1', '9', '10', '01', '4294967294', '4294967295', '-1', '__proto__', 'Z', 'a', '\u00e9', '\ud83d\ude00', '\uff01', 'api_key', 'password'), fc.string({ maxLength: 6 }), fc.nat().map(String)),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value;

describe('AuditLog hash chain (property tests)', function () {
  this.timeout(120_000);

  it('canonical JSON is RFC 8785: its own examples of key order, numbers and strings come out byte for byte', () => {
    // RFC 8785 §3.2.3: members sorted by their UTF-16 code units (not by code point, not by locale).
    const sorting = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    assert.equal(
      canonicalJson(sorting),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    // RFC 8785 §3.2.2 (its example input, written as JavaScript literals).
    const mixed = {
      numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/',
      literals: [null, true, false],
    };
    assert.equal(canonicalJson(mixed), '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
    // Appendix B number forms; -0 is 0; members without a JSON value are left out; arrays keep their order.
    assert.equal(canonicalJson([1e21, 1e-7, -0, 5e-324, 9007199254740992, 0.1 + 0.2]), '[1e+21,1e-7,0,5e-324,9007199254740992,0.30000000000000004]');
    assert.equal(canonicalJson({ b: [3, 1], a: undefined, c: { z: 1, y: null } }), '{"b":[3,1],"c":{"y":null,"z":1}}');
    // Values JSON cannot carry are refused rather than written in a form another implementation would read differently.
    assert.throws(() => canonicalJson({ s: 'a\ud800b' }), /surrogate/i);
    assert.throws(() => canonicalJson({ n: Number.NaN }), /NaN/);
    assert.throws(() => canonicalJson({ n: Number.POSITIVE_INFINITY }), /Infinity/);
    // A lone surrogate is refused wherever it is (a key, deep inside), and only a lone one: a pair, or text that
    // merely looks like its escape, is written.
    assert.throws(() => canonicalJson({ a: [{ '\udc00k': 1 }] }), /surrogate/i);
    assert.throws(() => canonicalJson(['x\\\\\ud83d']), /surrogate/i);
    assert.equal(canonicalJson(['\\ud800', '\\\\ud800', '\ud83d\ude00']), '["\\\\ud800","\\\\\\\\ud800","\ud83d\ude00"]');
  });

  it('canonical JSON equals the RFC 8785 reference implementation on random JSON values, and refuses what it refuses', async () => {
    // `canonicalize` is the implementation published with the RFC; ours must write every value byte for byte alike.
    const reference = await rfc8785Reference();
    const outcome = (f: () => string): string => {
      try {
        return `ok ${f()}`;
      } catch {
        return 'refused';
      }
    };
    // Keys and strings from all of UTF-16 (lone surrogates included), numbers of every magnitude and sign.
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: fc.constantFrom('\\', '"', 'u', 'd', '8', '\n', '\u001f', '\ud800', '\udc00', 'a') }));
    const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(-0, 1e21, 1e-7, 5e-324, 2 ** 53, 0.1 + 0.2));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, text, number, fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(text, tie('value'), { maxKeys: 6 })),
    }));
    fc.assert(
      fc.property(value, (v) => {
        assert.equal(outcome(() => canonicalJson(v)), outcome(() => reference(v)));
      }),
      { numRuns: 3000 },
    );
  });

  it('the redacted copies the log hashes are written by JSON.stringify exactly as RFC 8785 writes them, unless redactOrdered says otherwise', async () => {
    const reference = await rfc8785Reference();
    const redactor = new Redactor([]);
    fc.assert(
      fc.property(keyedValue, (v) => {
        const { value, canonical } = redactor.redactOrdered(v);
        // Exactly: it says canonical when (and only when) the native writer's text is the reference's.
        assert.equal(canonical, JSON.stringify(value) === reference(value));
      }),
      { numRuns: 2000 },
    );
    // JavaScript enumerates integer-like keys first, in numeric order: "10" before "9" cannot be had.
    assert.equal(redactor.redactOrdered({ args: { 10: 'a', 9: 'b' } }).canonical, false);
    assert.equal(redactor.redactOrdered({ 1: 'a', 2: 'b', x: 'c' }).canonical, true);
  });

  it('every event is stored as RFC 8785 canonical JSON, whatever keys its args and result have', async () => {
    const reference = await rfc8785Reference();
    const inputs = fc.sample(fc.record({ runId: fc.constant('run-k'), agent: fc.constant('a'), type: fc.constant('tool.call' as const), tool: fc.constant('fs.read'), args: keyedValue, result: keyedValue, reason: fc.string({ maxLength: 20 }) }), { numRuns: 300, seed: 8785 });
    const { dir } = await buildLog([], inputs);
    try {
      const bodies = journalLines(dir)
        .slice(1)
        .map((l) => l.slice(l.indexOf('"event":') + 8, -2));
      assert.equal(bodies.length, inputs.length);
      for (const body of bodies) assert.equal(body, reference(JSON.parse(body)));
    } finally {
      removeDir(dir);
    }
  });

  it('each hash is sha256(prevHash + RFC 8785 JSON of the event without hash), from 64 zeros', async () => {
    const { dir, events } = await buildLog([sampleEvent(1), sampleEvent(2)], [sampleEvent(3)]);
    try {
      let prev = GENESIS_HASH;
      for (const e of events) {
        const { hash, ...rest } = e;
        assert.equal(e.prevHash, prev);
        assert.equal(hash, chainHash(prev, canonicalJson(rest)));
        prev = hash;
      }
    } finally {
      removeDir(dir);
    }
  });

  it('random event sequences verify, and read back exactly as appended', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 30 }), fc.nat(), async (inputs, split) => {
        const cut = split % (inputs.length + 1);
        const { dir, events } = await buildLog(inputs.slice(0, cut), inputs.slice(cut));
        try {
          const v = await verifyAuditLog(dir);
          assert.ok(v.ok, v.message);
          assert.equal(v.events, inputs.length);
          const log = await AuditLog.open(dir, { readOnly: true });
          const page = await log.query({ after: 0, limit: 1000 });
          await log.close();
          assert.deepEqual(page.events, events);
          assert.deepEqual(
            events.map((e) => e.seq),
            inputs.map((_, i) => i + 1),
          );
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a changed byte in any stored event (body or hash) in the database file fails at that seq', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 20 }), fc.nat(), fc.nat(), fc.boolean(), fc.integer({ min: 0, max: 10_000 }), async (inputs, pick, pos, inHash, seed) => {
        const { dir, events } = await buildLog(inputs, [sampleEvent(99)]);
        try {
          const target = events[pick % inputs.length]!;
          await editDatabase(dir, (run) => {
            if (inHash) {
              const hash = Buffer.from(target.hash, 'hex');
              flipByte(hash, pos % hash.length, seed);
              run('UPDATE events SET hash = ? WHERE seq = ?', [hash, target.seq]);
            } else {
              const body = Buffer.from(String(run('SELECT body FROM events WHERE seq = ?', [target.seq])[0]![0]), 'utf8');
              flipByte(body, pos % body.length, seed);
              run('UPDATE events SET body = CAST(? AS TEXT) WHERE seq = ?', [body, target.seq]);
            }
          });
          const v = await verifyAuditLog(dir);
          assert.equal(v.ok, false);
          assert.equal(v.firstBadSeq, target.seq, v.message);
          assert.equal(v.where, 'database');
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a byte flipped in the raw database file, inside an event, fails at that seq', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 25 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 10_000 }), async (n, pick, pos, seed) => {
        const inputs = Array.from({ length: n }, (_, i) => sampleEvent(i + 1));
        const { dir, events } = await buildLog(inputs, []);
        try {
          const target = events[pick % n]!;
          const { hash: _hash, ...rest } = target;
          const body = Buffer.from(canonicalJson(rest), 'utf8');
          const path = join(dir, 'audit.sqlite');
          const file = fs.readFileSync(path);
          const at = file.indexOf(body);
          assert.ok(at >= 0 && file.indexOf(body, at + 1) < 0, 'the event is stored once, contiguously');
          flipByte(file, at + (pos % body.length), seed);
          fs.writeFileSync(path, file);
          const v = await verifyAuditLog(dir);
          assert.equal(v.ok, false);
          assert.equal(v.firstBadSeq, target.seq, v.message);
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('a deleted or swapped event in the database fails at the first seq out of place', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 20 }), fc.nat(), fc.boolean(), fc.boolean(), async (n, pick, swap, withJournal) => {
        const inputs = Array.from({ length: n }, (_, i) => sampleEvent(i + 1));
        const { dir } = await buildLog(inputs, withJournal ? [sampleEvent(100)] : []);
        try {
          const k = 1 + (pick % (n - 1));
          await editDatabase(dir, (run) => {
            if (swap) {
              const [a, b] = [run('SELECT body, hash FROM events WHERE seq = ?', [k])[0]!, run('SELECT body, hash FROM events WHERE seq = ?', [k + 1])[0]!];
              run('UPDATE events SET body = ?, hash = ? WHERE seq = ?', [b[0] as string, b[1] as Uint8Array, k]);
              run('UPDATE events SET body = ?, hash = ? WHERE seq = ?', [a[0] as string, a[1] as Uint8Array, k + 1]);
            } else {
              // Deleting the newest event of the database is caught by its recorded head (or the journal after it).
              run('DELETE FROM events WHERE seq = ?', [pick % 2 ? k : n]);
            }
          });
          const expected = swap ? k : pick % 2 ? k : n;
          const v = await verifyAuditLog(dir);
          assert.equal(v.ok, false);
          assert.equal(v.firstBadSeq, expected, v.message);
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a changed byte anywhere in a journal line fails at that seq', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { minLength: 0, maxLength: 6 }), fc.array(eventArb, { minLength: 1, maxLength: 20 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 10_000 }), async (inDb, inJournal, pick, pos, seed) => {
        const { dir, events } = await buildLog(inDb, inJournal);
        try {
          const lines = journalLines(dir);
          const k = pick % inJournal.length;
          const line = Buffer.from(lines[1 + k]!, 'utf8');
          // Every byte of the line, its newline included, except the newline that ends the journal: cutting that
          // makes the last event an unfinished write, which no chain can tell from a crash (see docs/audit.md).
          const last = k === inJournal.length - 1;
          flipByte(line, pos % (last ? line.length - 1 : line.length), seed);
          const bytes = lines.map((l) => Buffer.from(l, 'utf8'));
          bytes[1 + k] = line;
          fs.writeFileSync(join(dir, 'audit.journal'), Buffer.concat(bytes));
          const v = await verifyAuditLog(dir);
          assert.equal(v.ok, false);
          assert.equal(v.firstBadSeq, events[inDb.length + k]!.seq, v.message);
          assert.equal(v.where, 'journal');
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('a deleted or swapped journal line fails at the first seq out of place', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 2, max: 15 }), fc.nat(), fc.boolean(), async (inDb, inJournal, pick, swap) => {
        const { dir, events } = await buildLog(
          Array.from({ length: inDb }, (_, i) => sampleEvent(i)),
          Array.from({ length: inJournal }, (_, i) => sampleEvent(50 + i)),
        );
        try {
          const lines = journalLines(dir);
          const k = pick % (inJournal - 1);
          if (swap) [lines[1 + k], lines[2 + k]] = [lines[2 + k]!, lines[1 + k]!];
          else lines.splice(1 + k, 1);
          writeJournalLines(dir, lines);
          const v = await verifyAuditLog(dir);
          assert.equal(v.ok, false);
          assert.equal(v.firstBadSeq, events[inDb + k]!.seq, v.message);
        } finally {
          removeDir(dir);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a large database is checked in chunks on worker threads, and still fails at the exact seq', async () => {
    const dir = tempStateDir('chain-big');
    try {
      const log = await AuditLog.open(dir, { persist: { minEvents: 1e9 } });
      for (let k = 0; k < 9; k++) await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(sampleEvent(k * 1000 + i))));
      await log.close();
      for (const threads of [undefined, 0]) assert.ok((await verifyAuditLog(dir, { threads })).ok);
      await editDatabase(dir, (run) => run(`UPDATE events SET body = replace(body, '"seq":6500', '"seq":6501') WHERE seq = 6500`));
      for (const threads of [undefined, 0, 1]) assert.equal((await verifyAuditLog(dir, { threads })).firstBadSeq, 6500);
      await editDatabase(dir, (run) => run('DELETE FROM events WHERE seq IN (4321, 8000)'));
      const v = await verifyAuditLog(dir);
      assert.equal(v.firstBadSeq, 4321, v.message);
      assert.equal(v.problem, 'out-of-order');
      assert.equal(v.events, 4320);
    } finally {
      removeDir(dir);
    }
  });

  it('a journal that does not continue the database (edited header, or missing events between) fails right after the database', async () => {
    const { dir, events } = await buildLog([sampleEvent(1), sampleEvent(2), sampleEvent(3)], [sampleEvent(4)]);
    try {
      const lines = journalLines(dir);
      const header = JSON.parse(lines[0]!) as { airlockJournal: number; after: { seq: number; hash: string; ts: string } };
      writeJournalLines(dir, [`${JSON.stringify({ ...header, after: { ...header.after, hash: 'f'.repeat(64) } })}\n`, ...lines.slice(1)]);
      let v = await verifyAuditLog(dir);
      assert.equal(v.firstBadSeq, 4, v.message);
      await editDatabase(dir, (run) => run('DELETE FROM events WHERE seq = 3'));
      writeJournalLines(dir, lines);
      v = await verifyAuditLog(dir);
      assert.equal(v.firstBadSeq, 3, v.message);
      assert.equal(events.length, 4);
    } finally {
      removeDir(dir);
    }
  });
});
