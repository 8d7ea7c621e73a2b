// `Airlock: Roll Back…` and `Airlock: Show Snapshot…`: pick a snapshot, preview what restoring it changes,
// handle files edited since, roll back, and offer the redo. Both commands take a snapshot id (the Audit
// Timeline passes one); the quick pick is only the no-argument path, so tests drive everything else.
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { AgentRunner } from './agentRunner';
import { humanActor } from './approvalPrompts';
import { settleDirtyEditors } from './dirtyEditors';
import { SnapshotDocuments, snapshotScheme } from './snapshotDocuments';
import { countFiles, describeSnapshot, fileNames, pickSnapshot, relativeTime } from './snapshotPicker';
import type { Prompts } from './userPrompts';
import { SnapshotError, type RollbackConflict, type SnapshotErrorReason } from '../core/snapshots/snapshotError';
import { fileChange, type FileChange, type Snapshot } from '../core/snapshots/snapshotManifest';
import type { RollbackPlan, RollbackResult, SnapshotStore } from '../core/snapshots/snapshotStore';

export const rollbackCommandIds = {
  rollback: 'airlock.rollback',
  showSnapshot: 'airlock.showSnapshot',
} as const;

/**
 * The answers the rollback questions offer (tests answer with these). There is no Cancel among them: the
 * questions are modal, and VS Code's modal dialog has its own Cancel (and Escape), which answers undefined.
 */
export const rollbackChoices = {
  /** The confirmation when nothing conflicts. */
  confirm: (files: number) => `Roll Back ${files === 1 ? '1 File' : `${files} Files`}`,
  /** Overwrite files edited since the snapshot (their current bytes are snapshotted first). */
  force: 'Roll Back Anyway',
} as const;

export type RollbackOutcome =
  | { readonly status: 'rolled-back'; readonly result: RollbackResult }
  /** The user stopped at this step; nothing was written. */
  | { readonly status: 'cancelled'; readonly at: 'pick' | 'confirm' | 'conflicts' | 'dirty-editors' }
  /** Nothing was written (except `undo-failed`, where the next open of the store finishes the undo). */
  | { readonly status: 'failed'; readonly reason: SnapshotErrorReason | 'error'; readonly message: string };

export interface ShownSnapshot {
  /** The multi-file diff editor's title. */
  readonly title: string;
  readonly snapshot: Snapshot;
}

export interface RollbackServices {
  /** `runner.state()` gives the workspace's snapshot store (`(await runner.state()).snapshots()`). */
  readonly runner: AgentRunner;
  /** Ask through this (never vscode.window.show*Message directly) for anything that guards a write. */
  readonly prompts: Prompts;
  readonly log: vscode.LogOutputChannel;
}

export function registerRollbackCommands(s: RollbackServices): vscode.Disposable[] {
  const store = async () => (await s.runner.state()).snapshots();
  const flow = new RollbackFlow(s, store);
  const idArg = (arg: unknown) => (typeof arg === 'string' && arg.trim() !== '' ? arg.trim() : undefined);
  return [
    vscode.workspace.registerTextDocumentContentProvider(snapshotScheme, new SnapshotDocuments(store)),
    vscode.commands.registerCommand(rollbackCommandIds.rollback, (id?: unknown) => flow.rollback(idArg(id))),
    vscode.commands.registerCommand(rollbackCommandIds.showSnapshot, (id?: unknown) => flow.show(idArg(id))),
  ];
}

interface Steps {
  /** Open the preview diff first. */
  readonly preview: boolean;
  /** Ask before rolling back when nothing conflicts (conflicts and dirty editors are always asked about). */
  readonly confirm: boolean;
}

/** The rollback and show paths, each ending in an outcome the command returns (for the timeline and tests). */
export class RollbackFlow {
  constructor(
    private readonly s: RollbackServices,
    private readonly store: () => Promise<SnapshotStore>,
  ) {}

