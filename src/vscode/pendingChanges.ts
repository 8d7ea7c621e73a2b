// What finished runs propose and nobody has decided on yet, per run, with the reviewer's per-hunk decisions so
// far. The workspace itself is untouched until a change is applied; this is the list the review UI works from.
// Every change to the list is also written to the run state folder (PendingStore), so a reload of the window
// or a restart of the editor finds the same list.
import * as vscode from 'vscode';
import type { StructuredPatchHunk } from 'diff';
import type { RunReport } from '../core/runtime/agentRuntime';
import { listHunks } from '../core/snapshots/hunkSelection';
import type { HunkDecision, PendingRunRecord, PendingStore } from '../core/staging/pendingStore';
import type { ProposedChange } from '../core/staging/proposedChange';

export type { HunkDecision } from '../core/staging/pendingStore';

export interface PendingChange {
  readonly runId: string;
  readonly agent: string;
  /** The workspace folder the run worked on (absolute path). */
  readonly workspace: string;
  readonly change: ProposedChange;
  /** Decisions taken on single hunks so far, by hunk index. */
  readonly hunkDecisions: ReadonlyMap<number, HunkDecision>;
}

export interface PendingRun {
  readonly runId: string;
  readonly agent: string;
  readonly workspace: string;
  readonly changes: readonly PendingChange[];
}

/** The hunks a reviewer can decide one by one, or why this change can only be taken whole. */
export type ChangeHunks = { readonly ok: true; readonly hunks: readonly StructuredPatchHunk[] } | { readonly ok: false; readonly why: string };

interface Entry {
  readonly runId: string;
  readonly agent: string;
  readonly workspace: string;
  readonly recordedAt: string;
  readonly changes: Map<string, { change: ProposedChange; decisions: Map<number, HunkDecision>; hunks?: ChangeHunks }>;
}

export class PendingChanges implements vscode.Disposable {
  private readonly byRun = new Map<string, Entry>();
  private readonly _onDidChange = new vscode.EventEmitter<void>();
  readonly onDidChange = this._onDidChange.event;

  /** Without a store the list lives in memory only (tests of the model). */
  constructor(private readonly persist?: { readonly store: PendingStore; readonly log: vscode.LogOutputChannel }) {}

  /** Records a finished run's proposals (a run with none leaves no entry). */
  add(workspace: string, report: RunReport): void {
    if (report.changes.length === 0) return;
    const entry: Entry = {
      runId: report.runId,
      agent: report.agent,
      workspace,
      recordedAt: new Date().toISOString(),
      changes: new Map(report.changes.map((change) => [change.path, { change, decisions: new Map<number, HunkDecision>() }])),
    };
    this.byRun.set(report.runId, entry);
    this.write(entry.runId, (store) => store.save(record(entry)));
    this._onDidChange.fire();
  }

  /**
   * Reads back what earlier sessions left pending (runs this session already knows are kept as they are).
   * Returns what could not be read, which the store has moved aside.
   */
  async restore(): Promise<{ runs: number; changes: number; problems: string[] }> {
    if (!this.persist) return { runs: 0, changes: 0, problems: [] };
    const loaded = await this.persist.store.load();
    let runs = 0;
    let changes = 0;
    // Oldest first into the map, so `runs()` (newest first) keeps their order; runs of this session stay newest.
    const current = [...this.byRun.entries()];
    this.byRun.clear();
    for (const r of loaded.runs) {
      if (current.some(([id]) => id === r.runId) || r.changes.length === 0) continue;
      this.byRun.set(r.runId, {
        runId: r.runId,
        agent: r.agent,
        workspace: r.workspace,
        recordedAt: r.recordedAt,
        changes: new Map(r.changes.map((c) => [c.change.path, { change: c.change, decisions: new Map(c.decisions) }])),
      });
      runs++;
      changes += r.changes.length;
    }
    for (const [id, e] of current) this.byRun.set(id, e);
    if (runs > 0) this._onDidChange.fire();
    return { runs, changes, problems: loaded.problems };
  }

