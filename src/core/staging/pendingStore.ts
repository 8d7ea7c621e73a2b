// What finished runs propose and nobody has decided on yet, kept on disk so that a window reload, an editor
// restart or a crashed extension host loses no proposal. One folder per run under `<state>/pending/`:
//   <runId>/run.json        the run, its changes (path, kind, level, content hashes) and the hunk decisions so far
//   <runId>/<sha256>        each distinct before/after content, by hash (checked when read back)
// A run is written into a temp folder and renamed into place whole; later updates rewrite run.json atomically.
// Content files are never rewritten, so a crash leaves either the old or the new run.json, both complete.
import { createHash } from 'node:crypto';
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { fsyncDir, writeDurable, writeJsonAtomic } from '../snapshots/atomicWrite';
import { checkRelativePath } from '../snapshots/workspacePaths';
import { RUN_ID } from '../runtime/runId';
import type { ProposedChange } from './proposedChange';

export const PENDING_DIR = 'pending';
/** The earlier folder of a run being saved again, until the new one is in place. */
const REPLACED = '.replaced';

export type HunkDecision = 'approved' | 'rejected';

export interface PendingRunRecord {
  readonly runId: string;
  readonly agent: string;
  /** The workspace folder the run worked on (absolute path). */
  readonly workspace: string;
  /** When the run's proposals were recorded (ISO time). */
  readonly recordedAt: string;
  readonly changes: ReadonlyArray<{ readonly change: ProposedChange; readonly decisions: ReadonlyMap<number, HunkDecision> }>;
}

const Hash = z.string().regex(/^[0-9a-f]{64}$/);
const Content = z.object({ hash: Hash, size: z.number().int().nonnegative() }).strict().nullable();
const RunFile = z
  .object({
    version: z.literal(1),
    runId: z.string().regex(RUN_ID),
    agent: z.string().max(256),
    workspace: z.string().min(1).max(4096),
    recordedAt: z.string().max(64),
    changes: z
      .array(
        z
          .object({
            path: z.string().min(1).max(4096),
            kind: z.enum(['create', 'modify', 'delete']),
            level: z.enum(['auto', 'review', 'require', 'deny']),
            before: Content,
            after: Content,
            decisions: z.record(z.string().regex(/^\d{1,6}$/), z.enum(['approved', 'rejected'])),
          })
          .strict(),
      )
      .max(100_000),
  })
  .strict();
type RunFile = z.infer<typeof RunFile>;

