// `airlock snapshots` and `airlock rollback`: list the snapshot store and undo (or redo) an apply from a terminal.
//
// Exit codes:
//   0  done (or nothing to list)
//   1  the rollback failed (damaged snapshot data, read-only file, full disk, store busy); the workspace is as it was
//   2  usage error, unknown or ambiguous snapshot id, nothing to roll back, snapshot already rolled back
//   4  refused: files changed since the snapshot wrote them (conflicts); nothing changed; --force overrides
import { promises as fs } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditLog } from '../core/audit/auditLog';
import type { AuditSink } from '../core/audit/auditSink';
import { SnapshotError } from '../core/snapshots/snapshotError';
import { fileChange, type Snapshot } from '../core/snapshots/snapshotManifest';
import { SnapshotStore } from '../core/snapshots/snapshotStore';
import { stateDirFor } from './workspaceState';

export interface CommandIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

/**
 * What the dispatcher may hand in: the audit log to record rollbacks in (without one, the workspace's own audit
 * log in the state folder is opened for the command), and retention settings.
 */
export interface SnapshotsCommandDeps {
  readonly audit?: AuditSink;
  readonly keepLast?: number;
  readonly keepDays?: number;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_CONFLICTS = 4;

const SNAPSHOTS_USAGE = `Usage: airlock snapshots [--workspace DIR] [--state DIR] [--json]

Lists the snapshots taken before each apply and rollback, newest first: id, time, kind, run, agent, files, state.
  --workspace DIR  the workspace (default: the current folder)
  --state DIR      the state folder (default: <workspace>/.airlock/state)
  --json           print one JSON object: { "snapshots": [...] }
`;

const ROLLBACK_USAGE = `Usage: airlock rollback <snapshot-id | --last> [--workspace DIR] [--state DIR] [--force] [--json]

Restores every file a snapshot's apply touched to its exact bytes before, and removes the folders it created.
A rollback is itself snapshotted: roll back its snapshot to redo.
  <snapshot-id>    an id from \`airlock snapshots\` (a unique prefix of 4+ characters is enough)
  --last           the newest apply that is still in effect
  --force          also overwrite files changed since the apply (their current bytes are snapshotted first)
  --json           print one JSON object
Exit codes: 0 rolled back, 1 failed (workspace unchanged), 2 usage or unknown id, 4 refused because of conflicts.
`;

const commonOptions = {
  workspace: { type: 'string' },
  state: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runSnapshotsCommand(args: string[], io: CommandIo, deps: SnapshotsCommandDeps = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: commonOptions, allowPositionals: false, strict: true });
  } catch (err) {
    io.stderr(`airlock snapshots: ${(err as Error).message}\n\n${SNAPSHOTS_USAGE}`);
    return EXIT_USAGE;
  }
  if (parsed.values.help) {
    io.stdout(SNAPSHOTS_USAGE);
    return EXIT_OK;
  }
  const where = await locate(parsed.values.workspace, parsed.values.state);
  if (typeof where === 'string') {
    io.stderr(`airlock snapshots: ${where}\n`);
    return EXIT_USAGE;
  }
  const json = parsed.values.json;
  // Listing never creates a state folder: a workspace that has never been applied to simply has no snapshots.
  if (!(await isDir(join(where.state, 'snapshots')))) {
    if (json) io.stdout(JSON.stringify({ snapshots: [] }) + '\n');
    else io.stdout(`No snapshots in ${where.state}.\n`);
    return EXIT_OK;
  }
  try {
    // Opening the store recovers an interrupted apply or rollback, which changes the workspace: audit it.
    const interrupted = (await fs.readdir(join(where.state, 'snapshots', 'journal')).catch(() => [])).some((n) => n.endsWith('.json'));
    const all = await withAudit(deps, where.state, interrupted, async (audit) => (await SnapshotStore.open(where.state, storeOptions(deps, audit))).list());
    if (json) {
      io.stdout(JSON.stringify({ snapshots: all.map(snapshotJson) }) + '\n');
    } else if (all.length === 0) {
      io.stdout(`No snapshots in ${where.state}.\n`);
    } else {
      io.stdout(table(all));
    }
    return EXIT_OK;
  } catch (err) {
    return fail('snapshots', err, io, json);
  }
}

