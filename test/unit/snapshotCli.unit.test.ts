// `airlock snapshots` and `airlock rollback`: output, JSON, exit codes (0 ok, 1 failed, 2 usage/unknown id,
// 4 conflicts), called directly and as a real process.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runRollbackCommand, runSnapshotsCommand } from '../../src/cli/snapshotsCommand';
import { AuditLog } from '../../src/core/audit/auditLog';
import type { ProposedChange } from '../../src/core/staging/proposedChange';
import { SnapshotStore } from '../../src/core/snapshots/snapshotStore';
import { MemoryAuditSink, pictureTree, removeDir, tempDir, writeTree } from '../fixtures/snapshotTree';

const PROCESS = join(__dirname, '..', 'fixtures', 'snapshotCliProcess.js');

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => (out.stdout += s), stderr: (s: string) => (out.stderr += s) } };
}

function modify(path: string, before: string, after: string): ProposedChange {
  return { path, kind: 'modify', before: Buffer.from(before), after: Buffer.from(after), level: 'auto' };
}

describe('airlock snapshots / airlock rollback', () => {
  let ws: string;
  let state: string;

  beforeEach(() => {
    ws = tempDir('snap-cli-ws');
    state = join(ws, '.airlock', 'state');
    writeTree(ws, { 'a.txt': 'a', 'b.txt': 'b' });
  });
  afterEach(() => removeDir(ws));

  async function twoApplies() {
    const store = await SnapshotStore.open(state);
    const s1 = await store.apply(ws, [modify('a.txt', 'a', 'A')], { runId: 'run-one', agent: 'refactor', actor: 'policy' });
    const s2 = await store.apply(ws, [modify('b.txt', 'b', 'B'), { path: 'new/c.txt', kind: 'create', before: null, after: Buffer.from('c'), level: 'auto' }], { runId: 'run-two', agent: 'tidy', actor: 'human:ada' });
    return { store, s1, s2 };
  }

  it('lists nothing (and creates nothing) in a workspace never applied to', async () => {
    const { out, io } = capture();
    assert.equal(await runSnapshotsCommand(['--workspace', ws], io), 0);
    assert.match(out.stdout, /No snapshots/);
    assert.ok(!existsSync(join(ws, '.airlock')));
    const j = capture();
    assert.equal(await runSnapshotsCommand(['--workspace', ws, '--json'], j.io), 0);
    assert.deepEqual(JSON.parse(j.out.stdout), { snapshots: [] });
  });

  it('lists id, time, run, agent, files and state, newest first, as a table and as JSON', async () => {
    const { s1, s2 } = await twoApplies();
    const { out, io } = capture();
    assert.equal(await runSnapshotsCommand(['--workspace', ws], io), 0);
    const lines = out.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+TIME\s+KIND\s+RUN\s+AGENT\s+FILES\s+STATE$/);
    assert.match(lines[1]!, new RegExp(`^${s2.id}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+apply\\s+run-two\\s+tidy\\s+2\\s+applied$`));
    assert.match(lines[2]!, new RegExp(`^${s1.id}\\s.*run-one\\s+refactor\\s+1\\s+applied$`));
    const j = capture();
    assert.equal(await runSnapshotsCommand(['--workspace', ws, '--json'], j.io), 0);
    const list = JSON.parse(j.out.stdout).snapshots;
    assert.deepEqual(list.map((s: { id: string }) => s.id), [s2.id, s1.id]);
    assert.deepEqual(list[0].files, [{ path: 'b.txt', change: 'modify' }, { path: 'new/c.txt', change: 'create' }]);
    assert.equal(list[0].state, 'applied');
    assert.equal(list[0].actor, 'human:ada');
  });

  it('rollback --last undoes the newest apply in effect, says how to redo, and is audited', async () => {
    const { s1, s2 } = await twoApplies();
    const audit = new MemoryAuditSink();
    const { out, io } = capture();
    assert.equal(await runRollbackCommand(['--last', '--workspace', ws], io, { audit }), 0);
    assert.equal(readFileSync(join(ws, 'b.txt'), 'utf8'), 'b');
    assert.ok(!existsSync(join(ws, 'new')));
    assert.match(out.stdout, new RegExp(`Rolled back ${s2.id} \\(2 files\\)`));
    assert.match(out.stdout, /M b\.txt/);
    assert.match(out.stdout, /D new\/c\.txt/);
    const redoId = /airlock rollback (\S+)` redoes/.exec(out.stdout)![1]!;
    assert.equal(audit.events.length, 1);
    assert.equal(audit.events[0]!.type, 'rollback');
    assert.match(audit.events[0]!.actor!, /^human:/);
    // --last now means the apply before it.
    const second = capture();
    assert.equal(await runRollbackCommand(['--last', '--workspace', ws], second.io), 0);
    assert.match(second.out.stdout, new RegExp(`Rolled back ${s1.id}`));
    // Redo the first rollback by its id (a unique prefix is enough): the shortest prefix no other snapshot has
    // (ids made in the same second share all but their last four characters, which are random: about once in a
    // thousand runs two of them differ only in the last one, and the whole id is then that prefix).
    const listed = capture();
    assert.equal(await runSnapshotsCommand(['--workspace', ws, '--json'], listed.io), 0);
    const others = (JSON.parse(listed.out.stdout).snapshots as Array<{ id: string }>).map((x) => x.id).filter((id) => id !== redoId);
    let prefix = redoId.slice(0, 4);
    while (others.some((id) => id.startsWith(prefix))) prefix = redoId.slice(0, prefix.length + 1);
    const redo = capture();
    assert.equal(await runRollbackCommand([prefix, '--workspace', ws, '--json'], redo.io), 0);
    const r = JSON.parse(redo.out.stdout);
    assert.equal(r.ok, true);
    assert.equal(r.target, redoId);
    assert.equal(readFileSync(join(ws, 'new/c.txt'), 'utf8'), 'c');
  });

  it('without an audit sink from the dispatcher, records the rollback in the workspace audit log', async () => {
    const { s2 } = await twoApplies();
    const { io } = capture();
    assert.equal(await runRollbackCommand([s2.id, '--workspace', ws], io), 0);
    const log = await AuditLog.open(state, { readOnly: true });
    try {
      const events = (await log.query({ type: 'rollback' })).events;
      assert.equal(events.length, 1);
      assert.equal((events[0]!.args as { target: string }).target, s2.id);
      assert.match(events[0]!.actor!, /^human:/);
    } finally {
      await log.close();
    }
  });

  it('refuses with exit 4 and names the file a human edited; --force overrides', async () => {
    const { s1 } = await twoApplies();
    writeFileSync(join(ws, 'a.txt'), 'human');
    const before = pictureTree(ws);
    const { out, io } = capture();
    assert.equal(await runRollbackCommand([s1.id, '--workspace', ws], io), 4);
    assert.match(out.stderr, /refused/);
    assert.match(out.stderr, /a\.txt \(edited since\)/);
    assert.match(out.stderr, /--force/);
    assert.deepEqual(pictureTree(ws), before);
    const j = capture();
    assert.equal(await runRollbackCommand([s1.id, '--workspace', ws, '--json'], j.io), 4);
    const body = JSON.parse(j.out.stdout);
    assert.equal(body.error, 'conflicts');
    assert.deepEqual(body.conflicts.map((c: { path: string }) => c.path), ['a.txt']);
    const forced = capture();
    assert.equal(await runRollbackCommand([s1.id, '--workspace', ws, '--force'], forced.io), 0);
    assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'a');
    assert.match(forced.out.stdout, /Overwrote 1 file/);
  });

  it('usage errors, unknown ids and repeated rollbacks exit 2; a damaged snapshot exits 1', async () => {
    const { s1, store } = await twoApplies();
    const cases: [string[], number, RegExp][] = [
      [['--workspace', ws], 2, /exactly one snapshot id, or --last/],
      [[s1.id, '--last', '--workspace', ws], 2, /exactly one/],
      [['--bogus'], 2, /Unknown option/],
      [['20990101-000000-beef', '--workspace', ws], 2, /no snapshot 20990101-000000-beef/],
      [['x', '--workspace', join(ws, 'missing')], 2, /is not a folder/],
    ];
    for (const [args, code, message] of cases) {
      const { out, io } = capture();
      assert.equal(await runRollbackCommand(args, io), code, args.join(' '));
      assert.match(out.stderr, message);
    }
    const ok = capture();
    assert.equal(await runRollbackCommand([s1.id, '--workspace', ws], ok.io), 0);
    const again = capture();
    assert.equal(await runRollbackCommand([s1.id, '--workspace', ws], again.io), 2);
    assert.match(again.out.stderr, /already rolled back/);
    const s3 = await store.apply(ws, [modify('a.txt', 'a', 'AA')], { runId: 'r3', agent: 'x', actor: 'policy' });
    // a.txt is small, so its bytes are kept inline in the manifest: damage them there.
    const manifestPath = join(state, 'snapshots', 'manifests', `${s3.id}.json`);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.files[0].before.data = Buffer.from('z').toString('base64');
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const damaged = capture();
    assert.equal(await runRollbackCommand([s3.id, '--workspace', ws, '--json'], damaged.io), 1);
    assert.equal(JSON.parse(damaged.out.stdout).error, 'damaged-blob');
    assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'AA');
    const help = capture();
    assert.equal(await runSnapshotsCommand(['--help'], help.io), 0);
    assert.match(help.out.stdout, /Usage: airlock snapshots/);
  });

  it('works as a real process with --state, with the documented exit codes', async () => {
    const elsewhere = tempDir('snap-cli-state');
    try {
      const store = await SnapshotStore.open(elsewhere);
      const s = await store.apply(ws, [modify('a.txt', 'a', 'A')], { runId: 'p', agent: 'p', actor: 'policy' });
      writeFileSync(join(ws, 'a.txt'), 'edited');
      const run = (...args: string[]) => spawnSync(process.execPath, [PROCESS, ...args], { encoding: 'utf8' });
      const list = run('snapshots', '--workspace', ws, '--state', elsewhere, '--json');
      assert.equal(list.status, 0, list.stderr);
      assert.equal(JSON.parse(list.stdout).snapshots[0].id, s.id);
      const refused = run('rollback', s.id, '--workspace', ws, '--state', elsewhere);
      assert.equal(refused.status, 4, refused.stderr);
      assert.match(refused.stderr, /a\.txt \(edited since\)/);
      const forced = run('rollback', s.id, '--workspace', ws, '--state', elsewhere, '--force');
      assert.equal(forced.status, 0, forced.stderr);
      assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'a');
      assert.equal(run('rollback', 'nope', '--workspace', ws, '--state', elsewhere).status, 2);
    } finally {
      removeDir(elsewhere);
    }
  });
});
