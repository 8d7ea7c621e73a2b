// `airlock run`: runs one agent headlessly, answers gates from --approve, prints a report (or --json), and
// with --apply applies the approved changes through the snapshot store.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { unifiedDiff } from '../core/diff/unifiedDiff';
import { PolicyError, defaultPolicyPath, loadPolicy } from '../core/policy/policyLoader';
import { AgentFileError, AgentRuntime, type RunReport } from '../core/runtime/agentRuntime';
import { openRunState } from '../core/runtime/runState';
import { SandboxNodeError } from '../core/runtime/sandboxNode';
import type { ProposedChange } from '../core/staging/proposedChange';
import { CliApprovalGate, type ApproveMode } from './cliApprovalGate';
import { ExitCode, UsageError, type CliIo } from './cliIo';
import { stateDirFor } from './workspaceState';

export interface RunJsonReport {
  runId: string;
  agent: string;
  status: RunReport['status'];
  reason: string;
  result: unknown;
  changes: Array<{ path: string; kind: ProposedChange['kind']; approved: boolean; applied: boolean; diff: string }>;
  calls: { total: number; denied: number };
  snapshot: string | null;
}

interface RunArgs {
  agentFile: string;
  workspace: string;
  policyFile: string;
  /** True when --policy named the file, so a missing file is an error rather than "use the defaults". */
  policyGiven: boolean;
  agentName: string | undefined;
  task: string;
  approve: ApproveMode;
  apply: boolean;
  json: boolean;
  stateDir: string;
}

