// The reviewer's decisions on what runs propose: approve or reject a file, a single hunk, or a whole run.
// Approving applies through the snapshot store (snapshot first, all-or-nothing); rejecting leaves the workspace
// as it is. Every decision is audited with the human as actor, and unsaved editors are never written under.
import type * as vscode from 'vscode';
import type { RunState } from '../core/runtime/runState';
import { selectHunks } from '../core/snapshots/hunkSelection';
import { SnapshotError } from '../core/snapshots/snapshotError';
import type { ProposedChange } from '../core/staging/proposedChange';
import { humanActor } from './approvalPrompts';
import { settleDirtyEditors } from './dirtyEditors';
import type { HunkDecision, PendingChange, PendingChanges } from './pendingChanges';
import type { Prompts } from './userPrompts';

export interface ReviewServices {
  readonly pending: PendingChanges;
  /** The workspace's run state: its audit log and snapshot store. */
  readonly state: () => Promise<RunState>;
  readonly prompts: Prompts;
  readonly log: vscode.LogOutputChannel;
}

export type ReviewOutcome =
  | { readonly outcome: 'applied'; readonly snapshotId: string; readonly paths: readonly string[] }
  | { readonly outcome: 'rejected'; readonly paths: readonly string[] }
  /** A hunk decision was recorded; the file waits for its other hunks. */
  | { readonly outcome: 'recorded' }
  /** The user backed out (unsaved editors, a stale file): nothing was written and the change stays pending. */
  | { readonly outcome: 'cancelled'; readonly why: string }
  | { readonly outcome: 'gone' };

export const staleChoices = { overwrite: 'Apply Anyway', cancel: 'Cancel' } as const;

export class ChangeReview {
  private readonly actor = humanActor();
  /** One decision at a time: two clicks in a row must not apply the same change twice. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly s: ReviewServices) {}

  /** Approves a file: every hunk not explicitly rejected is applied. */
  approve(runId: string, path: string): Promise<ReviewOutcome> {
    return this.serial(() => this.decideFiles(runId, [path], 'approve'));
  }

  reject(runId: string, path: string): Promise<ReviewOutcome> {
    return this.serial(() => this.decideFiles(runId, [path], 'reject'));
  }

  /** Approve All for a run: its pending files in one apply (one snapshot), each with its hunk decisions. */
  approveRun(runId: string): Promise<ReviewOutcome> {
    return this.serial(() => this.decideFiles(runId, this.s.pending.forRun(runId).map((p) => p.change.path), 'approve'));
  }

  rejectRun(runId: string): Promise<ReviewOutcome> {
    return this.serial(() => this.decideFiles(runId, this.s.pending.forRun(runId).map((p) => p.change.path), 'reject'));
  }

  /** Decides one hunk; once every hunk of the file is decided, the approved ones are applied (or the file is rejected). */
  decideHunk(runId: string, path: string, index: number, decision: HunkDecision): Promise<ReviewOutcome> {
    return this.serial(async () => {
      const hunks = this.s.pending.hunks(runId, path);
      if (!this.s.pending.get(runId, path)) return { outcome: 'gone' } as const;
      if (!hunks.ok) throw new Error(`${path} cannot be reviewed hunk by hunk: ${hunks.why}. Approve or reject the whole file.`);
      if (!Number.isInteger(index) || index < 0 || index >= hunks.hunks.length) throw new Error(`${path} has ${hunks.hunks.length} hunks; there is no hunk ${index + 1}.`);
      this.s.pending.decideHunk(runId, path, index, decision);
      const p = this.s.pending.get(runId, path)!;
      if (p.hunkDecisions.size < hunks.hunks.length) return { outcome: 'recorded' } as const;
      const anyApproved = [...p.hunkDecisions.values()].includes('approved');
      return this.decideFiles(runId, [path], anyApproved ? 'approve' : 'reject');
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async decideFiles(runId: string, paths: readonly string[], verdict: 'approve' | 'reject'): Promise<ReviewOutcome> {
    const items = paths.map((p) => this.s.pending.get(runId, p)).filter((p): p is PendingChange => p !== undefined);
    if (items.length === 0) return { outcome: 'gone' };
    const { workspace, agent } = items[0]!;
    const state = await this.s.state();

    const auditRejected = (paths: readonly string[], reason: string) =>
      state.audit.append({ runId, agent, type: 'approval', tool: 'review', args: { rejected: paths }, decision: 'rejected', actor: this.actor, reason });

    if (verdict === 'reject') {
      await auditRejected(items.map((p) => p.change.path), 'rejected in review; the workspace was not changed');
      for (const p of items) this.s.pending.remove(runId, p.change.path);
      this.s.log.info(`[${runId}] rejected ${items.map((p) => p.change.path).join(', ')}`);
      return { outcome: 'rejected', paths: items.map((p) => p.change.path) };
    }

    // Each file as the reviewer left it: the hunks they did not reject. A file with every hunk rejected is a rejection.
    const selected: { item: PendingChange; change: ProposedChange | null; hunks?: { approved: number[]; rejected: number[] } }[] = items.map((item) => {
      if (item.hunkDecisions.size === 0) return { item, change: item.change };
      const hunks = this.s.pending.hunks(runId, item.change.path);
      const total = hunks.ok ? hunks.hunks.length : 0;
      const rejected = [...item.hunkDecisions].filter(([, d]) => d === 'rejected').map(([i]) => i);
      const approved = Array.from({ length: total }, (_, i) => i).filter((i) => !rejected.includes(i));
      return { item, change: hunks.ok ? selectHunks(item.change, approved, { hunks: hunks.hunks }) : item.change, hunks: { approved, rejected } };
    });
    const toApply = selected.filter((x) => x.change !== null);
    const dropped = selected.filter((x) => x.change === null).map((x) => x.item.change.path);
    const touched = toApply.map((x) => x.item.change.path);

    if (touched.length > 0 && !(await settleDirtyEditors(this.s.prompts, workspace, touched, 'Applying the approved change'))) {
      return { outcome: 'cancelled', why: 'unsaved edits in the editor' };
    }
    let snapshotId: string | undefined;
    if (toApply.length > 0) {
      await state.audit.append({
        runId,
        agent,
        type: 'approval',
        tool: 'review',
        args: { approved: toApply.map((x) => (x.hunks ? { path: x.item.change.path, hunks: x.hunks } : x.item.change.path)) },
        decision: 'approved',
        actor: this.actor,
        reason: 'approved in review',
      });
      const changes = toApply.map((x) => x.change!);
      const meta = { runId, agent, actor: this.actor };
      try {
        snapshotId = await state.applyChanges(workspace, changes, meta);
      } catch (e) {
        if (!SnapshotError.is(e) || e.reason !== 'stale') throw e;
        const choice = await this.s.prompts.ask({
          message: `${e.message}`,
          detail: 'Apply Anyway overwrites the current content; it is snapshotted first, so Roll Back brings it back.',
          choices: [staleChoices.overwrite, staleChoices.cancel],
        });
        if (choice !== staleChoices.overwrite) return { outcome: 'cancelled', why: 'the file changed since the run read it' };
        snapshotId = await state.applyChanges(workspace, changes, meta, { force: true });
      }
      this.s.log.info(`[${runId}] applied ${touched.join(', ')} (snapshot ${snapshotId})`);
    }
    if (dropped.length > 0) {
      await auditRejected(dropped, 'every hunk rejected in review');
    }
    for (const x of selected) this.s.pending.remove(runId, x.item.change.path);
    return snapshotId ? { outcome: 'applied', snapshotId, paths: touched } : { outcome: 'rejected', paths: dropped };
  }
}
