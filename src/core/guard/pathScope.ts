// Step 2 of the pipeline (file part): may the agent read or write this workspace-relative path?
//
//   normalizeAgentPath(raw: unknown, options?: { allowRoot?: boolean }): NormalizedPath   pure, never throws
//   new PathScope({ workspace, read, write, deny })        throws GuardConfigError (missing workspace, bad glob)
//   scope.check(rawPath: unknown, access: 'read' | 'write'): PathCheck                   a file (or entry) path
//   scope.checkDir(rawPath: unknown): PathCheck            a directory to list; '' and '.' are the workspace root
//   scope.isVisible(relPath: string, kind?: 'file' | 'dir'): boolean   name-only filter for list/search results
//
// Order: the string is refused on its own first (no file system access for hostile names), then the policy rules
// run on the logical path, then symlinks are resolved and the rules run again on where the path really leads.
//
// Decisions, and why:
// - Paths are NFC-normalised and every rule matches the NFC form; globs are NFC-normalised too. (An NFD name on
//   a Linux disk is then a different file from the one the agent gets; that costs access, never safety.)
// - Deny globs and the special folders match case-insensitively (full Unicode upper-then-lower fold, so that
//   `.gıt` counts as `.git` as it does on NTFS): a deny list must hold on macOS and Windows disks. Read and write
//   globs match case-sensitively: on a case-insensitive disk that can only refuse more, never allow more.
// - A deny glob that matches a directory denies everything under it (`node_modules` hides the whole tree), and a
//   deny glob without a `/` matches a name at any depth, as in .gitignore (`.env` also denies `api/.env`). Both
//   only ever deny more; read and write globs keep plain picomatch semantics (`*.md` is the root only).
// - Any segment named `.git` is never writable (nested repositories too); any segment named `.airlock` is never
//   readable or writable (a nested workspace keeps its policy and state private as well).
// - Names Windows would silently rewrite are refused on every platform, so one policy means the same everywhere:
//   trailing dots and spaces, `:` (drive letters, NTFS streams such as `x.pem::$DATA`), device names (`nul.txt`),
//   8.3 short names (`GIT~1`).
// - A symlink on the path must resolve inside the workspace; both the logical and the resolved path must pass the
//   rules. A link that points at nothing or loops is refused rather than guessed at.
// - Writes to a file with more than one hard link are refused: the other name may be outside the workspace.
// - FIFOs, sockets and devices are refused: reading a FIFO would hang the call.
// The check is a snapshot of the disk: whoever finally writes should check again right before the write.
import * as fs from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { GuardConfigError } from './guardConfigError';

export type PathAccess = 'read' | 'write';

export type PathDenialReason =
  | 'not-a-string'
  | 'empty'
  | 'too-long'
  | 'nul-byte'
  | 'invalid-unicode'
  | 'control-char'
  | 'invisible-char'
  | 'confusable'
  | 'home'
  | 'absolute'
  | 'backslash'
  | 'invalid-char'
  | 'dot-dot'
  | 'trailing-dot-space'
  | 'reserved-name'
  | 'short-name'
  | 'airlock'
  | 'git-write'
  | 'denied'
  | 'not-readable'
  | 'not-writable'
  | 'symlink-escape'
  | 'symlink-loop'
  | 'symlink-dangling'
  | 'hard-link'
  | 'special-file'
  | 'unresolvable';

export interface PathDenial {
  readonly ok: false;
  readonly reason: PathDenialReason;
  readonly message: string;
}

export type NormalizedPath = { readonly ok: true; readonly relPath: string } | PathDenial;

export type PathCheck =
  | {
      readonly ok: true;
      /** The normalised path the agent named: NFC, `/`-separated, no `.`/empty segments; '' for the root. */
      readonly relPath: string;
      /** Where it really is: symlinks resolved, inside the workspace. Use this for the I/O. */
      readonly absPath: string;
      /** absPath relative to the workspace root, `/`-separated ('' for the root); equals relPath unless a symlink is involved. */
      readonly resolvedRelPath: string;
    }
  | PathDenial;

export interface PathScopeOptions {
  readonly workspace: string;
  readonly read: readonly string[];
  readonly write: readonly string[];
  readonly deny: readonly string[];
}

export const MAX_PATH_CHARS = 4096;
const MAX_SEGMENT_BYTES = 255;

