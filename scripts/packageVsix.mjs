// `npm run package`: production bundles, then a .vsix with @vscode/vsce. Everything is bundled except the
// sandbox's isolated-vm (native, with prebuilds), which .vscodeignore re-includes from sandbox/node_modules.
// Usage: node scripts/packageVsix.mjs [--out FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = values.out ?? join(root, `${manifest.name}-${manifest.version}.vsix`);

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(root, 'sandbox', 'node_modules', 'isolated-vm', 'package.json'))) {
  process.stderr.write('[package] sandbox/node_modules/isolated-vm is missing; run `npm install` first (it provisions the sandbox).\n');
  process.exit(1);
}
run([join(root, 'scripts', 'build.mjs'), '--production']);
mkdirSync(dirname(out), { recursive: true });
run([
  join(root, 'node_modules', '@vscode', 'vsce', 'vsce'),
  'package',
  // Bundled: nothing from node_modules/ is needed at run time.
  '--no-dependencies',
  // The README links to files in this repository; there is no public repository URL to rewrite them against.
  '--allow-missing-repository',
  '--no-rewrite-relative-links',
  '--out',
  out,
]);
process.stdout.write(`[package] ${relative(process.cwd(), out) || out}\n`);
