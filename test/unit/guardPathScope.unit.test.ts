// Path scope: a hostile-path corpus against a real temporary workspace (with real symlinks and hard links),
// the read/write/deny globs, directory listing, and property tests of the normaliser.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { GuardConfigError } from '../../src/core/guard/guardConfigError';
import type { PathAccess, PathDenialReason } from '../../src/core/guard/pathScope';
import { normalizeAgentPath, PathScope } from '../../src/core/guard/pathScope';

/**
 * tmp/outside/{secret.txt, hard.txt}
 * tmp/ws/  src/a.ts  src/link-out -> ../../outside  src/to-docs -> ../docs  src/private/key.txt
 *          docs/readme.md  docs-link -> docs  file-out.txt -> ../outside/secret.txt  linkparent -> ../outside
 *          loop -> loop  loopa -> loopb -> loopa  dangling-out -> ../outside/new.txt  dangling-in -> nope/missing
 *          .git/config  sub/.git/HEAD  gitlink -> .git  .airlock/policy.json  secrets/key.pem
 *          secretlink -> secrets/key.pem  hard.txt (hard link of outside/hard.txt)  café.txt (NFC)
 *          airlink -> .airlock  pipe (a FIFO)
 */
function makeWorkspace(): { tmp: string; ws: string } {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-pathscope-')));
  const ws = path.join(tmp, 'ws');
  const out = path.join(tmp, 'outside');
  const file = (p: string, text = 'x'): void => {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  file(path.join(out, 'secret.txt'), 'TOP SECRET');
  file(path.join(out, 'hard.txt'), 'shared');
  file(path.join(ws, 'src/a.ts'));
  file(path.join(ws, 'src/private/key.txt'));
  file(path.join(ws, 'docs/readme.md'));
  file(path.join(ws, '.git/config'));
  file(path.join(ws, 'sub/.git/HEAD'));
  file(path.join(ws, '.airlock/policy.json'), '{}');
  file(path.join(ws, 'secrets/key.pem'));
  file(path.join(ws, 'caf\u00e9.txt'));
  fs.symlinkSync('../../outside', path.join(ws, 'src/link-out'), 'dir');
  fs.symlinkSync('../docs', path.join(ws, 'src/to-docs'), 'dir');
  fs.symlinkSync('docs', path.join(ws, 'docs-link'), 'dir');
  fs.symlinkSync('../outside/secret.txt', path.join(ws, 'file-out.txt'));
  fs.symlinkSync('../outside', path.join(ws, 'linkparent'), 'dir');
  fs.symlinkSync('loop', path.join(ws, 'loop'));
  fs.symlinkSync('loopb', path.join(ws, 'loopa'));
  fs.symlinkSync('loopa', path.join(ws, 'loopb'));
  fs.symlinkSync('../outside/new.txt', path.join(ws, 'dangling-out'));
  fs.symlinkSync('nope/missing', path.join(ws, 'dangling-in'));
  fs.symlinkSync('.git', path.join(ws, 'gitlink'), 'dir');
  fs.symlinkSync('secrets/key.pem', path.join(ws, 'secretlink'));
  fs.symlinkSync('.airlock', path.join(ws, 'airlink'), 'dir');
  fs.linkSync(path.join(out, 'hard.txt'), path.join(ws, 'hard.txt'));
  if (process.platform !== 'win32') execFileSync('mkfifo', [path.join(ws, 'pipe')]);
  return { tmp, ws };
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

describe('PathScope', () => {
  let tmp: string;
  let ws: string;
  let open: PathScope; // read and write everywhere the invariants allow, a few deny globs
  let narrow: PathScope; // a realistic, narrow policy

  before(() => {
    ({ tmp, ws } = makeWorkspace());
    open = new PathScope({ workspace: ws, read: ['**'], write: ['**'], deny: ['secrets/**', '**/*.PEM', '.env', 'caf\u00e9/**'] });
    narrow = new PathScope({ workspace: ws, read: ['src/**', 'docs/*.md'], write: ['src/**'], deny: ['src/private/**'] });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  type Case = [label: string, input: unknown, access: PathAccess, expected: PathDenialReason];
  const hostile: Case[] = [
    ['symlinked file pointing out of the workspace', 'file-out.txt', 'read', 'symlink-escape'],
    ['symlinked directory pointing out', 'src/link-out/secret.txt', 'read', 'symlink-escape'],
    ['new file under a symlinked parent that points out', 'linkparent/new.txt', 'write', 'symlink-escape'],
    ['new deep file under a symlinked parent', 'linkparent/a/b/c.txt', 'write', 'symlink-escape'],
    ['symlink loop', 'loop', 'read', 'symlink-loop'],
    ['path through a symlink loop', 'loop/x', 'write', 'symlink-loop'],
    ['two-link loop', 'loopa/x', 'read', 'symlink-loop'],
    ['dangling symlink whose target would be created outside', 'dangling-out', 'write', 'symlink-dangling'],
    ['dangling symlink inside', 'dangling-in', 'write', 'symlink-dangling'],
    ['a plain ..', '..', 'read', 'dot-dot'],
    ['.. out to a sibling', '../outside/secret.txt', 'read', 'dot-dot'],
    ['a/../../b', 'a/../../b', 'write', 'dot-dot'],
    ['.. that would normalise back inside', 'src/../src/a.ts', 'read', 'dot-dot'],
    ['trailing ..', 'src/..', 'read', 'dot-dot'],
    ['absolute POSIX path', '/etc/passwd', 'read', 'absolute'],
    ['absolute path to the workspace itself', '/tmp/ws/src/a.ts', 'read', 'absolute'],
    ['Windows drive path', 'C:\\Windows\\win.ini', 'read', 'absolute'],
    ['Windows drive with forward slash', 'c:/x', 'write', 'absolute'],
    ['drive-relative Windows path', 'C:x', 'write', 'absolute'],
    ['UNC path', '\\\\server\\share\\x', 'read', 'absolute'],
    ['root-relative Windows path', '\\x', 'read', 'absolute'],
    ['POSIX double-slash UNC', '//server/share', 'read', 'absolute'],
    ['backslash as separator', 'src\\a.ts', 'read', 'backslash'],
    ['backslash traversal', 'src\\..\\..\\x', 'read', 'backslash'],
    ['NUL byte', 'src/a.ts\0.png', 'read', 'nul-byte'],
    ['.git/config write', '.git/config', 'write', 'git-write'],
    ['nested repo sub/.git/HEAD write', 'sub/.git/HEAD', 'write', 'git-write'],
    ['.GIT/config (case)', '.GIT/config', 'write', 'git-write'],
    ['.Git/hooks/pre-commit (case, new file)', '.Git/hooks/pre-commit', 'write', 'git-write'],
    ['.gıt (dotless i, equal to .GIT on NTFS)', '.g\u0131t/config', 'write', 'git-write'],
    ['.git reached through a symlink', 'gitlink/config', 'write', 'git-write'],
    ['.git itself', '.git', 'write', 'git-write'],
    ['.airlock/policy.json read', '.airlock/policy.json', 'read', 'airlock'],
    ['.Airlock/state/x write', '.Airlock/state/x', 'write', 'airlock'],
    ['.AIRLOCK read', '.AIRLOCK', 'read', 'airlock'],
    ['nested sub/.airlock', 'sub/.airlock/policy.json', 'read', 'airlock'],
    ['.airlock reached through a symlink', 'airlink/policy.json', 'read', 'airlock'],
    ['.git. (Windows drops the trailing dot)', '.git./config', 'write', 'trailing-dot-space'],
    ['.git followed by a space', '.git /config', 'write', 'trailing-dot-space'],
    ['.airlock. ', '.airlock./policy.json', 'read', 'trailing-dot-space'],
    ['trailing no-break space', '.git\u00a0/config', 'write', 'trailing-dot-space'],
    ['three dots', '.../x', 'read', 'trailing-dot-space'],
    ['NTFS stream on .git', '.git::$INDEX_ALLOCATION/config', 'write', 'invalid-char'],
    ['NTFS data stream to dodge *.pem', 'secrets/key.pem::$DATA', 'read', 'invalid-char'],
    ['8.3 short name of .git', 'GIT~1/config', 'write', 'short-name'],
    ['8.3 short name of .airlock', 'AIRLOC~1/policy.json', 'read', 'short-name'],
    ['fullwidth dots', '\uff0e\uff0e/outside/secret.txt', 'read', 'confusable'],
    ['fullwidth solidus', 'src\uff0fa.ts', 'read', 'confusable'],
    ['fullwidth reverse solidus', '..\uff3cx', 'read', 'confusable'],
    ['division slash', 'a\u2215..\u2215b', 'read', 'confusable'],
    ['fraction slash', 'a\u2044b', 'write', 'confusable'],
    ['one dot leader', '\u2024\u2024/x', 'read', 'confusable'],
    ['two dot leader', '\u2025/x', 'read', 'confusable'],
    ['ideographic full stop', '\u3002git/config', 'write', 'confusable'],
    ['small full stop', '\ufe52git/config', 'write', 'confusable'],
    ['right-to-left override', 'src/\u202egnp.ts', 'write', 'invisible-char'],
    ['left-to-right isolate', 'src/\u2066a.ts', 'read', 'invisible-char'],
    ['zero-width space inside .git', '.g\u200bit/config', 'write', 'invisible-char'],
    ['zero-width joiner (ignored by HFS+)', '.gi\u200dt/config', 'write', 'invisible-char'],
    ['byte order mark', '\ufeffsrc/a.ts', 'read', 'invisible-char'],
    ['line separator', 'src/a\u2028b', 'read', 'invisible-char'],
    ['newline', 'src/a.ts\n', 'read', 'control-char'],
    ['escape sequence', 'src/\u001b[31ma.ts', 'read', 'control-char'],
    ['C1 control', 'src/\u0085a.ts', 'read', 'control-char'],
    ['lone surrogate', 'src/a\ud800.ts', 'read', 'invalid-unicode'],
    ['very long path', 'a/'.repeat(3000), 'read', 'too-long'],
    ['very long name', `${'x'.repeat(300)}.txt`, 'write', 'too-long'],
    ['empty', '', 'read', 'empty'],
    ['just a dot', '.', 'read', 'empty'],
    ['only slashes and dots', './/./', 'write', 'empty'],
    ['number', 42, 'read', 'not-a-string'],
    ['null', null, 'read', 'not-a-string'],
    ['undefined', undefined, 'read', 'not-a-string'],
    ['array', ['src/a.ts'], 'read', 'not-a-string'],
    ['object with toString', { toString: () => 'src/a.ts' }, 'read', 'not-a-string'],
    ['home directory', '~/x', 'read', 'home'],
    ['another user\'s home', '~root/.ssh/id_rsa', 'read', 'home'],
    ['home directory behind ./', './~/x', 'read', 'home'],
    ['Windows device name', 'nul.txt', 'write', 'reserved-name'],
    ['Windows console device', 'src/CON', 'read', 'reserved-name'],
    ['Windows serial port with superscript digit', 'COM\u00b9.log', 'write', 'reserved-name'],
    ['deny glob in another case (**/*.PEM vs key.pem)', 'secrets2/key.pem', 'write', 'denied'],
    ['deny glob, path in another case', 'SECRETS/key.pem', 'read', 'denied'],
    ['deny glob, mixed case file', 'src/Secret.Pem', 'read', 'denied'],
    ['deny of a file named in another case', '.ENV', 'read', 'denied'],
    ['deny reached through a symlink', 'secretlink', 'read', 'denied'],
    ['deny on NFC glob, NFD path', 'cafe\u0301/x', 'write', 'denied'],
    ['nested .env (a deny glob without "/" matches at any depth)', 'api/config/.env', 'write', 'denied'],
    ['write to a file hard-linked from outside', 'hard.txt', 'write', 'hard-link'],
    ...(process.platform === 'win32' ? [] : ([['a FIFO, whose read would hang', 'pipe', 'read', 'special-file']] as Case[])),
  ];

  describe('hostile-path corpus', () => {
    it(`has at least 25 cases (${hostile.length})`, () => assert.ok(hostile.length >= 25));
    for (const [label, input, access, expected] of hostile) {
      it(`${access} ${label} → ${expected}`, () => {
        const r = open.check(input, access);
        assert.equal(r.ok, false, `expected a denial, got ${JSON.stringify(r)}`);
        if (r.ok) return;
        assert.equal(r.reason, expected, r.message);
        assert.ok(r.message.length > 0 && r.message.length < 400, r.message);
        assert.ok(!/[\u0000-\u001f\u202e]/.test(r.message), 'agent text in a message is escaped');
      });
    }
  });

  describe('accepted paths', () => {
    const fine: Array<[input: string, access: PathAccess, relPath: string, resolvedRelPath?: string]> = [
      ['src/a.ts', 'read', 'src/a.ts'],
      ['./src/a.ts', 'write', 'src/a.ts'],
      ['src//a.ts', 'read', 'src/a.ts'],
      ['src/./a.ts/', 'read', 'src/a.ts'],
      ['new/deep/file.txt', 'write', 'new/deep/file.txt'],
      ['.git/config', 'read', '.git/config'], // reading .git is up to the policy
      ['.gitignore', 'write', '.gitignore'],
      ['.github/workflows/ci.yml', 'write', '.github/workflows/ci.yml'],
      ['notes~', 'write', 'notes~'],
      ['naïve file (1).txt', 'write', 'na\u00efve file (1).txt'],
      ['cafe\u0301.txt', 'read', 'caf\u00e9.txt'], // NFD in, NFC out
      ['docs-link/readme.md', 'read', 'docs-link/readme.md', 'docs/readme.md'],
      ['src/to-docs/new.md', 'write', 'src/to-docs/new.md', 'docs/new.md'],
      ['hard.txt', 'read', 'hard.txt'],
      ['a.b/c', 'write', 'a.b/c'],
      ['..foo', 'write', '..foo'], // a name that starts with dots is just a name
      ['%2e%2e/x', 'write', '%2e%2e/x'], // no URL decoding: a literal folder name
    ];
    for (const [input, access, relPath, resolved] of fine) {
      it(`${access} ${JSON.stringify(input)} → ${relPath}`, () => {
        const r = open.check(input, access);
        assert.ok(r.ok, r.ok ? '' : r.message);
        assert.equal(r.relPath, relPath);
        assert.equal(r.resolvedRelPath, resolved ?? relPath);
        assert.equal(r.absPath, path.join(ws, ...(resolved ?? relPath).split('/')));
      });
    }

    it('works when the workspace is given through a symlink', () => {
      const alias = path.join(tmp, 'ws-alias');
      fs.symlinkSync(ws, alias, 'dir');
      const s = new PathScope({ workspace: alias, read: ['**'], write: [], deny: [] });
      const r = s.check('src/a.ts', 'read');
      assert.ok(r.ok && r.absPath === path.join(ws, 'src/a.ts'));
      assert.equal(s.check('file-out.txt', 'read').ok, false);
    });
  });

  describe('read, write and deny globs', () => {
    const cases: Array<[input: string, access: PathAccess, expected: PathDenialReason | 'ok']> = [
      ['src/a.ts', 'read', 'ok'],
      ['src/a.ts', 'write', 'ok'],
      ['README.md', 'read', 'not-readable'],
      ['README.md', 'write', 'not-writable'],
      ['docs/readme.md', 'read', 'ok'],
      ['docs/readme.md', 'write', 'not-writable'],
      ['docs/sub/x.md', 'read', 'not-readable'],
      ['SRC/a.ts', 'write', 'not-writable'], // allow globs are case-sensitive: refusing more, never allowing more
      ['src/private/key.txt', 'read', 'denied'],
      ['src/Private/key.txt', 'read', 'denied'],
      ['src/private', 'write', 'denied'],
      ['src/to-docs/readme.md', 'read', 'ok'], // both src/** (logical) and docs/*.md (resolved) are readable
      ['src/to-docs/readme.md', 'write', 'not-writable'], // logical path is writable, the resolved one is not
      ['docs-link/readme.md', 'read', 'not-readable'], // resolved path is fine, the logical one is not
    ];
    for (const [input, access, expected] of cases) {
      it(`${access} ${input} → ${expected}`, () => {
        const r = narrow.check(input, access);
        if (expected === 'ok') assert.ok(r.ok, r.ok ? '' : r.message);
        else assert.equal(r.ok ? 'ok' : r.reason, expected);
      });
    }

    it('names the deny glob that refused the path', () => {
      const r = narrow.check('src/private/key.txt', 'read');
      assert.ok(!r.ok && r.message.includes('"src/private/**"'));
    });

    it('empty read and write lists allow nothing', () => {
      const none = new PathScope({ workspace: ws, read: [], write: [], deny: [] });
      assert.equal(none.check('src/a.ts', 'read').ok, false);
      assert.equal(none.check('src/a.ts', 'write').ok, false);
    });

    it('rejects globs that can never match a workspace path, rather than ignoring them', () => {
      for (const bad of ['/etc/**', '../**', 'a/../b', 'C:/x', '']) {
        assert.throws(() => new PathScope({ workspace: ws, read: [], write: [], deny: [bad] }), (e: unknown) => GuardConfigError.is(e, 'invalid-glob'), bad);
      }
    });

    it('refuses a workspace that does not exist', () => {
      assert.throws(() => new PathScope({ workspace: path.join(tmp, 'missing'), read: [], write: [], deny: [] }), (e: unknown) => GuardConfigError.is(e, 'workspace-unavailable'));
    });
  });

  describe('listing', () => {
    it('the root is listable as "", "." and "./"', () => {
      for (const root of ['', '.', './']) {
        const r = narrow.checkDir(root);
        assert.ok(r.ok && r.relPath === '' && r.absPath === ws, root);
      }
    });

    const dirs: Array<[input: string, expected: PathDenialReason | 'ok']> = [
      ['src', 'ok'],
      ['docs', 'ok'], // holds docs/*.md
      ['docs/sub', 'not-readable'], // docs/*.md cannot match below it
      ['test', 'not-readable'],
      ['src/private', 'denied'],
      ['.airlock', 'airlock'],
      ['src/link-out', 'symlink-escape'],
      ['..', 'dot-dot'],
      ['/', 'absolute'],
    ];
    for (const [input, expected] of dirs) {
      it(`checkDir ${JSON.stringify(input)} → ${expected}`, () => {
        const r = narrow.checkDir(input);
        assert.equal(r.ok ? 'ok' : r.reason, expected);
      });
    }

    it('isVisible filters names the agent may see', () => {
      assert.equal(narrow.isVisible('src/a.ts'), true);
      assert.equal(narrow.isVisible('README.md'), false);
      assert.equal(narrow.isVisible('docs', 'dir'), true);
      assert.equal(narrow.isVisible('docs/readme.md'), true);
      assert.equal(narrow.isVisible('src/private', 'dir'), false);
      assert.equal(narrow.isVisible('src/private/key.txt'), false);
      assert.equal(open.isVisible('.airlock', 'dir'), false);
      assert.equal(open.isVisible('.airlock/policy.json'), false);
      assert.equal(open.isVisible('.git', 'dir'), true);
      assert.equal(open.isVisible('secrets', 'dir'), false);
      assert.equal(open.isVisible('src/\u202egnp.ts'), false);
    });
  });

  describe('properties', () => {
    const hostileSegment = fc.constantFrom(
      '..', '.', '', 'src', 'a.ts', 'link-out', 'linkparent', 'file-out.txt', 'docs-link', 'gitlink', 'loop', 'dangling-out',
      '.git', '.GIT', '.airlock', 'secrets', 'x', '~', 'C:', '\\', '..\\..', '\uff0e\uff0e', '\u2215', '%2e%2e', ' ', '.. ', 'a\u0000b', 'caf\u0065\u0301',
    );
    const hostilePath = fc.tuple(fc.array(hostileSegment, { maxLength: 8 }), fc.constantFrom('/', '//', '\\', '/./')).map(([segs, sep]) => segs.join(sep));
    // Names that exist in the fixture (symlinks in and out, loops, special folders), joined the normal way, so that
    // many generated paths are accepted or get as far as symlink resolution.
    const fixtureName = fc.constantFrom('src', 'a.ts', 'link-out', 'to-docs', 'linkparent', 'file-out.txt', 'docs', 'docs-link', 'readme.md', 'gitlink', 'config', 'loop', 'loopa', 'dangling-out', 'dangling-in', '.git', 'sub', 'secretlink', 'hard.txt', 'new', '.', '');
    const fixturePath = fc.array(fixtureName, { minLength: 1, maxLength: 5 }).map((segs) => segs.join('/'));
    const anyText = fc.oneof(
      fixturePath,
      fixturePath,
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ unit: 'grapheme', maxLength: 60 }),
      fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('utf8')),
      hostilePath,
    );

    it('never throws, on any value at all', () => {
      fc.assert(
        fc.property(fc.oneof(fc.anything(), anyText), fc.constantFrom<PathAccess>('read', 'write'), (v, access) => {
          const n = normalizeAgentPath(v);
          const r = open.check(v, access);
          const d = open.checkDir(v);
          return typeof n.ok === 'boolean' && typeof r.ok === 'boolean' && typeof d.ok === 'boolean' && (typeof v !== 'string' || typeof open.isVisible(v) === 'boolean');
        }),
        { numRuns: 3000 },
      );
    });

    it('normalisation is idempotent', () => {
      fc.assert(
        fc.property(anyText, (s) => {
          const once = normalizeAgentPath(s, { allowRoot: true });
          if (!once.ok) return true;
          const twice = normalizeAgentPath(once.relPath, { allowRoot: true });
          return twice.ok && twice.relPath === once.relPath && once.relPath === once.relPath.normalize('NFC');
        }),
        { numRuns: 3000 },
      );
    });

    it('any path with a ".." segment is refused', () => {
      const seg = fc.oneof(fc.string({ maxLength: 8 }).filter((s) => !s.includes('/')), hostileSegment);
      fc.assert(
        fc.property(fc.array(seg, { maxLength: 5 }), fc.array(seg, { maxLength: 5 }), fc.boolean(), (before, after, dotSlash) => {
          const p = (dotSlash ? './' : '') + [...before, '..', ...after].join('/');
          return !normalizeAgentPath(p, { allowRoot: true }).ok && !open.check(p, 'read').ok && !open.checkDir(p).ok;
        }),
        { numRuns: 2000 },
      );
    });

    it('any accepted path resolves inside the workspace (symlinks included) and names no special folder', () => {
      fc.assert(
        fc.property(anyText, fc.constantFrom<PathAccess>('read', 'write'), (p, access) => {
          const r = open.check(p, access);
          if (!r.ok) return true;
          if (!isInside(ws, r.absPath) || !isInside(ws, path.resolve(ws, r.relPath))) return false;
          // The deepest existing ancestor of what we would touch really is inside.
          let probe = r.absPath;
          while (!fs.existsSync(probe)) probe = path.dirname(probe);
          if (!isInside(ws, fs.realpathSync.native(probe))) return false;
          const segs = [...r.relPath.split('/'), ...r.resolvedRelPath.split('/')].map((s) => s.toLowerCase());
          return !segs.includes('..') && !segs.includes('.airlock') && (access === 'read' || !segs.includes('.git')) && !r.relPath.includes('\\');
        }),
        { numRuns: 3000 },
      );
    });
  });
});