  /** Waits until every change to the list so far is on disk (tests). */
  async flushed(): Promise<void> {
    await this.persist?.store.settled();
  }

  /** Every pending change, newest run first. */
  all(): readonly PendingChange[] {
    return this.runs().flatMap((r) => r.changes);
  }

  /** Runs with something pending, newest first. */
  runs(): readonly PendingRun[] {
    return [...this.byRun.values()].reverse().map((e) => ({ runId: e.runId, agent: e.agent, workspace: e.workspace, changes: this.changesOf(e) }));
  }

  forRun(runId: string): readonly PendingChange[] {
    const e = this.byRun.get(runId);
    return e ? this.changesOf(e) : [];
  }

  get(runId: string, path: string): PendingChange | undefined {
    const e = this.byRun.get(runId);
    const c = e?.changes.get(path);
    return e && c ? view(e, c) : undefined;
  }

  /** The change's hunks (computed once): text changes split into hunks; binary, deleted or huge ones cannot be. */
  hunks(runId: string, path: string): ChangeHunks {
    const c = this.byRun.get(runId)?.changes.get(path);
    if (!c) return { ok: false, why: 'it is no longer pending' };
    c.hunks ??= computeHunks(c.change);
    return c.hunks;
  }

  /** Records a decision on one hunk. */
  decideHunk(runId: string, path: string, index: number, decision: HunkDecision): void {
    const c = this.byRun.get(runId)?.changes.get(path);
    if (!c) return;
    c.decisions.set(index, decision);
    this.saveRun(runId);
    this._onDidChange.fire();
  }

  /** Forgets a change once it was applied or rejected. */
  remove(runId: string, path: string): void {
    const e = this.byRun.get(runId);
    if (!e?.changes.delete(path)) return;
    if (e.changes.size === 0) this.byRun.delete(runId);
    this.write(runId, (store) => (e.changes.size === 0 ? store.remove(runId) : store.update(record(e))));
    this._onDidChange.fire();
  }

  get count(): number {
    let n = 0;
    for (const e of this.byRun.values()) n += e.changes.size;
    return n;
  }

  private saveRun(runId: string): void {
    const e = this.byRun.get(runId);
    if (e) this.write(runId, (store) => store.update(record(e)));
  }

  /** Writes in the background (the store keeps each run's writes in order); a failure is logged, never lost silently. */
  private write(runId: string, work: (store: PendingStore) => Promise<void>): void {
    if (!this.persist) return;
    const { store, log } = this.persist;
    work(store).catch((err: unknown) =>
      log.warn(`Could not save the pending changes of ${runId} to ${store.dir} (${(err as Error).message}); they stay listed in this window, but a reload would lose them.`),
    );
  }

  private changesOf(e: Entry): PendingChange[] {
    return [...e.changes.values()].map((c) => view(e, c));
  }

  dispose(): void {
    this._onDidChange.dispose();
  }
}

function record(e: Entry): PendingRunRecord {
  // A snapshot of the entry as it is now: later edits of the maps must not change what a queued write saves.
  return {
    runId: e.runId,
    agent: e.agent,
    workspace: e.workspace,
    recordedAt: e.recordedAt,
    changes: [...e.changes.values()].map((c) => ({ change: c.change, decisions: new Map(c.decisions) })),
  };
}

function view(e: Entry, c: { change: ProposedChange; decisions: Map<number, HunkDecision> }): PendingChange {
  return { runId: e.runId, agent: e.agent, workspace: e.workspace, change: c.change, hunkDecisions: new Map(c.decisions) };
}

function computeHunks(change: ProposedChange): ChangeHunks {
  if (change.kind === 'delete') return { ok: false, why: 'a deletion is taken whole' };
  try {
    const hunks = listHunks(change);
    return hunks.length > 0 ? { ok: true, hunks } : { ok: false, why: 'the content does not change' };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
}
