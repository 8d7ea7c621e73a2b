// The quick pick of snapshots behind `Roll Back…` and `Show Snapshot…` (the no-argument path of both), and the
// words used to describe a snapshot to the user: when, which agent and run, which files, and its state.
import * as vscode from 'vscode';
import type { Snapshot } from '../core/snapshots/snapshotManifest';

interface SnapshotPick extends vscode.QuickPickItem {
  readonly snapshot: Snapshot;
}

export interface PickOptions {
  readonly title: string;
  readonly placeHolder: string;
  /** Adds a button on each item that shows the snapshot's diff without leaving the pick. */
  readonly onShow?: (snapshot: Snapshot) => void;
}

/** Resolves with the picked snapshot, or undefined when the pick was dismissed. `snapshots` newest first. */
export function pickSnapshot(snapshots: readonly Snapshot[], options: PickOptions): Promise<Snapshot | undefined> {
  const now = new Date();
  const showButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('diff-multiple'), tooltip: 'Show what this snapshot changed' };
  const items: SnapshotPick[] = snapshots.map((s) => ({
    label: `$(${stateIcon(s)}) ${relativeTime(new Date(s.createdAt), now)} · ${s.agent}`,
    description: `${new Date(s.createdAt).toLocaleString()} · ${countFiles(s.files.length)} · ${stateLabel(s)}`,
    detail: `${s.id} · run ${s.runId} · ${fileNames(s)}`,
    snapshot: s,
    ...(options.onShow ? { buttons: [showButton] } : {}),
  }));
  const qp = vscode.window.createQuickPick<SnapshotPick>();
  qp.title = options.title;
  qp.placeholder = options.placeHolder;
  qp.items = items;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  // Looking at a diff from the item button must not close the pick.
  qp.ignoreFocusOut = options.onShow !== undefined;
  return new Promise<Snapshot | undefined>((resolve) => {
    let picked: Snapshot | undefined;
    qp.onDidTriggerItemButton((e) => options.onShow?.(e.item.snapshot));
    qp.onDidAccept(() => {
      picked = qp.selectedItems[0]?.snapshot;
      qp.hide();
    });
    qp.onDidHide(() => {
      qp.dispose();
      resolve(picked);
    });
    qp.show();
  });
}

/** `applied`, `rolled back by …`, `a rollback of …` (and whether that rollback was itself undone: a redo). */
export function stateLabel(s: Snapshot): string {
  if (s.kind === 'apply') return s.state === 'applied' ? 'applied' : `rolled back by ${s.rolledBackBy ?? 'a later rollback'}`;
  return s.state === 'applied' ? `a rollback of ${s.rollsBack ?? '?'}` : `a rollback of ${s.rollsBack ?? '?'}, redone by ${s.rolledBackBy ?? 'a later rollback'}`;
}

function stateIcon(s: Snapshot): string {
  if (s.kind === 'rollback') return 'history';
  return s.state === 'applied' ? 'check' : 'discard';
}

/** One line about a snapshot, for messages: `refactor's apply of 20260101-… (3 files, 5 minutes ago)`. */
export function describeSnapshot(s: Snapshot, now = new Date()): string {
  return `${s.agent}'s ${s.kind === 'apply' ? 'apply' : 'rollback'} ${s.id} (${countFiles(s.files.length)}, ${relativeTime(new Date(s.createdAt), now)})`;
}

export function countFiles(n: number): string {
  return n === 1 ? '1 file' : `${n} files`;
}

/** The first few paths, then how many more. */
export function fileNames(s: Pick<Snapshot, 'files'>, shown = 4): string {
  const names = s.files.slice(0, shown).map((f) => f.path);
  const more = s.files.length - names.length;
  return more > 0 ? `${names.join(', ')} and ${more} more` : names.join(', ');
}

const units: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** `just now`, `5 minutes ago`, `yesterday`, `3 weeks ago`. */
export function relativeTime(then: Date, now: Date): string {
  const seconds = Math.round((then.getTime() - now.getTime()) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, 'second');
}
