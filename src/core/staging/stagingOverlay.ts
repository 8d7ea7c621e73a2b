// The staging overlay: a run's writes and deletes land here, never in the workspace. Reads, listings and
// searches see the overlay on top of the workspace, so an agent reads back its own staged writes.
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { ApprovalLevel } from '../../protocol/auditEvent';
import type { ChangeKind, ProposedChange } from './proposedChange';

export type OverlayErrorReason = 'not-found' | 'is-directory' | 'not-a-directory' | 'too-large';

export class OverlayError extends Error {
  override readonly name = 'OverlayError';
  constructor(
    readonly reason: OverlayErrorReason,
    message: string,
  ) {
    super(message);
  }
  static is(e: unknown): e is OverlayError {
    return e instanceof OverlayError;
  }
}

export interface ListEntry {
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
}

export interface SearchHit {
  readonly path: string;
  readonly line: number;
  readonly text: string;
}

interface Staged {
  /** Content when the run first touched the path; null when it did not exist. */
  readonly before: Buffer | null;
  /** Current staged content; null when staged as deleted. */
  current: Buffer | null;
  level: ApprovalLevel;
}

const levelRank: Record<ApprovalLevel, number> = { auto: 0, review: 1, require: 2, deny: 3 };
const SKIP_DIRS = new Set(['.git', '.airlock', 'node_modules']);

export interface OverlayLimits {
  /** Files larger than this are not read into the agent (bytes). */
  readonly maxReadBytes: number;
  /** Files larger than this are skipped by search (bytes). */
  readonly maxSearchFileBytes: number;
  readonly maxSearchHits: number;
  readonly maxSearchFiles: number;
}

const defaultLimits: OverlayLimits = { maxReadBytes: 16 * 1024 * 1024, maxSearchFileBytes: 2 * 1024 * 1024, maxSearchHits: 1000, maxSearchFiles: 50_000 };

export class StagingOverlay {
  private readonly staged = new Map<string, Staged>();
  private readonly limits: OverlayLimits;

  /**
   * @param workspace absolute, real path of the workspace root.
   * @param visible decides which workspace-relative paths a listing or search may show (scope and deny rules).
   */
  constructor(
    private readonly workspace: string,
    private readonly visible: (relPath: string, kind: 'file' | 'dir') => boolean,
    limits: Partial<OverlayLimits> = {},
  ) {
    this.limits = { ...defaultLimits, ...limits };
  }

  read(rel: string): Buffer {
    const s = this.staged.get(rel);
    if (s) {
      if (s.current === null) throw new OverlayError('not-found', `${rel} does not exist (deleted in this run)`);
      return s.current;
    }
    if (this.stagedDirectoryExists(rel)) throw new OverlayError('is-directory', `${rel} is a directory`);
    const abs = join(this.workspace, rel);
    let size: number;
    try {
      const st = statSync(abs);
      if (st.isDirectory()) throw new OverlayError('is-directory', `${rel} is a directory`);
      size = st.size;
    } catch (e) {
      if (OverlayError.is(e)) throw e;
      throw new OverlayError('not-found', `${rel} does not exist`);
    }
    if (size > this.limits.maxReadBytes) throw new OverlayError('too-large', `${rel} is ${size} bytes, over the ${this.limits.maxReadBytes}-byte read limit`);
    return readFileSync(abs);
  }

  exists(rel: string): boolean {
    const s = this.staged.get(rel);
    if (s) return s.current !== null;
    return this.diskEntry(rel) === 'file';
  }

  /** True when writing `rel` would add a path to the set of changed files. */
  isNewChange(rel: string): boolean {
    return !this.staged.has(rel);
  }

  changedFileCount(): number {
    return this.changes().length;
  }

  write(rel: string, data: Buffer, level: ApprovalLevel): ChangeKind {
    if (this.isDirectory(rel)) throw new OverlayError('is-directory', `${rel} is a directory`);
    const parentFile = this.fileAncestor(rel);
    if (parentFile) throw new OverlayError('not-a-directory', `${parentFile} is a file, so ${rel} cannot be created`);
    const s = this.touch(rel);
    s.current = data;
    s.level = maxLevel(s.level, level);
    return s.before === null ? 'create' : 'modify';
  }

  delete(rel: string, level: ApprovalLevel): void {
    if (this.isDirectory(rel)) throw new OverlayError('is-directory', `${rel} is a directory; only files can be deleted`);
    if (!this.exists(rel)) throw new OverlayError('not-found', `${rel} does not exist`);
    const s = this.touch(rel);
    s.current = null;
    s.level = maxLevel(s.level, level);
  }

