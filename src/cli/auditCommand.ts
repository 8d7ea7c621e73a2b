// `airlock audit verify|export|query|runs`: reads the audit log without taking the writer lock, so it works
// beside a running editor or CLI, and never changes the log.
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { approvalLevels, auditEventTypes, decisions } from '../protocol/auditEvent';
import type { ApprovalLevel, AuditEvent, AuditEventType, Decision } from '../protocol/auditEvent';
import { AuditError } from '../core/audit/auditError';
import { exportEvents, exportFormats } from '../core/audit/auditExport';
import type { ExportFormat } from '../core/audit/auditExport';
import { AuditLog, verifyAuditLog } from '../core/audit/auditLog';
import type { AuditQuery, RunStatus } from '../core/audit/auditQuery';
import { stateDirFor } from './workspaceState';

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const EXIT_OK = 0;
/** The chain is broken, or the log cannot be read. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const HELP = `airlock audit — verify, export or query the audit log

Usage:
  airlock audit verify [--deep] [--json]
  airlock audit export [--format jsonl|csv|otlp] [--out FILE] [filters]
  airlock audit query  [filters] [--limit N] [--before SEQ | --after SEQ] [--json]
  airlock audit runs   [--agent NAME] [--status running|completed|failed|halted] [--limit N] [--json]

Where:  --workspace DIR (default: the current folder; the log is in DIR/.airlock/state/)  --state DIR
Filters (each may be repeated): --run ID  --agent NAME  --tool NAME  --type TYPE  --decision D  --level L
                                --since TIME  --until TIME  --text WORDS
verify exits 0 when the hash chain is intact, 1 naming the first bad event when it is not.
`;

class UsageProblem extends Error {
  readonly reason = 'usage';
  static is(e: unknown): e is UsageProblem {
    return e instanceof UsageProblem;
  }
}

export async function runAuditCommand(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(HELP);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  try {
    switch (sub) {
      case 'verify':
        return await verify(rest, io);
      case 'export':
        return await exportCommand(rest, io);
      case 'query':
        return await query(rest, io);
      case 'runs':
        return await runs(rest, io);
      default:
        throw new UsageProblem(`unknown sub-command "${sub}" (verify, export, query or runs)`);
    }
  } catch (e) {
    if (UsageProblem.is(e) || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`airlock audit: ${(e as Error).message}\nRun "airlock audit --help" for the options.\n`);
      return EXIT_USAGE;
    }
    if (AuditError.is(e)) {
      io.stderr(`airlock audit: ${e.message}\n`);
      return EXIT_FAILED;
    }
    throw e;
  }
}

const common = {
  workspace: { type: 'string' },
  state: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const filters = {
  run: { type: 'string', multiple: true },
  agent: { type: 'string', multiple: true },
  tool: { type: 'string', multiple: true },
  type: { type: 'string', multiple: true },
  decision: { type: 'string', multiple: true },
  level: { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
  text: { type: 'string' },
} as const;

function stateDir(values: { workspace?: string; state?: string }): string {
  return stateDirFor(values.workspace ?? process.cwd(), values.state);
}

function oneOf<T extends string>(flag: string, given: string[] | undefined, allowed: readonly T[]): T[] | undefined {
  if (!given) return undefined;
  for (const g of given) if (!(allowed as readonly string[]).includes(g)) throw new UsageProblem(`--${flag} must be one of ${allowed.join(', ')} (got "${g}")`);
  return given as T[];
}

function time(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new UsageProblem(`--${flag} is not a date or time: "${v}" (use ISO 8601, e.g. 2026-11-21T10:00:00Z)`);
  return new Date(ms).toISOString();
}

function seqArg(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/^#/, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageProblem(`--${flag} must be an event number (got "${v}")`);
  return n;
}

function filterQuery(v: Record<string, unknown>): AuditQuery {
  const s = v as { run?: string[]; agent?: string[]; tool?: string[]; type?: string[]; decision?: string[]; level?: string[]; since?: string; until?: string; text?: string };
  return {
    runId: s.run,
    agent: s.agent,
    tool: s.tool,
    type: oneOf<AuditEventType>('type', s.type, auditEventTypes),
    decision: oneOf<Decision>('decision', s.decision, decisions),
    level: oneOf<ApprovalLevel>('level', s.level, approvalLevels),
    since: time('since', s.since),
    until: time('until', s.until),
    text: s.text,
  };
}

async function openLog(dir: string, io: Io): Promise<AuditLog> {
  const log = await AuditLog.open(dir, { readOnly: true });
  for (const m of log.recovery.messages) io.stderr(`airlock audit: ${m}\n`);
  return log;
}

async function verify(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { ...common, deep: { type: 'boolean' } } });
  if (positionals.length > 0) throw new UsageProblem(`verify takes no arguments (got "${positionals[0]}")`);
  const result = await verifyAuditLog(stateDir(values), { deep: values.deep ?? false });
  if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
  else {
    io[result.ok ? 'stdout' : 'stderr'](`${result.ok ? 'ok' : 'FAILED'}: ${result.message}\n`);
    for (const n of result.notes) io.stderr(`note: ${n}\n`);
    if (!result.ok) io.stderr(`The log is intact up to event #${result.head.seq}. Keep the state folder as it is for the investigation.\n`);
  }
  return result.ok ? EXIT_OK : EXIT_FAILED;
}

async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { ...common, ...filters, format: { type: 'string' }, out: { type: 'string' } } });
  if (positionals.length > 0) throw new UsageProblem(`export takes no arguments (got "${positionals[0]}")`);
  const format = (values.format ?? 'jsonl') as ExportFormat;
  if (!exportFormats.includes(format)) throw new UsageProblem(`--format must be one of ${exportFormats.join(', ')} (got "${values.format}")`);
  const q = filterQuery(values);
  const log = await openLog(stateDir(values), io);
  try {
    if (values.out === undefined) {
      await exportEvents(format, log.iterate(q), (s) => io.stdout(s));
      return EXIT_OK;
    }
    const out = createWriteStream(resolve(values.out));
    const failed = new Promise<never>((_, reject) => out.once('error', reject));
    const write = (s: string) => (out.write(s) ? undefined : Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]));
    const n = await Promise.race([exportEvents(format, log.iterate(q), write), failed]);
    await new Promise<void>((r, reject) => out.end((e?: Error | null) => (e ? reject(e) : r())));
    io.stderr(`airlock audit: exported ${n.toLocaleString('en-US')} events to ${values.out} (${format})\n`);
    return EXIT_OK;
  } finally {
    await log.close();
  }
}

async function query(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...common, ...filters, limit: { type: 'string' }, before: { type: 'string' }, after: { type: 'string' } },
  });
  if (positionals.length > 0) throw new UsageProblem(`query takes no arguments (got "${positionals[0]}"); use --text to search`);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageProblem(`--limit must be between 1 and 1000 (got "${values.limit}")`);
  const before = seqArg('before', values.before);
  const after = seqArg('after', values.after);
  if (before !== undefined && after !== undefined) throw new UsageProblem('give --before or --after, not both');
  const log = await openLog(stateDir(values), io);
  try {
    const page = await log.query({ ...filterQuery(values), limit, before, after });
    if (values.json) {
      io.stdout(`${JSON.stringify(page)}\n`);
      return EXIT_OK;
    }
    if (page.events.length === 0) io.stderr('No events match.\n');
    for (const e of page.events) io.stdout(`${formatEvent(e)}\n`);
    if (page.hasMore) {
      const last = page.events[page.events.length - 1]!;
      io.stderr(`… more: --${page.order === 'desc' ? 'before' : 'after'} ${last.seq}\n`);
    }
    return EXIT_OK;
  } finally {
    await log.close();
  }
}

async function runs(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...common, agent: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } },
  });
  if (positionals.length > 0) throw new UsageProblem(`runs takes no arguments (got "${positionals[0]}")`);
  const status = oneOf<RunStatus>('status', values.status === undefined ? undefined : [values.status], ['running', 'completed', 'failed', 'halted', 'unknown'])?.[0];
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageProblem(`--limit must be a positive number (got "${values.limit}")`);
  const log = await openLog(stateDir(values), io);
  try {
    const list = await log.runs({ agent: values.agent, status, limit });
    if (values.json) {
      io.stdout(`${JSON.stringify(list)}\n`);
      return EXIT_OK;
    }
    if (list.length === 0) io.stderr('No runs.\n');
    for (const r of list) {
      io.stdout(
        `${r.runId}  ${safe(r.agent)}  ${r.status}  ${r.startedAt ?? r.lastAt}  events ${r.events}, calls ${r.toolCalls}, denied ${r.denied}, alerts ${r.alerts}` +
          `${r.pending > 0 ? `, waiting ${r.pending}` : ''}${r.costUsd > 0 ? `, $${r.costUsd.toFixed(4)}` : ''}${r.reason ? `  — ${safe(r.reason, 80)}` : ''}\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await log.close();
  }
}

/** One line per event. Agent-controlled text is escaped so it cannot move the cursor or recolour the terminal. */
export function formatEvent(e: AuditEvent): string {
  const parts = [`#${e.seq}`, e.ts, e.runId.slice(0, 8), safe(e.agent, 24), e.type];
  if (e.tool) parts.push(safe(e.tool, 32));
  if (e.decision || e.level) parts.push([e.decision, e.level].filter(Boolean).join('/'));
  if (e.rule) parts.push(`[${safe(e.rule, 40)}]`);
  if (e.actor && e.actor !== 'policy') parts.push(`by ${safe(e.actor, 32)}`);
  if (e.args !== undefined) parts.push(safe(JSON.stringify(e.args), 100));
  if (e.reason) parts.push(`— ${safe(e.reason, 100)}`);
  return parts.join('  ');
}

function safe(s: string, max = 200): string {
  const escaped = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}