  /** Rolls back snapshot `ref` (an id or a unique prefix), or the one the user picks when there is none. */
  async rollback(ref?: string, steps: Steps = { preview: true, confirm: true }): Promise<RollbackOutcome> {
    try {
      const store = await this.store();
      let snapshot: Snapshot;
      if (ref === undefined) {
        const picked = await this.pick(store, 'rollback');
        if (!picked) return { status: 'cancelled', at: 'pick' };
        snapshot = picked;
      } else {
        snapshot = await store.resolve(ref);
      }
      if (snapshot.state === 'rolled-back') return this.alreadyRolledBack(snapshot);
      return await this.rollBack(store, snapshot, steps);
    } catch (err) {
      return this.failed(err, ref);
    }
  }

  /** Opens the multi-file diff of what snapshot `ref` changed (before ↔ after), read-only. */
  async show(ref?: string): Promise<ShownSnapshot | undefined> {
    try {
      const store = await this.store();
      const snapshot = ref === undefined ? await this.pick(store, 'show') : await store.resolve(ref);
      if (!snapshot) return undefined;
      const ws = await editorWorkspace(snapshot.workspace);
      const what = snapshot.kind === 'apply' ? `${snapshot.agent}'s apply` : `rollback of ${snapshot.rollsBack ?? '?'}`;
      const title = `Snapshot ${snapshot.id} (${what}): before ↔ after`;
      await openChanges(
        title,
        snapshot.files.map((f) => ({
          resource: fileUri(ws, f.path),
          left: SnapshotDocuments.uriFor({ snapshotId: snapshot.id, path: f.path, state: f.before, side: 'before' }),
          right: SnapshotDocuments.uriFor({ snapshotId: snapshot.id, path: f.path, state: f.after, side: 'after' }),
        })),
      );
      return { title, snapshot };
    } catch (err) {
      this.failed(err, ref, 'show');
      return undefined;
    }
  }

  private async pick(store: SnapshotStore, purpose: 'rollback' | 'show'): Promise<Snapshot | undefined> {
    const list = await store.list();
    if (list.length === 0) {
      void vscode.window.showInformationMessage('Airlock: no snapshots in this workspace yet. Each approved change is snapshotted before it is applied, and can then be rolled back from here.');
      return undefined;
    }
    return pickSnapshot(list, {
      title: purpose === 'rollback' ? 'Airlock: Roll Back…' : 'Airlock: Show Snapshot…',
      placeHolder: purpose === 'rollback' ? 'Pick a snapshot to roll back (newest first); the next step previews it' : 'Pick a snapshot to see what it changed (newest first)',
      ...(purpose === 'rollback' ? { onShow: (s: Snapshot) => void this.show(s.id) } : {}),
    });
  }