  list(relDir: string): ListEntry[] {
    const dir = relDir === '.' ? '' : relDir;
    if (dir !== '' && !this.isDirectory(dir)) {
      if (this.exists(dir)) throw new OverlayError('not-a-directory', `${dir} is a file`);
      throw new OverlayError('not-found', `${dir} does not exist`);
    }
    const out = new Map<string, ListEntry>();
    let dirents: Dirent[] = [];
    try {
      dirents = readdirSync(join(this.workspace, dir), { withFileTypes: true });
    } catch {
      dirents = [];
    }
    for (const d of dirents) {
      const rel = dir ? `${dir}/${d.name}` : d.name;
      const kind = this.diskEntry(rel);
      if (!kind) continue;
      out.set(rel, { path: rel, type: kind, size: kind === 'file' ? safeSize(join(this.workspace, rel)) : 0 });
    }
    const prefix = dir ? `${dir}/` : '';
    for (const [rel, s] of this.staged) {
      if (!rel.startsWith(prefix)) continue;
      const rest = rel.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash === -1) {
        if (s.current === null) out.delete(rel);
        else out.set(rel, { path: rel, type: 'file', size: s.current.length });
      } else if (s.current !== null) {
        const sub = prefix + rest.slice(0, slash);
        if (!out.has(sub)) out.set(sub, { path: sub, type: 'dir', size: 0 });
      }
    }
    return [...out.values()].filter((e) => this.visible(e.path, e.type)).sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }

  /** Plain-text search (not a regular expression, so a hostile pattern cannot hang the host). */
  search(text: string, include: (relPath: string) => boolean): { hits: SearchHit[]; truncated: boolean } {
    const hits: SearchHit[] = [];
    let files = 0;
    let truncated = false;
    const seen = new Set<string>();
    const scan = (rel: string, content: Buffer) => {
      if (content.length > this.limits.maxSearchFileBytes || content.subarray(0, 8000).includes(0)) return;
      const lines = content.toString('utf8').split(/\r?\n/);
      for (let i = 0; i < lines.length; i++) {
        if (!lines[i]!.includes(text)) continue;
        if (hits.length >= this.limits.maxSearchHits) {
          truncated = true;
          return;
        }
        hits.push({ path: rel, line: i + 1, text: lines[i]!.length > 500 ? lines[i]!.slice(0, 500) + '…' : lines[i]! });
      }
    };
    const walk = (dir: string) => {
      let dirents: Dirent[];
      try {
        dirents = readdirSync(join(this.workspace, dir), { withFileTypes: true });
      } catch {
        return;
      }
      dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const d of dirents) {
        if (truncated) return;
        const rel = dir ? `${dir}/${d.name}` : d.name;
        if (d.isDirectory()) {
          if (!SKIP_DIRS.has(d.name) && this.visible(rel, 'dir')) walk(rel);
          continue;
        }
        if (!d.isFile() || !this.visible(rel, 'file') || !include(rel)) continue;
        seen.add(rel);
        if (++files > this.limits.maxSearchFiles) {
          truncated = true;
          return;
        }
        const s = this.staged.get(rel);
        if (s) {
          if (s.current) scan(rel, s.current);
          continue;
        }
        try {
          if (statSync(join(this.workspace, rel)).size <= this.limits.maxSearchFileBytes) scan(rel, readFileSync(join(this.workspace, rel)));
        } catch {
          // vanished while searching
        }
      }
    };
    if (text !== '') {
      walk('');
      for (const [rel, s] of this.staged) {
        if (truncated) break;
        if (!seen.has(rel) && s.current && this.visible(rel, 'file') && include(rel)) scan(rel, s.current);
      }
    }
    hits.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line));
    return { hits, truncated };
  }

  /** What the run proposes, in path order; paths whose staged content equals what they had drop out. */
  changes(): ProposedChange[] {
    const out: ProposedChange[] = [];
    for (const [path, s] of [...this.staged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (s.before === null && s.current === null) continue;
      if (s.before !== null && s.current !== null && s.before.equals(s.current)) continue;
      const kind: ChangeKind = s.current === null ? 'delete' : s.before === null ? 'create' : 'modify';
      out.push({ path, kind, before: s.before, after: s.current, level: s.level });
    }
    return out;
  }

  private touch(rel: string): Staged {
    let s = this.staged.get(rel);
    if (!s) {
      const before = this.diskEntry(rel) === 'file' ? readFileSync(join(this.workspace, rel)) : null;
      s = { before, current: before, level: 'auto' };
      this.staged.set(rel, s);
    }
    return s;
  }

  private isDirectory(rel: string): boolean {
    return this.diskEntry(rel) === 'dir' || this.stagedDirectoryExists(rel);
  }

  private stagedDirectoryExists(rel: string): boolean {
    const prefix = `${rel}/`;
    for (const [p, s] of this.staged) if (s.current !== null && p.startsWith(prefix)) return true;
    return false;
  }

  /** The nearest ancestor of `rel` that is a file (on disk or staged), if any. */
  private fileAncestor(rel: string): string | undefined {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const anc = parts.slice(0, i).join('/');
      if (this.exists(anc)) return anc;
    }
    return undefined;
  }

  private diskEntry(rel: string): 'file' | 'dir' | undefined {
    try {
      const st = statSync(join(this.workspace, rel));
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
    } catch {
      return undefined;
    }
  }
}

function maxLevel(a: ApprovalLevel, b: ApprovalLevel): ApprovalLevel {
  return levelRank[a] >= levelRank[b] ? a : b;
}

function safeSize(abs: string): number {
  try {
    return statSync(abs).size;
  } catch {
    return 0;
  }
}
