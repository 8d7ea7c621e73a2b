// `npm run test:unit:unprivileged` and `npm run test:integration:unprivileged`: when the tests run as root (as CI
// does), the unit layer and the integration layer (in a real VS Code) run a second time as an ordinary user
// (uid/gid 65534, "nobody"). Editors and `npx airlock` run as ordinary users, and root ignores file permissions:
// a store that reopens its own read-only files for writing, say, works for root and fails for everyone else.
// Tests that need root (a tmpfs for a full disk, an immutable folder) skip themselves here; the root run above
// has them. The integration layer runs here from the development folder only (the root run also covers the
// installed .vsix). Not root (or not Linux): the layers already ran unprivileged, nothing to add.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UID = 65534;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const layers = {
  unit: { needs: join(root, 'out', 'test', 'unit'), args: [join(root, 'node_modules', 'mocha', 'bin', 'mocha.js')] },
  integration: { needs: join(root, 'out', 'test', 'integration'), args: [join(root, 'scripts', 'testIntegration.mjs'), '--no-vsix'] },
};
const name = process.argv[2];
const layer = layers[name];
if (!layer) {
  process.stderr.write(`Usage: node scripts/testUnprivileged.mjs ${Object.keys(layers).join('|')}\n`);
  process.exit(2);
}

if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  process.stdout.write(`Not running as root: the ${name} layer above already ran as an ordinary user.\n`);
  process.exit(0);
}

const as = ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--'];
const readable = spawnSync(as[0], [...as.slice(1), 'test', '-r', layer.needs], { stdio: 'ignore' });
if (readable.error || readable.status !== 0) {
  process.stdout.write(`Skipped: uid ${UID} cannot read ${root} (${readable.error ? readable.error.message : 'permission denied'}); clone it somewhere world-readable to run this layer.\n`);
  process.exit(0);
}

const home = mkdtempSync(join(tmpdir(), 'airlock-unprivileged-home-'));
chownSync(home, UID, UID);
process.stdout.write(`Running the ${name} layer again as uid ${UID} (an ordinary user) …\n`);
const child = spawn(as[0], [...as.slice(1), process.execPath, ...layer.args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, HOME: home, USER: 'nobody', LOGNAME: 'nobody' },
});
child.on('close', (code, signal) => {
  rmSync(home, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