  private async rollBack(store: SnapshotStore, snapshot: Snapshot, steps: Steps): Promise<RollbackOutcome> {
    let plan = await store.planRollback(snapshot.id);
    const ws = await editorWorkspace(plan.workspace);
    const previewTitle = `Roll Back ${snapshot.id}: now ↔ after the rollback`;
    if (steps.preview) {
      try {
        await openChanges(previewTitle, plan.files.map((f) => previewEntry(ws, snapshot.id, f)));
      } catch (err) {
        // The question below still lists every file: a preview that cannot open is no reason to refuse.
        this.s.log.warn(`Rollback preview of ${snapshot.id} did not open: ${(err as Error).message}`);
      }
    }
    const accepted = new Set<string>();
    let confirmed = false;
    let settled = false;
    // Files may change while a question is open: whatever was edited after the user answered is asked about again.
    for (let round = 0; ; round++) {
      const folder = plan.conflicts.find((c) => c.folder);
      if (folder) {
        const message = `Cannot roll back ${snapshot.id}: ${folder.path} is a folder now, and a rollback never removes a folder it did not create. Move that folder away, then roll back again.`;
        void vscode.window.showErrorMessage(`Airlock: ${message}`);
        return { status: 'failed', reason: 'unsupported-file', message };
      }
      const fresh = plan.conflicts.filter((c) => !accepted.has(c.path));
      if (fresh.length > 0) {
        if (round > 5) throw new SnapshotError('conflicts', `Not rolled back: ${fresh.map((c) => c.path).join(', ')} keep changing. Try again when nothing else is writing them.`, { conflicts: fresh });
        const answer = await this.s.prompts.ask(conflictQuestion(snapshot, plan, fresh, round > 0));
        if (answer !== rollbackChoices.force) return { status: 'cancelled', at: 'conflicts' };
        for (const c of plan.conflicts) accepted.add(c.path);
        confirmed = true;
      } else if (!confirmed && steps.confirm) {
        const answer = await this.s.prompts.ask(confirmQuestion(snapshot, plan, steps.preview));
        if (answer !== rollbackChoices.confirm(plan.files.length)) return { status: 'cancelled', at: 'confirm' };
        confirmed = true;
      }
      if (!settled) {
        if (!(await settleDirtyEditors(this.s.prompts, ws, plan.files.map((f) => f.path), 'Rolling back'))) return { status: 'cancelled', at: 'dirty-editors' };
        settled = true;
      }
      const now = await store.planRollback(snapshot.id);
      if (now.conflicts.some((c) => !accepted.has(c.path))) {
        plan = now;
        continue;
      }
      try {
        const result = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Airlock: rolling back ${snapshot.id}…` },
          () => store.rollback(snapshot.id, { force: accepted.size > 0, actor: humanActor() }),
        );
        this.s.log.info(`Rolled back ${result.target} (${countFiles(result.snapshot.files.length)}) as snapshot ${result.snapshot.id} by ${result.snapshot.actor}${result.overridden.length > 0 ? `, overwriting edits to ${result.overridden.map((c) => c.path).join(', ')}` : ''}`);
        if (steps.preview) await closeTab(previewTitle);
        void this.report(snapshot, result);
        return { status: 'rolled-back', result };
      } catch (err) {
        if (!SnapshotError.is(err, 'conflicts') || accepted.size > 0) throw err;
        plan = await store.planRollback(snapshot.id);
      }
    }
  }

  /** The result, with Redo (roll back the rollback) and the timeline of the run. */
  private async report(target: Snapshot, result: RollbackResult): Promise<void> {
    const redo = target.kind === 'apply' ? 'Redo' : 'Roll Back Again';
    const timeline = 'Open Timeline';
    const what = target.kind === 'apply' ? `Rolled back ${describeSnapshot(target)}` : `Redid the change that rollback ${target.id} undid`;
    const choice = await vscode.window.showInformationMessage(`Airlock: ${what}: ${summary(result)}. Rollback snapshot: ${result.snapshot.id}.`, redo, timeline);
    if (choice === redo) await this.rollback(result.snapshot.id, { preview: false, confirm: false });
    else if (choice === timeline) await vscode.commands.executeCommand('airlock.openTimeline', { runId: target.runId });
  }

  private alreadyRolledBack(snapshot: Snapshot): RollbackOutcome {
    const by = snapshot.rolledBackBy ?? '?';
    const message = `Snapshot ${snapshot.id} was already rolled back by ${by}. To redo it, roll back ${by}.`;
    const redo = `Redo (Roll Back ${by})`;
    void vscode.window.showInformationMessage(`Airlock: ${message}`, redo).then((choice) => {
      if (choice === redo) void this.rollback(by);
    });
    return { status: 'failed', reason: 'already-rolled-back', message };
  }

  /** Tells the user what went wrong and what to do next; the store has left the workspace as it was. */
  private failed(err: unknown, ref: string | undefined, action: 'rollback' | 'show' = 'rollback'): RollbackOutcome {
    const reason: SnapshotErrorReason | 'error' = SnapshotError.is(err) ? err.reason : 'error';
    const raw = err instanceof Error ? err.message : String(err);
    const doing = action === 'rollback' ? 'roll back' : 'show';
    const unchanged = action === 'rollback' ? ' Nothing was changed.' : '';
    const actions: string[] = [];
    let message: string;
    switch (reason) {
      case 'locked':
        message = `Could not ${doing} ${ref ?? 'the snapshot'}: another Airlock (another window, or an \`airlock\` command in a terminal) is applying or rolling back changes in this workspace.${unchanged} Try again when it has finished.`;
        actions.push('Try Again');
        break;
      case 'unknown-snapshot':
        message = `There is no snapshot ${ref ?? ''} in this workspace: it may have been removed by retention (the airlock.snapshots settings) or belong to another workspace.${unchanged} Pick one from the list instead.`;
        actions.push('Pick a Snapshot…');
        break;
      case 'ambiguous-snapshot':
        message = `${raw}${unchanged}`;
        actions.push('Pick a Snapshot…');
        break;
      case 'damaged-blob':
      case 'damaged-manifest':
        message = `Could not ${doing} ${ref ?? 'the snapshot'}: its stored data is damaged (${raw}), so none of it can be trusted.${unchanged} Other snapshots are not affected.`;
        actions.push('Show Log');
        break;
      case 'undo-failed':
        message = `${raw} Reload the window to let Airlock finish the undo, and check the files it names.`;
        actions.push('Show Log');
        break;
      case 'error':
        message = `Could not ${doing} ${ref ?? 'the snapshot'}: ${raw.replace(/\.$/, '')}.${unchanged}`;
        actions.push('Show Log');
        break;
      default:
        // The store's own messages name the file and the cause (read-only, disk full, a parent that is a file now, …).
        message = `${raw}${unchanged}`;
        actions.push('Show Log');
    }
    this.s.log.error(`${action === 'rollback' ? 'Rollback' : 'Show snapshot'} ${ref ?? '(picked)'} failed (${reason}): ${raw}`);
    void vscode.window.showErrorMessage(`Airlock: ${message}`, ...actions).then((choice) => {
      if (choice === 'Try Again') void (action === 'rollback' ? this.rollback(ref) : this.show(ref));
      else if (choice === 'Pick a Snapshot…') void (action === 'rollback' ? this.rollback() : this.show());
      else if (choice === 'Show Log') this.s.log.show(true);
    });
    return { status: 'failed', reason, message };
  }
}

interface ChangesEntry {
  readonly resource: vscode.Uri;
  readonly left: vscode.Uri;
  readonly right: vscode.Uri;
}

/** VS Code's multi-file diff editor (VS Code 1.86+), one read-only diff per file. */
async function openChanges(title: string, entries: readonly ChangesEntry[]): Promise<void> {
  await vscode.commands.executeCommand('vscode.changes', title, entries.map((e) => [e.resource, e.left, e.right]));
}

function previewEntry(ws: string, snapshotId: string, f: RollbackPlan['files'][number]): ChangesEntry {
  return {
    resource: fileUri(ws, f.path),
    left: SnapshotDocuments.uriFor({ snapshotId, path: f.path, state: f.current, side: 'now' }),
    right: SnapshotDocuments.uriFor({ snapshotId, path: f.path, state: f.target, side: 'after rollback' }),
  };
}

/** Closes the preview once it is out of date (after the rollback it describes). */
async function closeTab(title: string): Promise<void> {
  // The multi-file diff editor shows its title followed by the number of files: `<title> (3 files)`.
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label === title || t.label.startsWith(`${title} (`));
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs, true);
}

