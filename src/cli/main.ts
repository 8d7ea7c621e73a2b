// The `airlock` command: parses the sub-command and hands the rest to its module.
import { runAuditCommand } from './auditCommand';
import { ExitCode, processIo, type CliIo } from './cliIo';
import { runRunCommand } from './runCommand';
import { runRollbackCommand, runSnapshotsCommand } from './snapshotsCommand';

const HELP = `airlock — run AI agents in a guarded sandbox, review what they propose, audit and roll back.

Usage:
  airlock run <agent-file> [--workspace DIR] [--policy FILE] [--agent NAME] [--task TEXT | --task-file F]
                           [--approve none|policy|all] [--apply] [--json] [--state DIR]
  airlock audit verify|export|query [--workspace DIR] [--state DIR] [--format jsonl|csv|otlp] [--run ID] ...
  airlock snapshots [--workspace DIR] [--json]
  airlock rollback <snapshot-id | --last> [--workspace DIR] [--force]
  airlock --help | --version

run        Runs an agent module in a fresh isolate. Writes are staged, never applied, unless --apply.
           --approve answers approval gates: none (default) and policy deny them, all approves them
           (a policy "deny" is never overridden). --apply applies approved changes after a snapshot.
audit      Verifies the hash chain, exports (JSONL, CSV, OpenTelemetry) or queries the audit log.
snapshots  Lists the snapshots taken before each apply.
rollback   Restores the files of a snapshot byte for byte (refuses on later edits unless --force).

Exit codes: 0 completed, 1 the agent failed, 2 usage or policy error, 3 halted by a guardrail,
            4 rollback refused because of conflicts.
State (audit log, snapshots) lives in <workspace>/.airlock/state/ unless --state is given.
`;

const commands: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  run: runRunCommand,
  audit: runAuditCommand,
  snapshots: runSnapshotsCommand,
  rollback: runRollbackCommand,
};

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(HELP);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`${version()}\n`);
    return ExitCode.ok;
  }
  const command = commands[name];
  if (!command) {
    const later = name === 'test' || name === 'mcp' ? ` "airlock ${name}" is not available in this version.` : '';
    io.stderr(`airlock: unknown command "${name}".${later} Run "airlock --help" for the commands.\n`);
    return ExitCode.usage;
  }
  return command(rest, io);
}

function version(): string {
  return typeof AIRLOCK_VERSION === 'string' ? AIRLOCK_VERSION : 'development';
}
declare const AIRLOCK_VERSION: string | undefined;

/** Entry used by bin/airlock.js: runs the command and sets the exit code. */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`airlock: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = ExitCode.usage;
    },
  );
}
