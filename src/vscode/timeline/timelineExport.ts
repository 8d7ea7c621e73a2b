// Writes the timeline's export (the same JSONL, CSV and OTLP as `airlock audit export`) to a file: streamed, so a
// million events never sit in memory, into a temp file renamed into place, so a failed export never leaves half
// a file under the chosen name.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { exportEvents } from '../../core/audit/auditExport';
import type { AuditEvent } from '../../protocol/auditEvent';
import type { ExportFormat } from '../../protocol/timelineProtocol';

export class TimelineExportError extends Error {
  override readonly name = 'TimelineExportError';
  constructor(
    readonly reason: 'write-failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  static is(e: unknown): e is TimelineExportError {
    return e instanceof TimelineExportError;
  }
}

export async function exportAuditEvents(format: ExportFormat, events: AsyncIterable<AuditEvent>, file: string): Promise<number> {
  const tmp = `${file}.airlock-tmp-${process.pid}`;
  const out = createWriteStream(tmp, { encoding: 'utf8' });
  const failed = once(out, 'error').then(([e]) => Promise.reject(e as Error));
  failed.catch(() => undefined);
  try {
    const count = await Promise.race([
      exportEvents(format, events, async (chunk) => {
        if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
      }),
      failed,
    ]);
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    await rename(tmp, file);
    return count;
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw new TimelineExportError('write-failed', `The export to ${file} failed: ${(err as Error).message}`, { cause: err });
  }
}
