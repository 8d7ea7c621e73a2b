// Opens the audit log of the extension's state folder for the timeline: read-only (the runner is the writer),
// so the timeline never holds the writer lock and sees the runner's events through sync(). The log lives on a
// worker thread (AuditReader), so loading a large database never stalls the extension host; it is loaded when
// first needed (deferredTimelineSource.ts): the newest page is read from the journal before that.
import { mkdir } from 'node:fs/promises';
import { AuditReader } from '../../core/audit/auditReader';
import { AuditTimelineSource } from './auditTimelineSource';
import type { AuditExporter } from './auditTimelineSource';
import { DeferredTimelineSource } from './deferredTimelineSource';
import type { TimelineLog } from './timelineMessageHandler';
import type { TimelineSource } from './timelineSource';

export async function openTimelineSource(stateDir: string, log: TimelineLog, exporter: AuditExporter): Promise<TimelineSource> {
  await mkdir(stateDir, { recursive: true });
  return new DeferredTimelineSource(stateDir, async () => {
    const started = performance.now();
    const audit = await AuditReader.open(stateDir, { onWarning: (m) => log.warn(`Audit log: ${m}`) });
    log.info(`Timeline: opened the audit log (${audit.lastEvent.seq.toLocaleString('en-US')} events) in ${Math.round(performance.now() - started)} ms`);
    for (const m of audit.recovery.messages) log.info(`Audit log: ${m}`);
    return new AuditTimelineSource(audit, { exporter, ownsLog: true });
  }, (m) => log.info(m));
}
