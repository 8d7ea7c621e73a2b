// Roll Back… and Show Snapshot… inside a real VS Code: snapshots are made by applying changes through the
// extension's own run state, then rolled back (and redone) through the commands, with every question answered
// through the same Prompts object the message boxes use.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { Snapshot } from '../../src/core/snapshots/snapshotManifest';
import type { SnapshotStore } from '../../src/core/snapshots/snapshotStore';
import type { ProposedChange } from '../../src/core/staging/proposedChange';
import { dirtyChoices } from '../../src/vscode/dirtyEditors';
import type { AirlockApi } from '../../src/vscode/extension';
import { rollbackChoices, type RollbackOutcome, type ShownSnapshot } from '../../src/vscode/rollbackCommands';
import { SnapshotDocuments } from '../../src/vscode/snapshotDocuments';
import type { Question } from '../../src/vscode/userPrompts';
import { activateAirlock, workspaceRoot } from './airlockExtension';
import { waitFor } from './waitFor';

describe('Roll Back… and Show Snapshot… in a real VS Code', function () {
  this.timeout(60_000);
  let api: AirlockApi;
  let root: string;
  let store: SnapshotStore;
  /** Unique per test, so other specs sharing the workspace never see these files. */
  let tag: string;

  before(async () => {
    api = await activateAirlock();
    root = workspaceRoot();
    store = await (await api.runner.state()).snapshots();
  });

  beforeEach(function () {
    tag = `rb-${this.currentTest!.title.replace(/[^a-z]+/gi, '-').slice(0, 24).toLowerCase()}-${Math.random().toString(36).slice(2, 7)}`;
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  const abs = (rel: string) => join(root, ...rel.split('/'));
  const read = (rel: string): Buffer | null => (existsSync(abs(rel)) ? readFileSync(abs(rel)) : null);
  const write = (rel: string, bytes: Buffer) => {
    mkdirSync(dirname(abs(rel)), { recursive: true });
    writeFileSync(abs(rel), bytes);
  };
  const change = (path: string, before: Buffer | null, after: Buffer | null): ProposedChange => ({
    path,
    kind: before === null ? 'create' : after === null ? 'delete' : 'modify',
    before,
    after,
    level: 'auto',
  });
  async function apply(changes: readonly ProposedChange[]): Promise<string> {
    const state = await api.runner.state();
    return state.applyChanges(root, changes, { runId: `run-${tag}`, agent: 'rollback-test', actor: 'human:test' });
  }
  async function snapshot(id: string): Promise<Snapshot> {
    return store.get(id);
  }

  /** Runs `body` with every question answered by `answer`; returns what it returned and the questions asked. */
  async function answering<T>(answer: (q: Question<string>) => string | undefined, body: () => Thenable<T> | Promise<T>): Promise<{ value: T; asked: Question<string>[] }> {
    const asked: Question<string>[] = [];
    const off = api.prompts.answerWith((q) => {
      asked.push(q);
      return answer(q);
    });
    try {
      return { value: await body(), asked };
    } finally {
      off.dispose();
    }
  }
  const rollback = (id?: string) => vscode.commands.executeCommand<RollbackOutcome>('airlock.rollback', id);
  const confirmAll = (q: Question<string>) => q.choices.find((c) => /^Roll Back \d+ Files?$/.test(c));
  const rolledBack = (o: RollbackOutcome) => {
    assert.equal(o.status, 'rolled-back', JSON.stringify(o));
    return (o as Extract<RollbackOutcome, { status: 'rolled-back' }>).result;
  };
  const tabLabels = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
  /** The multi-file diff editor's tab: its title, then the number of files. */
  const hasChangesTab = (title: string, files: number) => tabLabels().includes(`${title} (${files === 1 ? '1 file' : `${files} files`})`);

  it('rolls an apply back byte for byte: a modified file, a created file in new folders removed, a deleted file restored', async () => {
    const modified = `${tag}/data.bin`;
    const deleted = `${tag}/old.txt`;
    const created = `${tag}-new/deep/created.txt`;
    // Bytes a text round trip would change: CRLF, a BOM, invalid UTF-8, NUL.
    const original = Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0x0d, 0x0a, 0xff, 0x00, 0x62, 0x0a]);
    const oldText = Buffer.from('line one\r\nline two\n');
    write(modified, original);
    write(deleted, oldText);
    const applied = Buffer.from('replaced\n');
    const id = await apply([change(modified, original, applied), change(deleted, oldText, null), change(created, null, Buffer.from('new file\n'))]);
    assert.deepEqual(read(modified), applied);
    assert.equal(read(deleted), null);
    assert.ok(existsSync(abs(`${tag}-new/deep`)));

    // An open editor on a rolled-back file ends up showing the restored content.
    const text = `${tag}/notes.md`;
    write(text, Buffer.from('# before\n'));
    const textId = await apply([change(text, Buffer.from('# before\n'), Buffer.from('# after\n'))]);
    const doc = await vscode.workspace.openTextDocument(abs(text));
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.getText(), '# after\n');

    // Cancel at the confirmation (the modal's own Cancel answers undefined): nothing is written.
    const cancelled = await answering(() => undefined, () => rollback(id));
    assert.deepEqual(cancelled.value, { status: 'cancelled', at: 'confirm' });
    assert.equal(cancelled.asked.length, 1);
    assert.deepEqual(read(modified), applied);
    assert.equal(read(deleted), null);

    let previewOpen = false;
    const done = await answering(
      (q) => {
        previewOpen = hasChangesTab(`Roll Back ${id}: now ↔ after the rollback`, 3);
        return confirmAll(q);
      },
      () => rollback(id),
    );
    assert.ok(previewOpen, `the preview was open while the confirmation was asked (tabs: ${tabLabels().join(', ')})`);
    assert.deepEqual(done.asked.map((q) => q.choices), [[rollbackChoices.confirm(3)]]);
    assert.match(done.asked[0]!.detail ?? '', new RegExp(`${created}: removed`));
    assert.match(done.asked[0]!.detail ?? '', new RegExp(`${deleted}: recreated`));
    const result = rolledBack(done.value);
    assert.equal(result.target, id);
    assert.match(result.snapshot.actor, /^human:/);

    assert.deepEqual(read(modified), original);
    assert.deepEqual(read(deleted), oldText);
    assert.equal(read(created), null);
    assert.ok(!existsSync(abs(`${tag}-new`)), 'the folders the apply created are gone');
    assert.equal((await snapshot(id)).state, 'rolled-back');
    assert.ok(!hasChangesTab(`Roll Back ${id}: now ↔ after the rollback`, 3), `the preview closes once it is out of date (tabs: ${tabLabels().join(', ')})`);

    const textDone = await answering(confirmAll, () => rollback(textId));
    rolledBack(textDone.value);
    await waitFor(() => doc.getText() === '# before\n' || undefined, { what: 'the open editor to show the restored content' });
    assert.equal(doc.isDirty, false);
  });

  it('redo (rolling back the rollback) brings the applied content back, and the apply is in effect again', async () => {
    const modified = `${tag}/a.txt`;
    const created = `${tag}/fresh/b.txt`;
    write(modified, Buffer.from('one\n'));
    const id = await apply([change(modified, Buffer.from('one\n'), Buffer.from('two\n')), change(created, null, Buffer.from('b\n'))]);
    const first = rolledBack((await answering(confirmAll, () => rollback(id))).value);
    assert.deepEqual(read(modified), Buffer.from('one\n'));
    assert.equal(read(created), null);

    const redo = await answering(confirmAll, () => rollback(first.snapshot.id));
    assert.match(redo.asked[0]!.message, /^Redo/);
    const second = rolledBack(redo.value);
    assert.equal(second.target, first.snapshot.id);
    assert.deepEqual(read(modified), Buffer.from('two\n'));
    assert.deepEqual(read(created), Buffer.from('b\n'));
    assert.equal((await snapshot(id)).state, 'applied');
    assert.equal((await snapshot(first.snapshot.id)).state, 'rolled-back');

    // The same snapshot cannot be rolled back twice; the message names the redo.
    const again = await answering(() => assert.fail('nothing is asked'), () => rollback(first.snapshot.id));
    assert.equal(again.value.status, 'failed');
    assert.equal((again.value as { reason: string }).reason, 'already-rolled-back');
    assert.match((again.value as { message: string }).message, new RegExp(`roll back ${second.snapshot.id}`));
  });

  it('asks about a file edited since the apply: Cancel changes nothing, Roll Back Anyway restores it, and redo brings the edit back', async () => {
    const edited = `${tag}/edited.txt`;
    const other = `${tag}/other.txt`;
    write(edited, Buffer.from('original\n'));
    write(other, Buffer.from('other original\n'));
    const id = await apply([change(edited, Buffer.from('original\n'), Buffer.from('applied\n')), change(other, Buffer.from('other original\n'), Buffer.from('other applied\n'))]);
    const humanEdit = Buffer.from('applied\nand a human edit\n');
    write(edited, humanEdit);

    const cancel = await answering(() => undefined, () => rollback(id));
    assert.deepEqual(cancel.value, { status: 'cancelled', at: 'conflicts' });
    assert.equal(cancel.asked.length, 1);
    assert.deepEqual(cancel.asked[0]!.choices, [rollbackChoices.force]);
    assert.match(cancel.asked[0]!.message, new RegExp(`${edited} was changed after snapshot ${id}`));
    assert.match(cancel.asked[0]!.detail ?? '', new RegExp(`${edited}: edited since`));
    assert.deepEqual(read(edited), humanEdit);
    assert.deepEqual(read(other), Buffer.from('other applied\n'));
    assert.equal((await snapshot(id)).state, 'applied');

    const forced = await answering(() => rollbackChoices.force, () => rollback(id));
    assert.equal(forced.asked.length, 1, 'the conflict question is the confirmation');
    const result = rolledBack(forced.value);
    assert.deepEqual(result.overridden.map((c) => c.path), [edited]);
    assert.deepEqual(read(edited), Buffer.from('original\n'));
    assert.deepEqual(read(other), Buffer.from('other original\n'));

    rolledBack((await answering(confirmAll, () => rollback(result.snapshot.id))).value);
    assert.deepEqual(read(edited), humanEdit, 'redo brings the human edit back, not the applied content');
    assert.deepEqual(read(other), Buffer.from('other applied\n'));
  });

  it('asks before rolling back under an unsaved editor: Cancel writes nothing; discarding rolls back and the editor shows it', async () => {
    const path = `${tag}/dirty.txt`;
    write(path, Buffer.from('before\n'));
    const id = await apply([change(path, Buffer.from('before\n'), Buffer.from('after\n'))]);
    const doc = await vscode.workspace.openTextDocument(abs(path));
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'unsaved '));
    assert.ok(doc.isDirty);

    const cancel = await answering((q) => (q.choices.includes(dirtyChoices.discard) ? dirtyChoices.cancel : confirmAll(q)), () => rollback(id));
    assert.deepEqual(cancel.value, { status: 'cancelled', at: 'dirty-editors' });
    assert.equal(cancel.asked.length, 2);
    assert.match(cancel.asked[1]!.message, /unsaved edits/);
    assert.deepEqual(read(path), Buffer.from('after\n'));
    assert.equal(doc.getText(), 'unsaved after\n');
    assert.ok(doc.isDirty);
    assert.equal((await snapshot(id)).state, 'applied');

    const discard = await answering((q) => (q.choices.includes(dirtyChoices.discard) ? dirtyChoices.discard : confirmAll(q)), () => rollback(id));
    rolledBack(discard.value);
    assert.deepEqual(read(path), Buffer.from('before\n'));
    await waitFor(() => (doc.getText() === 'before\n' && !doc.isDirty) || undefined, { what: 'the editor to show the rolled-back content' });
  });

  it('Show Snapshot opens the before ↔ after diff of a snapshot, and its documents hold the exact contents', async () => {
    const path = `${tag}/shown.txt`;
    const created = `${tag}/shown-new.txt`;
    write(path, Buffer.from('shown before\n'));
    const id = await apply([change(path, Buffer.from('shown before\n'), Buffer.from('shown after\n')), change(created, null, Buffer.from('brand new\n'))]);

    const shown = await answering(() => assert.fail('showing asks nothing'), () => vscode.commands.executeCommand<ShownSnapshot | undefined>('airlock.showSnapshot', id));
    assert.ok(shown.value, 'the command returns what it showed');
    assert.equal(shown.value.snapshot.id, id);
    const title = shown.value.title;
    await waitFor(() => hasChangesTab(title, 2) || undefined, { what: `a tab titled ${title} (tabs: ${tabLabels().join(', ')})` });

    // The same read-only documents the diff shows: the stored before, the written after, empty for "did not exist".
    const text = async (side: string, p: string, state: Snapshot['files'][number]['before']) =>
      (await vscode.workspace.openTextDocument(SnapshotDocuments.uriFor({ snapshotId: id, path: p, state, side }))).getText();
    const s = await snapshot(id);
    const f = s.files.find((x) => x.path === path)!;
    const c = s.files.find((x) => x.path === created)!;
    assert.equal(await text('before', path, f.before), 'shown before\n');
    assert.equal(await text('after', path, f.after), 'shown after\n');
    assert.equal(await text('before', created, c.before), '');
    assert.equal(await text('after', created, c.after), 'brand new\n');
    // Content that neither the store nor the workspace holds any more is explained, never made up.
    write(path, Buffer.from('edited later\n'));
    const gone = await text('after', `${path}`, { ...f.after!, hash: 'f'.repeat(64) });
    assert.match(gone, /no longer available/);
  });

  it('says what to do when the snapshot id is unknown, and writes nothing', async () => {
    const outcome = await answering(() => assert.fail('nothing is asked'), () => rollback('20000101-000000-zzzz'));
    assert.equal(outcome.value.status, 'failed');
    assert.equal((outcome.value as { reason: string }).reason, 'unknown-snapshot');
    assert.match((outcome.value as { message: string }).message, /no snapshot 20000101-000000-zzzz.*Pick one/s);
    const shown = await vscode.commands.executeCommand<ShownSnapshot | undefined>('airlock.showSnapshot', '20000101-000000-zzzz');
    assert.equal(shown, undefined);
  });

  it('says the store is busy when another process holds it, and leaves the files as they are', async function () {
    this.timeout(90_000);
    const path = `${tag}/locked.txt`;
    write(path, Buffer.from('before\n'));
    const id = await apply([change(path, Buffer.from('before\n'), Buffer.from('after\n'))]);
    // A lock from another machine is never taken over: the store waits for it, then gives up.
    const lock = join(store.dir, 'lock');
    writeFileSync(lock, JSON.stringify({ pid: 1, host: `not-${hostname()}`, boot: 'elsewhere', token: 'held-by-test' }), { flag: 'wx' });
    try {
      const outcome = await answering(confirmAll, () => rollback(id));
      assert.equal(outcome.value.status, 'failed', JSON.stringify(outcome.value));
      assert.equal((outcome.value as { reason: string }).reason, 'locked');
      assert.match((outcome.value as { message: string }).message, /another Airlock.*Nothing was changed\. Try again/s);
    } finally {
      rmSync(lock, { force: true });
    }
    assert.deepEqual(read(path), Buffer.from('after\n'));
    assert.equal((await snapshot(id)).state, 'applied');
    rolledBack((await answering(confirmAll, () => rollback(id))).value);
    assert.deepEqual(read(path), Buffer.from('before\n'));
  });
});
