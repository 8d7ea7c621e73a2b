// The editor's list of recent runs, kept in the run state folder (`runs.json`) so the Runs view still shows them
// after a reload: who ran, on what task, how it ended and with what counts. Summaries only: the proposals are in
// the pending store, and every event is in the audit log.
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../snapshots/atomicWrite';
import { RUN_ID } from './runId';

export const RUN_HISTORY_FILE = 'runs.json';

export const RunEnd = z
  .object({
    status: z.string().max(32),
    reason: z.string().max(4000),
    durationMs: z.number().nonnegative(),
    calls: z.object({ total: z.number().int().nonnegative(), denied: z.number().int().nonnegative() }).strict(),
    changes: z.number().int().nonnegative(),
  })
  .strict();
export type RunEnd = z.infer<typeof RunEnd>;

export const RunSummaryRecord = z
  .object({
    runId: z.string().regex(RUN_ID),
    agent: z.string().max(256),
    agentFile: z.string().max(4096),
    task: z.string().max(20_000),
    workspace: z.string().max(4096),
    startedAt: z.string().max(64),
    /** How it ended; absent when the window went away while it ran. */
    ended: RunEnd.optional(),
    error: z.string().max(4000).optional(),
  })
  .strict();
export type RunSummaryRecord = z.infer<typeof RunSummaryRecord>;

const HistoryFile = z.object({ version: z.literal(1), runs: z.array(RunSummaryRecord).max(1000) }).strict();

export class RunHistoryStore {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.file = join(stateDir, RUN_HISTORY_FILE);
  }

  /** The runs saved, newest first; a file that does not read back is moved aside and named in `problem`. */
  load(): { runs: RunSummaryRecord[]; problem?: string } {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [] };
      return { runs: [], problem: `The list of earlier runs (${this.file}) could not be read: ${(err as Error).message}` };
    }
    let parsed: ReturnType<typeof HistoryFile.safeParse>;
    try {
      parsed = HistoryFile.safeParse(JSON.parse(text));
    } catch (err) {
      return this.aside(`it is not JSON (${(err as Error).message})`);
    }
    if (!parsed.success) return this.aside(parsed.error.issues.slice(0, 2).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    return { runs: parsed.data.runs };
  }

  /** Replaces the saved list (writes are kept in order; each is atomic). */
  save(runs: readonly RunSummaryRecord[]): Promise<void> {
    const value = { version: 1 as const, runs: [...runs] };
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await fs.promises.mkdir(dirname(this.file), { recursive: true });
      await writeJsonAtomic(this.file, value);
    });
    return this.writing;
  }

  private aside(why: string): { runs: RunSummaryRecord[]; problem: string } {
    const damaged = `${this.file}.damaged`;
    try {
      fs.renameSync(this.file, damaged);
    } catch {
      // Reported below all the same; the next save replaces it.
    }
    return { runs: [], problem: `The list of earlier runs could not be read back (${why}); it was moved to ${damaged}.` };
  }
}