function parseRunArgs(args: string[]): RunArgs {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      workspace: { type: 'string' },
      policy: { type: 'string' },
      agent: { type: 'string' },
      task: { type: 'string' },
      'task-file': { type: 'string' },
      approve: { type: 'string' },
      apply: { type: 'boolean' },
      json: { type: 'boolean' },
      state: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('airlock run needs exactly one agent file, e.g. airlock run examples/agents/refactor.agent.js');
  const approve = (values.approve ?? 'none') as ApproveMode;
  if (!['none', 'policy', 'all'].includes(approve)) throw new UsageError(`--approve must be none, policy or all (got "${values.approve}")`);
  if (values.task !== undefined && values['task-file'] !== undefined) throw new UsageError('give either --task or --task-file, not both');
  let task = values.task ?? '';
  if (values['task-file'] !== undefined) {
    try {
      task = readFileSync(values['task-file'], 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read --task-file ${values['task-file']}: ${(e as Error).message}`);
    }
  }
  const workspace = resolve(values.workspace ?? process.cwd());
  return {
    agentFile: resolve(positionals[0]!),
    workspace,
    policyFile: values.policy !== undefined ? resolve(values.policy) : defaultPolicyPath(workspace),
    policyGiven: values.policy !== undefined,
    agentName: values.agent,
    task,
    approve,
    apply: values.apply ?? false,
    json: values.json ?? false,
    stateDir: stateDirFor(workspace, values.state),
  };
}

export async function runRunCommand(args: string[], io: CliIo): Promise<number> {
  let a: RunArgs;
  try {
    a = parseRunArgs(args);
  } catch (e) {
    io.stderr(`airlock run: ${(e as Error).message}\n`);
    return ExitCode.usage;
  }
  if (!existsSync(a.agentFile)) {
    io.stderr(`airlock run: no agent file at ${a.agentFile}. Give the path to an *.agent.js or *.agent.mjs module.\n`);
    return ExitCode.usage;
  }
  if (a.policyGiven && !existsSync(a.policyFile)) {
    io.stderr(`airlock run: no policy file at ${a.policyFile}.\n`);
    return ExitCode.usage;
  }
  let loaded;
  try {
    loaded = loadPolicy(a.policyFile);
  } catch (e) {
    if (PolicyError.is(e)) {
      io.stderr(`airlock run: ${e.message}\n`);
      return ExitCode.usage;
    }
    throw e;
  }

  const state = await openRunState(a.stateDir, loaded.policy.redact?.patterns ?? []);
  const runtime = new AgentRuntime();
  const say = (s: string) => {
    if (!a.json) io.stderr(s);
  };
  const gate = new CliApprovalGate(a.approve, (req, answer) =>
    say(`  gate  ${req.kind === 'escalation' ? `escalation: "${req.reason}"` : `${req.tool} ${JSON.stringify(req.args)}`} (${req.rule}) → ${answer.approved ? 'approved' : 'denied'} (${answer.note})\n`),
  );
  let stopOnSignal: (() => void) | undefined;
  try {
    let run;
    try {
      run = await runtime.start({
        workspace: a.workspace,
        agentFile: a.agentFile,
        agentName: a.agentName,
        task: a.task,
        policyFile: a.policyFile,
        gate,
        audit: state.audit,
        scanner: state.scanner,
        onLog: (l) => say(`  ${l.source === 'console' ? 'console' : 'log'}.${l.level}  ${l.message}\n`),
      });
    } catch (e) {
      if (PolicyError.is(e) || AgentFileError.is(e) || SandboxNodeError.is(e)) {
        io.stderr(`airlock run: ${e.message}\n`);
        return ExitCode.usage;
      }
      throw e;
    }
    say(`airlock: running ${run.agent} (${run.runId}) in the sandbox…\n`);
    stopOnSignal = () => void run.stop('interrupted (Ctrl+C)');
    process.once('SIGINT', stopOnSignal);
    const report = await run.done;

    const approved = (c: ProposedChange) => c.level !== 'deny' && (a.approve === 'all' || c.level === 'auto');
    let snapshot: string | null = null;
    let applyNote: string | undefined;
    let appliedPaths = new Set<string>();
    if (a.apply) {
      const toApply = report.changes.filter(approved);
      if (report.status !== 'completed') applyNote = `nothing applied: the run did not complete (${report.status})`;
      else if (toApply.length === 0) applyNote = 'nothing to apply: no approved changes';
      else {
        try {
          snapshot = await state.applyChanges(a.workspace, toApply, { runId: report.runId, agent: report.agent, actor: 'policy' });
          appliedPaths = new Set(toApply.map((c) => c.path));
        } catch (e) {
          io.stderr(`airlock run: applying the changes failed, the workspace is as it was: ${(e as Error).message}\n`);
          return ExitCode.agentFailed;
        }
      }
    }

    const json: RunJsonReport = {
      runId: report.runId,
      agent: report.agent,
      status: report.status,
      reason: report.reason,
      result: report.result,
      changes: report.changes.map((c) => ({ path: c.path, kind: c.kind, approved: approved(c), applied: appliedPaths.has(c.path), diff: unifiedDiff(c.path, c.before, c.after) })),
      calls: report.calls,
      snapshot,
    };
    if (a.json) io.stdout(JSON.stringify(json) + '\n');
    else io.stdout(humanReport(report, json, { apply: a.apply, applyNote }));
    return report.status === 'completed' ? ExitCode.ok : report.status === 'failed' ? ExitCode.agentFailed : ExitCode.halted;
  } finally {
    if (stopOnSignal) process.removeListener('SIGINT', stopOnSignal);
    runtime.dispose();
    await state.close();
  }
}

function humanReport(report: RunReport, json: RunJsonReport, o: { apply: boolean; applyNote: string | undefined }): string {
  const icon = report.status === 'completed' ? '✔' : report.status === 'failed' ? '✖' : '■';
  const lines: string[] = [];
  lines.push(`${icon} ${report.agent} ${report.status}: ${report.reason}`);
  lines.push(`  run ${report.runId} · ${report.calls.total} tool calls, ${report.calls.denied} denied · ${Math.round(report.durationMs)} ms`);
  if (report.result !== null && report.result !== undefined) lines.push(`  result: ${JSON.stringify(report.result)}`);
  for (const e of report.effects) lines.push(`  staged effect: ${e.tool} ${JSON.stringify(e.args)} → ${JSON.stringify(e.response)}`);
  if (json.changes.length === 0) lines.push('  no changes proposed');
  else lines.push(`  ${json.changes.length} proposed change${json.changes.length === 1 ? '' : 's'}:`);
  for (const c of json.changes) {
    const mark = c.kind === 'create' ? 'A' : c.kind === 'delete' ? 'D' : 'M';
    lines.push(`\n${mark} ${c.path}  (${c.applied ? 'applied' : c.approved ? 'approved' : 'needs approval'})`);
    lines.push(c.diff.trimEnd());
  }
  lines.push('');
  if (o.applyNote) lines.push(o.applyNote);
  if (json.snapshot) lines.push(`applied ${json.changes.filter((c) => c.applied).length} change(s); snapshot ${json.snapshot} — undo with: airlock rollback ${json.snapshot}`);
  else if (!o.apply && json.changes.length > 0) lines.push('The workspace was not changed. Run again with --apply (and --approve all to include changes that need approval) to apply.');
  return lines.join('\n') + '\n';
}