/** What loading found besides the runs: folders it could not use, moved aside so they are not read again. */
export interface PendingLoadReport {
  readonly runs: PendingRunRecord[];
  readonly problems: string[];
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export class PendingStore {
  readonly dir: string;
  /** Writes per run, in order (a decision right after `save` must land after it). */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, PENDING_DIR);
  }

  /** Records a finished run's proposals: contents first, then run.json, then the folder renamed into place. */
  save(record: PendingRunRecord): Promise<void> {
    return this.enqueue(record.runId, async () => {
      runFolderName(record.runId);
      await fs.mkdir(this.dir, { recursive: true });
      const tmp = `${join(this.dir, record.runId)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
      await fs.mkdir(tmp);
      try {
        const written = new Set<string>();
        const writes: Array<Promise<void>> = [];
        for (const { change } of record.changes) {
          for (const data of [change.before, change.after]) {
            if (data === null) continue;
            const hash = sha256(data);
            if (written.has(hash)) continue;
            written.add(hash);
            writes.push(writeDurable(join(tmp, hash), data));
          }
        }
        await Promise.all(writes);
        await writeJsonAtomic(join(tmp, 'run.json'), toFile(record), { syncDir: false });
        await fsyncDir(tmp);
        // A run saved again: the old folder steps aside first; a crash before the new one is in place brings the
        // old one back at the next load.
        const final = join(this.dir, record.runId);
        const replaced = `${final}${REPLACED}`;
        await fs.rm(replaced, { recursive: true, force: true });
        let hadOld = true;
        await fs.rename(final, replaced).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
          hadOld = false;
        });
        await fs.rename(tmp, final);
        await fsyncDir(this.dir);
        if (hadOld) await fs.rm(replaced, { recursive: true, force: true });
      } catch (err) {
        await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        throw err;
      }
    });
  }

  /** Rewrites a run's record after decisions or removals; a run with nothing left is deleted. */
  update(record: PendingRunRecord): Promise<void> {
    if (record.changes.length === 0) return this.remove(record.runId);
    return this.enqueue(record.runId, async () => {
      const folder = join(this.dir, runFolderName(record.runId));
      if (!fsSync.existsSync(join(folder, 'run.json'))) return;
      await writeJsonAtomic(join(folder, 'run.json'), toFile(record));
    });
  }

  remove(runId: string): Promise<void> {
    return this.enqueue(runId, async () => {
      const folder = join(this.dir, runFolderName(runId));
      // Renamed away first, so a crash midway never leaves a run.json whose contents are half deleted.
      const doomed = `${folder}.${process.pid}.deleting.tmp`;
      try {
        await fs.rename(folder, doomed);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      await fsyncDir(this.dir);
      await fs.rm(doomed, { recursive: true, force: true });
    });
  }

  /** Waits for every write queued so far. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
  }

  /**
   * Every run recorded, oldest first. Leftovers of interrupted writes are removed; a run whose record or content
   * cannot be read back exactly is moved aside (`<runId>.damaged`) and named in `problems`.
   */
  async load(): Promise<PendingLoadReport> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], problems: [] };
      throw err;
    }
    const runs: PendingRunRecord[] = [];
    const problems: string[] = [];
    names.sort();
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const folder = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await fs.rm(folder, { recursive: true, force: true }).catch(() => undefined);
        continue;
      }
      if (name.endsWith('.damaged')) continue;
      if (name.endsWith(REPLACED)) {
        const run = folder.slice(0, -REPLACED.length);
        if (fsSync.existsSync(run)) await fs.rm(folder, { recursive: true, force: true }).catch(() => undefined);
        else {
          await fs.rename(folder, run);
          names.push(name.slice(0, -REPLACED.length));
        }
        continue;
      }
      try {
        runs.push(await readRun(folder, name));
      } catch (err) {
        const aside = `${folder}.damaged`;
        await fs.rm(aside, { recursive: true, force: true }).catch(() => undefined);
        await fs.rename(folder, aside).catch(() => undefined);
        problems.push(`The pending changes of run ${name} could not be read back (${(err as Error).message}); they were moved to ${aside}.`);
      }
    }
    runs.sort((a, b) => a.recordedAt.localeCompare(b.recordedAt) || a.runId.localeCompare(b.runId));
    return { runs, problems };
  }

  private enqueue(runId: string, work: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(runId) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.queues.set(runId, next);
    const forget = () => {
      if (this.queues.get(runId) === next) this.queues.delete(runId);
    };
    next.then(forget, forget);
    return next;
  }
}

/** Run ids name folders: only the characters the runtime uses, never a path. */
function runFolderName(runId: string): string {
  if (!RUN_ID.test(runId) || runId.startsWith('.') || runId.endsWith('.tmp') || runId.endsWith('.damaged') || runId.endsWith(REPLACED)) {
    throw new Error(`not a run id: ${JSON.stringify(runId).slice(0, 140)}`);
  }
  return runId;
}

function toFile(record: PendingRunRecord): RunFile {
  const content = (b: Buffer | null) => (b === null ? null : { hash: sha256(b), size: b.length });
  return {
    version: 1,
    runId: record.runId,
    agent: record.agent,
    workspace: record.workspace,
    recordedAt: record.recordedAt,
    changes: record.changes.map(({ change, decisions }) => ({
      path: change.path,
      kind: change.kind,
      level: change.level,
      before: content(change.before),
      after: content(change.after),
      decisions: Object.fromEntries([...decisions].map(([i, d]) => [String(i), d])),
    })),
  };
}

async function readRun(folder: string, name: string): Promise<PendingRunRecord> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(join(folder, 'run.json'), 'utf8'));
  } catch (err) {
    throw new Error(`run.json: ${(err as Error).message}`);
  }
  const parsed = RunFile.safeParse(raw);
  if (!parsed.success) throw new Error(`run.json: ${parsed.error.issues.slice(0, 2).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const f = parsed.data;
  if (f.runId !== name) throw new Error(`run.json names run ${f.runId}`);
  // run.json temp files of an update that was interrupted.
  for (const n of await fs.readdir(folder)) if (n.endsWith('.tmp')) await fs.rm(join(folder, n), { force: true });
  const read = async (c: z.infer<typeof Content>): Promise<Buffer | null> => {
    if (c === null) return null;
    const data = await fs.readFile(join(folder, c.hash));
    if (data.length !== c.size || sha256(data) !== c.hash) throw new Error(`content ${c.hash.slice(0, 12)}… does not match its hash`);
    return data;
  };
  const changes: Array<{ change: ProposedChange; decisions: Map<number, HunkDecision> }> = [];
  for (const c of f.changes) {
    checkRelativePath(c.path);
    const before = await read(c.before);
    const after = await read(c.after);
    if ((c.kind === 'create') !== (before === null) || (c.kind === 'delete') !== (after === null)) throw new Error(`${c.path}: a ${c.kind} with the wrong contents`);
    changes.push({ change: { path: c.path, kind: c.kind, level: c.level, before, after }, decisions: new Map(Object.entries(c.decisions).map(([i, d]) => [Number(i), d])) });
  }
  return { runId: f.runId, agent: f.agent, workspace: f.workspace, recordedAt: f.recordedAt, changes };
}