// Characters that look like `.`, `/`, `\` or `:` in a file name (Unicode confusables.txt and the usual suspects of
// path-traversal write-ups). Refused anywhere: they have no business in a path an agent sends.
const CONFUSABLE = new RegExp(
  '[' +
    '\u2024\u2025\uFF0E\uFE52\u3002\uFF61\uA4F8\uA60E\u0701\u0702\u2E2E' + // dots (one/two dot leader, fullwidth, small, ideographic…)
    '\u2215\u2044\uFF0F\u29F8\u2571\u27CB\u1735\u2F03\u3033\u31D3\uFE64' + // slashes (division, fraction, fullwidth, big solidus…)
    '\uFF3C\u2216\u29F5\u29F9\uFE68\u2572\u27CD' + // backslashes
    '\uFF1A\uA789\u2236\u02D0\uFE13\uFE55\u0589\u05C3\u16EC\u1363' + // colons
    ']',
);
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Format characters (bidi overrides and isolates, zero-width joiners, BOM, tag characters, soft hyphen…) plus
// line/paragraph separators and blank fillers: they make a name display as something it is not, and macOS HFS+
// ignores some of them when comparing names.
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u2800]/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const DEVICE_NAME = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]|conin\$|conout\$)\s*(\..*)?$/i;
const SHORT_NAME = /~[0-9]/;

const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'gu');