export async function runRollbackCommand(args: string[], io: CommandIo, deps: SnapshotsCommandDeps = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...commonOptions, last: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    io.stderr(`airlock rollback: ${(err as Error).message}\n\n${ROLLBACK_USAGE}`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(ROLLBACK_USAGE);
    return EXIT_OK;
  }
  const json = values.json;
  if ((positionals.length === 0) === !values.last || positionals.length > 1) {
    io.stderr(`airlock rollback: give exactly one snapshot id, or --last.\n\n${ROLLBACK_USAGE}`);
    return EXIT_USAGE;
  }
  const where = await locate(values.workspace, values.state);
  if (typeof where === 'string') {
    io.stderr(`airlock rollback: ${where}\n`);
    return EXIT_USAGE;
  }
  if (!(await isDir(join(where.state, 'snapshots')))) {
    return report(io, json, EXIT_USAGE, { ok: false, error: 'unknown-snapshot', message: `There are no snapshots in ${where.state}.` });
  }
  try {
    const result = await withAudit(deps, where.state, true, async (audit) => {
      const store = await SnapshotStore.open(where.state, storeOptions(deps, audit));
      const ref = values.last ? (await store.last())?.id : positionals[0];
      if (ref === undefined) return undefined;
      return store.rollback(ref, { force: values.force, workspace: where.workspace, actor: cliActor() });
    });
    if (!result) return report(io, json, EXIT_USAGE, { ok: false, error: 'unknown-snapshot', message: 'Nothing to roll back: no apply is in effect.' });
    const files = result.snapshot.files.map((f) => ({ path: f.path, change: fileChange(f) }));
    if (json) {
      io.stdout(
        JSON.stringify({ ok: true, snapshot: result.snapshot.id, target: result.target, files, overridden: result.overridden, keptDirs: result.keptDirs }) + '\n',
      );
    } else {
      const lines = [`Rolled back ${result.target} (${files.length} file${files.length === 1 ? '' : 's'}):`];
      for (const f of files) lines.push(`  ${changeLetter(f.change)} ${f.path}`);
      if (result.overridden.length > 0) lines.push(`Overwrote ${result.overridden.length} file(s) changed since the apply (--force): ${result.overridden.map((c) => c.path).join(', ')}.`);
      for (const d of result.keptDirs) lines.push(`Kept the folder ${d}/: it is not empty.`);
      lines.push(`This rollback is snapshot ${result.snapshot.id}; \`airlock rollback ${result.snapshot.id}\` redoes the apply.`);
      io.stdout(lines.join('\n') + '\n');
    }
    return EXIT_OK;
  } catch (err) {
    return fail('rollback', err, io, json);
  }
}

/** Runs `fn` with the dispatcher's audit sink, or with the state folder's audit log opened for it when `needed`. */
async function withAudit<T>(deps: SnapshotsCommandDeps, state: string, needed: boolean, fn: (audit: AuditSink | undefined) => Promise<T>): Promise<T> {
  if (deps.audit || !needed) return fn(deps.audit);
  let log: AuditLog;
  try {
    log = await AuditLog.open(state, { lazy: true });
  } catch (err) {
    throw new SnapshotError('audit-failed', `The audit log in ${state} cannot be opened (${(err as Error).message}); nothing was changed.`, {}, { cause: err });
  }
  try {
    return await fn(log);
  } finally {
    await log.close();
  }
}

