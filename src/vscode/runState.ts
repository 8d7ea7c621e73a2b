// Opens the state runs write to from the editor: the hash-chained audit log and the redactor behind it, in the
// extension's storage folder (outside the workspace, where no agent can reach it).
import { mkdir } from 'node:fs/promises';
import { AuditLog } from '../core/audit/auditLog';
import { Redactor } from '../core/audit/redaction';
import { secretScannerFrom } from '../core/guard/secretScanner';
import type { RunState } from './agentRunner';

/** `redactPatterns`: the policy's extra `redact.patterns`, applied to the audit log and to what runs log. */
export async function openRunState(stateDir: string, redactPatterns: readonly string[]): Promise<RunState> {
  await mkdir(stateDir, { recursive: true });
  const redactor = new Redactor(redactPatterns);
  // lazy: appending never needs the query database; the timeline loads it when it asks for rows.
  const audit = await AuditLog.open(stateDir, { redactor, lazy: true });
  return { audit, scanner: secretScannerFrom(redactor), redactPatterns, close: () => audit.close() };
}
