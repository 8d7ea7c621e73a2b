// Pending changes on disk: what finished runs propose survives a reload, byte for byte, with the reviewer's
// hunk decisions; interrupted writes leave the old state or the new one; damaged records are moved aside, said,
// and never half-read.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PendingStore, type PendingRunRecord } from '../../src/core/staging/pendingStore';
import { pendingCrashRun } from '../fixtures/pendingCrashPlan';
import { removeDir, tempDir } from '../fixtures/snapshotTree';

const binary = randomBytes(4096);

function sampleRun(runId = 'run-20261121-100000-abc123', recordedAt = '2026-11-21T10:00:00.000Z'): PendingRunRecord {
  return {
    runId,
    agent: 'refactor',
    workspace: '/work/space',
    recordedAt,
    changes: [
      { change: { path: 'src/money.ts', kind: 'modify', level: 'review', before: Buffer.from('a\nb\nc\n'), after: Buffer.from('a\nB\nc\n') }, decisions: new Map([[0, 'approved' as const]]) },
      { change: { path: 'docs/naïve file ✓.md', kind: 'create', level: 'auto', before: null, after: Buffer.from('# hi\n') }, decisions: new Map() },
      { change: { path: 'assets/logo.bin', kind: 'modify', level: 'require', before: binary, after: Buffer.concat([binary, Buffer.from([0, 255])]) }, decisions: new Map() },
      { change: { path: 'tmp/scratch.txt', kind: 'delete', level: 'require', before: Buffer.from('a\nb\nc\n'), after: null }, decisions: new Map() },
      { change: { path: 'empty.txt', kind: 'create', level: 'review', before: null, after: Buffer.alloc(0) }, decisions: new Map([[0, 'rejected' as const]]) },
    ],
  };
}

function plain(r: PendingRunRecord): unknown {
  return { ...r, changes: r.changes.map((c) => ({ ...c.change, before: c.change.before?.toString('hex') ?? null, after: c.change.after?.toString('hex') ?? null, decisions: [...c.decisions] })) };
}

