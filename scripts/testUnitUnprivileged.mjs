// `npm run test:unit:unprivileged`: when the tests run as root (as CI does), the unit layer runs a second time as
// an ordinary user (uid/gid 65534, "nobody"). Editors and `npx airlock` run as ordinary users, and root ignores
// file permissions: a store that reopens its own read-only files for writing, say, works for root and fails for
// everyone else. Tests that need root (a tmpfs for a full disk, an immutable folder) skip themselves here; the
// root run above has them. Not root (or not Linux): the unit layer already ran unprivileged, nothing to add.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UID = 65534;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  process.stdout.write('Not running as root: the unit layer above already ran as an ordinary user.\n');
  process.exit(0);
}

const as = ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--'];
const readable = spawnSync(as[0], [...as.slice(1), 'test', '-r', join(root, 'out', 'test', 'unit')], { stdio: 'ignore' });
if (readable.error || readable.status !== 0) {
  // A clone under a private folder (/root) cannot be read by another user: say so rather than fail on it.
  process.stdout.write(`Skipped: uid ${UID} cannot read ${root} (${readable.error ? readable.error.message : 'permission denied'}); clone it somewhere world-readable to run this layer.\n`);
  process.exit(0);
}

const home = mkdtempSync(join(tmpdir(), 'airlock-unprivileged-home-'));
chownSync(home, UID, UID);
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
process.stdout.write(`Running the unit layer again as uid ${UID} (an ordinary user) …\n`);
const child = spawn(as[0], [...as.slice(1), process.execPath, mocha], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, HOME: home, USER: 'nobody', LOGNAME: 'nobody' },
});
child.on('close', (code, signal) => {
  rmSync(home, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