/** Agent text in a message: quoted, escaped and cut short, so it cannot forge log lines or flood them. */
function show(raw: string): string {
  const cut = raw.length > 120 ? `${raw.slice(0, 120)}…` : raw;
  return JSON.stringify(cut).replace(INVISIBLE_ALL, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

function deny(reason: PathDenialReason, message: string): PathDenial {
  return { ok: false, reason, message };
}

/** Case- and normalisation-insensitive key, used for deny globs and special folder names. */
export function foldPath(s: string): string {
  return s.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/**
 * The agent's path as text: refused, or normalised to NFC `a/b/c`. Pure and total: any input gets a result.
 * Normalising an accepted relPath again gives the same relPath.
 */
export function normalizeAgentPath(raw: unknown, options: { allowRoot?: boolean } = {}): NormalizedPath {
  if (typeof raw !== 'string') return deny('not-a-string', `A path must be a string, not ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}.`);
  // Only a refusal needs the path shown; building it for every call costs more than the checks.
  const shown = () => show(raw);
  if (raw.length > MAX_PATH_CHARS) return deny('too-long', `Refused a path of ${raw.length} characters: the limit is ${MAX_PATH_CHARS}.`);
  if (raw.includes('\0')) return deny('nul-byte', `Refused ${shown()}: a path may not contain a NUL byte.`);
  if (LONE_SURROGATE.test(raw)) return deny('invalid-unicode', `Refused ${shown()}: the path is not well-formed Unicode.`);
  if (CONTROL.test(raw)) return deny('control-char', `Refused ${shown()}: a path may not contain control characters.`);
  if (INVISIBLE.test(raw)) return deny('invisible-char', `Refused ${shown()}: a path may not contain invisible or text-direction characters.`);
  const text = raw.normalize('NFC');
  if (CONFUSABLE.test(text)) return deny('confusable', `Refused ${shown()}: it contains a character that looks like ".", "/", "\\" or ":"; use the ASCII one.`);
  if (/^[/\\]/.test(text) || /^[A-Za-z]:/.test(text)) return deny('absolute', `Refused ${shown()}: absolute paths are not allowed; use a path relative to the workspace root.`);
  if (text.includes('\\')) return deny('backslash', `Refused ${shown()}: use "/" as the separator, not "\\".`);
  if (text.includes(':')) return deny('invalid-char', `Refused ${shown()}: ":" is not allowed in paths (drive letters and NTFS streams).`);

  const segments: string[] = [];
  for (const segment of text.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return deny('dot-dot', `Refused ${shown()}: ".." is not allowed in paths; name the file relative to the workspace root.`);
    if (/[.\s]$/u.test(segment)) return deny('trailing-dot-space', `Refused ${shown()}: a name may not end with a dot or a space (Windows would silently drop it).`);
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) return deny('too-long', `Refused ${shown()}: a single name may be at most ${MAX_SEGMENT_BYTES} bytes.`);
    if (DEVICE_NAME.test(segment)) return deny('reserved-name', `Refused ${shown()}: "${segment}" is a reserved device name on Windows.`);
    if (SHORT_NAME.test(segment)) return deny('short-name', `Refused ${shown()}: names with "~" followed by a digit can alias other files on Windows (8.3 short names).`);
    segments.push(segment);
  }
  // Checked on the first kept segment, so "./~" is refused like "~" (and normalising stays idempotent).
  if (segments[0]?.startsWith('~')) return deny('home', `Refused ${shown()}: "~" is not expanded; paths are relative to the workspace root.`);
  if (segments.length === 0 && !options.allowRoot) return deny('empty', raw === '' ? 'Refused an empty path.' : `Refused ${shown()}: it names the workspace root, not a file.`);
  return { ok: true, relPath: segments.join('/') };
}

type Matcher = (p: string) => boolean;

interface DenyGlob {
  readonly source: string;
  readonly match: Matcher;
}

interface ReadGlob {
  readonly match: Matcher;
  readonly literal: boolean;
  /** Static leading directories (picomatch.scan base), '' when the glob starts with a wildcard. */
  readonly base: string;
  /** The rest after base. */
  readonly rest: string;
}

export class PathScope {
  /** The workspace root with symlinks resolved. */
  readonly workspaceRoot: string;
  /** workspaceRoot ending with a separator: what every real path inside it starts with. */
  private readonly rootPrefix: string;
  private readonly readGlobs: ReadGlob[];
  private readonly writeGlobs: Matcher[];
  private readonly denyGlobs: DenyGlob[];

  constructor(options: PathScopeOptions) {
    try {
      this.workspaceRoot = fs.realpathSync.native(path.resolve(options.workspace));
      if (!fs.statSync(this.workspaceRoot).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new GuardConfigError('workspace-unavailable', `The workspace ${JSON.stringify(options.workspace)} is not a readable directory.`, { cause: err });
    }
    this.rootPrefix = this.workspaceRoot.endsWith(path.sep) ? this.workspaceRoot : this.workspaceRoot + path.sep;
    this.readGlobs = options.read.map((g) => {
      const glob = normalizeGlob(g, 'read');
      const scan = picomatch.scan(glob);
      return { match: compile(glob, 'read'), literal: !scan.isGlob, base: scan.base, rest: scan.glob };
    });
    this.writeGlobs = options.write.map((g) => compile(normalizeGlob(g, 'write'), 'write'));
    this.denyGlobs = options.deny.map((g) => ({ source: g, match: compile(foldPath(normalizeGlob(g, 'deny')), 'deny', true) }));
  }

  check(rawPath: unknown, access: PathAccess): PathCheck {
    const n = normalizeAgentPath(rawPath);
    if (!n.ok) return n;
    const logical = this.rules(n.relPath, access, 'file');
    if (logical) return logical;
    return this.resolve(n.relPath, access, 'file');
  }

  checkDir(rawPath: unknown): PathCheck {
    const n = normalizeAgentPath(rawPath, { allowRoot: true });
    if (!n.ok) return n;
    const logical = this.rules(n.relPath, 'read', 'dir');
    if (logical) return logical;
    return this.resolve(n.relPath, 'read', 'dir');
  }

  /**
   * Whether a name found while listing or searching may be shown to the agent. Names only, no disk access: a
   * walker must not follow symlinks, and must still call check() before it reads a file's content.
   */
  isVisible(relPath: string, kind: 'file' | 'dir' = 'file'): boolean {
    const n = normalizeAgentPath(relPath, { allowRoot: kind === 'dir' });
    return n.ok && this.rules(n.relPath, 'read', kind) === undefined;
  }

  /** The policy rules on one normalised path; undefined when it passes. */
  private rules(rel: string, access: PathAccess, kind: 'file' | 'dir', via?: string): PathDenial | undefined {
    const where = () => (via === undefined ? show(rel) : `${show(via)} (a symlink to ${show(rel)})`);
    const folded = rel === '' ? [] : foldPath(rel).split('/');
    if (folded.includes('.airlock')) return deny('airlock', `Refused ${where()}: .airlock holds the policy and the audit state; agents can never read or write it.`);
    if (access === 'write' && folded.includes('.git')) return deny('git-write', `Refused ${where()}: nothing inside a .git folder is ever writable.`);
    for (let i = 1; i <= folded.length; i++) {
      const prefix = folded.slice(0, i).join('/');
      const hit = this.denyGlobs.find((d) => d.match(prefix));
      if (hit) return deny('denied', `Refused ${where()}: it matches scope.deny ${JSON.stringify(hit.source)}.`);
    }
    if (rel === '') return undefined; // the root itself (checkDir only)
    if (access === 'write') {
      return this.writeGlobs.some((m) => m(rel)) ? undefined : deny('not-writable', `Refused ${where()}: it is not in the agent's write scope (scope.write).`);
    }
    const readable = this.readGlobs.some((g) => g.match(rel)) || (kind === 'dir' && this.readGlobs.some((g) => couldContain(g, rel)));
    return readable ? undefined : deny('not-readable', `Refused ${where()}: it is not in the agent's read scope (scope.read).`);
  }

  /** Resolve symlinks from the deepest part of the path that exists, and run the rules on the result too. */
  private resolve(rel: string, access: PathAccess, kind: 'file' | 'dir'): PathCheck {
    const shown = () => show(rel);
    const segments = rel === '' ? [] : rel.split('/');
    let existing = segments.length;
    let real: string | undefined;
    // The usual case, a path that exists: one realpath says where it leads. Otherwise find the deepest part that
    // exists (lstat, so a dangling or looping symlink is told apart from a missing file) and resolve that.
    try {
      real = fs.realpathSync.native(path.join(this.workspaceRoot, rel));
    } catch {
      real = undefined;
    }
    if (real === undefined) {
      for (; existing >= 0; existing--) {
        try {
          fs.lstatSync(path.join(this.workspaceRoot, ...segments.slice(0, existing)));
          break;
        } catch (err) {
          const code = errCode(err);
          if (code === 'ENOENT' || code === 'ENOTDIR') continue;
          return this.fsDenial(code, shown());
        }
      }
      if (existing < 0) return deny('unresolvable', `Refused ${shown()}: the workspace folder is no longer there.`);
      try {
        real = fs.realpathSync.native(path.join(this.workspaceRoot, ...segments.slice(0, existing)));
      } catch (err) {
        const code = errCode(err);
        if (code === 'ENOENT') return deny('symlink-dangling', `Refused ${shown()}: a symlink on the path points to something that does not exist.`);
        return this.fsDenial(code, shown());
      }
    }
    const inside = real === this.workspaceRoot ? '' : real.startsWith(this.rootPrefix) ? real.slice(this.rootPrefix.length) : path.relative(this.workspaceRoot, real);
    if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
      return deny('symlink-escape', `Refused ${shown()}: a symlink on the path leads outside the workspace.`);
    }
    const rest = segments.slice(existing);
    const resolvedSegments = [...(inside === '' ? [] : inside.split(path.sep)), ...rest];
    const resolvedRelPath = resolvedSegments.join('/').normalize('NFC');
    if (resolvedRelPath !== rel) {
      const again = this.rules(resolvedRelPath, access, kind, rel);
      if (again) return again;
    }
    const absPath = rest.length ? path.join(real, ...rest) : real;
    if (rest.length === 0) {
      try {
        const st = fs.statSync(real);
        if (!st.isFile() && !st.isDirectory()) return deny('special-file', `Refused ${shown()}: it is not a regular file or folder (a pipe, socket or device).`);
        if (access === 'write' && st.isFile() && st.nlink > 1) return deny('hard-link', `Refused ${shown()}: the file has other hard links, which may be outside the workspace.`);
      } catch (err) {
        return this.fsDenial(errCode(err), shown());
      }
    }
    return { ok: true, relPath: rel, absPath, resolvedRelPath };
  }

  private fsDenial(code: string | undefined, shown: string): PathDenial {
    if (code === 'ELOOP') return deny('symlink-loop', `Refused ${shown}: symlinks on the path form a loop.`);
    if (code === 'ENAMETOOLONG') return deny('too-long', `Refused ${shown}: the path is too long for the file system.`);
    return deny('unresolvable', `Refused ${shown}: the path could not be resolved (${code ?? 'unknown error'}).`);
  }
}

/** Whether a directory could hold something a read glob matches (so listing it is useful and reveals little). */
function couldContain(g: ReadGlob, dir: string): boolean {
  if (g.literal) return g.base.startsWith(`${dir}/`);
  if (g.base === dir || g.base.startsWith(`${dir}/`)) return true;
  if (g.base !== '' && !dir.startsWith(`${g.base}/`)) return false;
  // Below the base: `**` can reach any depth; braces may hide a `/`, so they get the benefit of the doubt.
  if (g.rest.includes('**') || g.rest.includes('{')) return true;
  const below = (g.base === '' ? dir : dir.slice(g.base.length + 1)).split('/');
  const parts = g.rest.split('/');
  if (below.length >= parts.length) return false;
  return below.every((segment, i) => picomatch(parts[i]!, { dot: true, windows: false })(segment));
}

function normalizeGlob(glob: string, list: 'read' | 'write' | 'deny'): string {
  let g = typeof glob === 'string' ? glob.normalize('NFC') : '';
  while (g.startsWith('./')) g = g.slice(2);
  if (g === '' || g.startsWith('/') || /^[A-Za-z]:/.test(g) || g.split('/').includes('..')) {
    throw new GuardConfigError('invalid-glob', `Invalid scope.${list} glob ${JSON.stringify(glob)}: globs are relative to the workspace root, without "..".`);
  }
  return g;
}

function compile(glob: string, list: 'read' | 'write' | 'deny', anyDepth = false): Matcher {
  try {
    // Not picomatch's `basename` option: it also changes how globs with a `/` match.
    return picomatch(anyDepth && !glob.includes('/') ? `**/${glob}` : glob, { dot: true, windows: false });
  } catch (err) {
    throw new GuardConfigError('invalid-glob', `Invalid scope.${list} glob ${JSON.stringify(glob)}.`, { cause: err });
  }
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