describe('PendingStore', () => {
  let state: string;
  beforeEach(() => (state = tempDir('airlock-pending-')));
  afterEach(() => removeDir(state));

  it('reads back every run exactly: text, binary, empty, Unicode names, creates and deletes, hunk decisions', async () => {
    const store = new PendingStore(state);
    const first = sampleRun();
    const second = sampleRun('run-20261121-110000-def456', '2026-11-21T11:00:00.000Z');
    await store.save(second);
    await store.save(first);
    const loaded = await new PendingStore(state).load();
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.runs.map(plain), [plain(first), plain(second)], 'oldest first, byte for byte');
    // Equal contents are stored once ("a\nb\nc\n" is the before of two changes).
    const files = fs.readdirSync(join(store.dir, first.runId));
    assert.equal(files.length, 1 + 6, files.join(', '));
  });

  it('keeps decisions and removals, in the order they were made, and deletes a run with nothing left', async () => {
    const store = new PendingStore(state);
    const run = sampleRun();
    // Not awaited in between: the store keeps each run's writes in order.
    const saved = store.save(run);
    const decided: PendingRunRecord = { ...run, changes: run.changes.map((c, i) => (i === 0 ? { ...c, decisions: new Map([[0, 'rejected' as const], [1, 'approved' as const]]) } : c)) };
    void store.update(decided);
    void store.update({ ...decided, changes: decided.changes.slice(0, 2) });
    await saved;
    await store.settled();
    let loaded = await store.load();
    assert.deepEqual(loaded.runs.map(plain), [plain({ ...decided, changes: decided.changes.slice(0, 2) })]);
    await store.update({ ...run, changes: [] });
    loaded = await store.load();
    assert.deepEqual(loaded.runs, []);
    assert.deepEqual(fs.readdirSync(store.dir), [], 'the run folder is gone');
    // Updating a run that is not stored (already removed) does not bring it back.
    await store.update(run);
    assert.deepEqual((await store.load()).runs, []);
  });

  it('an interrupted save leaves only a temp folder, which the next load removes; the earlier record stays', async () => {
    const store = new PendingStore(state);
    const run = sampleRun();
    await store.save(run);
    const leftover = join(store.dir, `${run.runId}.4242.x1y2z3.tmp`);
    fs.mkdirSync(leftover);
    fs.writeFileSync(join(leftover, 'run.json'), '{"version":1,"runId":"run-');
    const loaded = await store.load();
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.runs.map(plain), [plain(run)]);
    assert.equal(fs.existsSync(leftover), false);
  });

  const damages: Array<[string, (folder: string) => void, RegExp]> = [
    ['run.json that is not JSON', (f) => fs.writeFileSync(join(f, 'run.json'), '{"version":1,'), /run\.json: .*JSON/],
    ['run.json from a newer version', (f) => edit(f, (j) => (j.version = 2)), /run\.json: version/],
    ['a path that leaves the workspace', (f) => edit(f, (j) => (j.changes[0].path = '../../etc/passwd')), /leaves the workspace/],
    ['a path inside .git', (f) => edit(f, (j) => (j.changes[0].path = '.git/hooks/pre-commit')), /\.git/],
    ['a record naming another run', (f) => edit(f, (j) => (j.runId = 'run-other')), /names run run-other/],
    ['a content file changed on disk', (f) => flipByte(f), /does not match its hash/],
    ['a content file missing', (f) => fs.rmSync(join(f, contentFiles(f)[0]!)), /ENOENT/],
    ['a create that carries a before', (f) => edit(f, (j) => (j.changes[1].kind = 'modify', j.changes[0].kind = 'create')), /wrong contents/],
  ];
  for (const [what, damage, message] of damages) {
    it(`moves aside and names ${what}, and still reads the other runs`, async () => {
      const store = new PendingStore(state);
      const bad = sampleRun();
      const good = sampleRun('run-20261121-120000-aaaaaa', '2026-11-21T12:00:00.000Z');
      await store.save(bad);
      await store.save(good);
      damage(join(store.dir, bad.runId));
      const loaded = await store.load();
      assert.deepEqual(loaded.runs.map(plain), [plain(good)]);
      assert.equal(loaded.problems.length, 1);
      assert.match(loaded.problems[0]!, new RegExp(`run ${bad.runId} could not be read back`));
      assert.match(loaded.problems[0]!, message);
      assert.ok(fs.existsSync(join(store.dir, `${bad.runId}.damaged`)), 'kept for a person to look at');
      assert.deepEqual((await store.load()).problems, [], 'said once, not at every load');
    });
  }

  it('refuses run ids that are not names (paths, dot names, reserved endings)', async () => {
    const store = new PendingStore(state);
    for (const runId of ['../escape', 'a/b', '.hidden', 'x.tmp', 'x.damaged', 'x.replaced', '', 'a'.repeat(200)]) {
      await assert.rejects(store.save({ ...sampleRun(), runId }), /not a run id/, runId);
    }
    assert.deepEqual(fs.existsSync(store.dir) ? fs.readdirSync(store.dir) : [], []);
  });

  it('SIGKILL at random moments while saving, deciding and removing: each run reads back whole or not at all', async function () {
    this.timeout(120_000);
    const child = join(__dirname, '..', 'fixtures', 'pendingSaverChild.js');
    let seen = 0;
    for (let i = 0; i < 15; i++) {
      await killAfter(child, state, 5 + ((i * 37) % 60));
      const loaded = await new PendingStore(state).load();
      assert.deepEqual(loaded.problems, [], `after kill ${i + 1}`);
      for (const r of loaded.runs) {
        const k = Number(r.runId.slice(-1));
        const full = pendingCrashRun(k);
        // Whole as saved, or whole as updated (first change removed, hunk 0 approved on the rest).
        const updated = { ...full, changes: full.changes.slice(1).map((c) => ({ ...c, decisions: new Map([[0, 'approved' as const]]) })) };
        assert.ok([plain(full), plain(updated)].some((p) => JSON.stringify(p) === JSON.stringify(plain(r))), `run ${r.runId} after kill ${i + 1} is neither as saved nor as updated`);
        seen++;
      }
    }
    assert.ok(seen > 0, 'the kills found runs on disk');
  });
});

function edit(folder: string, f: (j: any) => void): void {
  const file = join(folder, 'run.json');
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  f(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

function contentFiles(folder: string): string[] {
  return fs.readdirSync(folder).filter((n) => n !== 'run.json').sort();
}

function flipByte(folder: string): void {
  const file = join(folder, contentFiles(folder).find((n) => fs.statSync(join(folder, n)).size > 10)!);
  const b = fs.readFileSync(file);
  b[3] = b[3]! ^ 1;
  fs.writeFileSync(file, b);
}

function killAfter(child: string, state: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, state], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdout.once('data', () => setTimeout(() => p.kill('SIGKILL'), delayMs));
    p.on('error', reject);
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`the child ended by itself (${code}): ${stderr}`))));
  });
}