const MAX_LISTED = 15;

function confirmQuestion(snapshot: Snapshot, plan: RollbackPlan, previewed: boolean) {
  const n = plan.files.length;
  const message =
    snapshot.kind === 'apply'
      ? `Roll back ${countFiles(n)} to how ${n === 1 ? 'it was' : 'they were'} before ${snapshot.agent}'s apply ${snapshot.id} (${relativeTime(new Date(snapshot.createdAt), new Date())})?`
      : `Redo the change that rollback ${snapshot.id} undid? Rolling this rollback back puts ${countFiles(n)} back as the apply ${snapshot.rollsBack ?? ''} left ${n === 1 ? 'it' : 'them'}.`;
  const lines = listed(plan.files.map((f) => `${f.path}: ${willDo(f.current?.hash === f.target?.hash ? 'same' : f.change)}`));
  const notes = [previewed ? 'The preview shows each file now and after the rollback.' : '', 'The rollback is itself snapshotted, so it can be redone.'].filter(Boolean).join(' ');
  return { message, detail: `${lines}\n\n${notes}`, choices: [rollbackChoices.confirm(n)] };
}

function conflictQuestion(snapshot: Snapshot, plan: RollbackPlan, conflicts: readonly RollbackConflict[], again: boolean) {
  const k = conflicts.length;
  const who = k === 1 ? `${conflicts[0]!.path} was` : `${k} files were`;
  const message = `${again ? 'Meanwhile, ' : ''}${who} changed after snapshot ${snapshot.id} wrote ${k === 1 ? 'it' : 'them'}. Roll back anyway?`;
  const lines = listed(conflicts.map((c) => `${c.path}: ${c.expected === null ? 'created' : c.actual === null ? 'deleted' : 'edited'} since`));
  const detail =
    `${lines}\n\nRolling back anyway overwrites ${k === 1 ? 'this change' : 'these changes'} with the content from before the snapshot. ` +
    `The current content is snapshotted first, so Redo brings it back.\n\nIn all, the rollback touches ${countFiles(plan.files.length)}: ${fileNames(plan.snapshot)}.`;
  return { message, detail, choices: [rollbackChoices.force] };
}