function storeOptions(deps: SnapshotsCommandDeps, audit: AuditSink | undefined) {
  return {
    ...(audit ? { audit } : {}),
    ...(deps.keepLast !== undefined ? { keepLast: deps.keepLast } : {}),
    ...(deps.keepDays !== undefined ? { keepDays: deps.keepDays } : {}),
  };
}

async function locate(workspaceArg: string | undefined, stateArg: string | undefined): Promise<{ workspace: string; state: string } | string> {
  const workspace = resolve(workspaceArg ?? '.');
  if (!(await isDir(workspace))) return `the workspace ${workspace} is not a folder.`;
  // The CLI keeps its state inside the workspace; the guard pipeline never lets an agent read or write it.
  return { workspace, state: stateDirFor(workspace, stateArg) };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

function cliActor(): string {
  try {
    const name = userInfo().username;
    return `human:${name || 'cli'}`;
  } catch {
    return 'human:cli';
  }
}

function fail(command: string, err: unknown, io: CommandIo, json: boolean): number {
  if (!SnapshotError.is(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return report(io, json, EXIT_FAILED, { ok: false, error: 'io', message }, command);
  }
  const code =
    err.reason === 'conflicts'
      ? EXIT_CONFLICTS
      : err.reason === 'unknown-snapshot' || err.reason === 'ambiguous-snapshot' || err.reason === 'already-rolled-back' || err.reason === 'damaged-manifest'
        ? EXIT_USAGE
        : EXIT_FAILED;
  const body: { ok: boolean; error: string; message: string } & Record<string, unknown> = { ok: false, error: err.reason, message: err.message };
  if (err.reason === 'conflicts') body.conflicts = err.conflicts;
  else if (err.paths.length > 0) body.paths = err.paths;
  if (!json && err.reason === 'conflicts') {
    const lines = [`airlock ${command}: refused. ${err.conflicts.length} file(s) changed since the snapshot wrote them:`];
    for (const c of err.conflicts) lines.push(`  ${c.path} (${c.folder ? 'a folder now' : c.actual === null ? 'deleted since' : c.expected === null ? 'created since' : 'edited since'})`);
    lines.push('Nothing was changed. Re-run with --force to overwrite them (their current content is snapshotted first, so this can be undone).');
    io.stderr(lines.join('\n') + '\n');
    return code;
  }
  return report(io, json, code, body, command);
}

function report(io: CommandIo, json: boolean, code: number, body: { ok: boolean; error: string; message: string } & Record<string, unknown>, command = 'rollback'): number {
  if (json) io.stdout(JSON.stringify(body) + '\n');
  else io.stderr(`airlock ${command}: ${body.message}\n`);
  return code;
}

function snapshotJson(s: Snapshot) {
  return {
    id: s.id,
    time: s.createdAt,
    kind: s.kind,
    runId: s.runId,
    agent: s.agent,
    actor: s.actor,
    workspace: s.workspace,
    files: s.files.map((f) => ({ path: f.path, change: fileChange(f) })),
    fileCount: s.files.length,
    state: s.state,
    ...(s.rolledBackBy !== undefined ? { rolledBackBy: s.rolledBackBy } : {}),
    ...(s.rollsBack !== undefined ? { rollsBack: s.rollsBack } : {}),
  };
}

function table(all: readonly Snapshot[]): string {
  const rows = all.map((s) => [
    s.id,
    s.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    s.kind === 'apply' ? 'apply' : `rollback of ${s.rollsBack}`,
    s.runId,
    s.agent,
    String(s.files.length),
    s.state === 'applied' ? 'applied' : `rolled back (${s.rolledBackBy})`,
  ]);
  const head = ['ID', 'TIME', 'KIND', 'RUN', 'AGENT', 'FILES', 'STATE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

function changeLetter(c: 'create' | 'modify' | 'delete'): string {
  // What the rollback did to the file: A re-created, M restored, D removed.
  return c === 'create' ? 'A' : c === 'delete' ? 'D' : 'M';
}