function willDo(change: FileChange | 'same'): string {
  switch (change) {
    case 'same':
      return 'already as it was (unchanged)';
    case 'create':
      return 'recreated';
    case 'delete':
      return 'removed';
    case 'modify':
      return 'restored to its earlier content';
  }
}

function listed(lines: readonly string[]): string {
  const shown = lines.slice(0, MAX_LISTED);
  return lines.length > shown.length ? `${shown.join('\n')}\n… and ${lines.length - shown.length} more` : shown.join('\n');
}

/** `2 files restored, 1 removed, 1 recreated; edits to a.ts overwritten (Redo brings them back)`. */
function summary(result: RollbackResult): string {
  const counts: Record<FileChange, number> = { modify: 0, delete: 0, create: 0 };
  for (const f of result.snapshot.files) counts[fileChange(f)]++;
  const parts = [
    counts.modify > 0 ? `${countFiles(counts.modify)} restored` : '',
    counts.delete > 0 ? `${countFiles(counts.delete)} removed` : '',
    counts.create > 0 ? `${countFiles(counts.create)} recreated` : '',
  ].filter(Boolean);
  let text = parts.join(', ') || 'no file needed changing';
  if (result.overridden.length > 0) text += `; edits to ${result.overridden.map((c) => c.path).join(', ')} were overwritten (Redo brings them back)`;
  if (result.keptDirs.length > 0) text += `; kept ${result.keptDirs.join(', ')} (other files are in it now)`;
  return text;
}

function fileUri(ws: string, rel: string): vscode.Uri {
  return vscode.Uri.file(join(ws, ...rel.split('/')));
}

/**
 * The store records real paths; the editor knows the workspace folder by the path it was opened with. Using the
 * folder's own path keeps the diff headers and the dirty-editor check on the URIs VS Code uses.
 */
async function editorWorkspace(real: string): Promise<string> {
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (folder.uri.scheme !== 'file') continue;
    const p = folder.uri.fsPath;
    if (p === real || (await realpath(p).catch(() => undefined)) === real) return p;
  }
  return real;
}
