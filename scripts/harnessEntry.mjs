// Shared start of the test:integration, test:e2e and demo scripts: the harness is TypeScript compiled to out/,
// so recompile (and rebundle) first when a source is newer than what was built. Inside `npm test` everything was
// just compiled, so this costs one directory walk.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = dirname(dirname(fileURLToPath(import.meta.url)));

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === '.node' || entry.name === 'dist' || entry.name === 'artifacts') continue;
    const p = join(entry.parentPath ?? dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function oldestOutput(files) {
  return Math.min(...files.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
}

function run(args, what, { mustPass }) {
  process.stdout.write(`[harness] ${what}\n`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status === 0) return;
  if (mustPass) {
    process.stderr.write(`[harness] that failed (exit ${r.status}); fix the errors above.\n`);
    process.exit(r.status ?? 1);
  }
  // tsc still emits JavaScript when it reports type errors; `npm run compile` is the gate for those.
  process.stderr.write('[harness] tsc reported type errors (above); going on with what it emitted.\n');
}

/** Rebundles and recompiles when a TypeScript source is newer than `compiledFiles` (relative to out/) or the bundle. */
export function ensureFresh(compiledFiles) {
  const sources = Math.max(...['src', 'test', 'sandbox'].map((d) => newestMtime(join(root, d))));
  if (oldestOutput([...compiledFiles.map((f) => join(root, 'out', f)), join(root, 'dist', 'extension.js')]) < sources) {
    run([join(root, 'scripts', 'build.mjs')], 'sources changed since the last build; bundling (node scripts/build.mjs) ...', { mustPass: true });
    run([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], 'compiling (tsc -p .) ...', { mustPass: false });
  }
}

/** Imports a compiled harness module (path relative to out/), compiling first when the build is stale. */
export async function loadHarness(compiledModule) {
  ensureFresh([compiledModule]);
  return import(pathToFileURL(join(root, 'out', compiledModule)).href);
}

/** Runs an async main(argv) that resolves to an exit code; prints harness errors without a stack. */
export async function runMain(compiledModule) {
  try {
    const harness = await loadHarness(compiledModule);
    // Exit explicitly: a browser or server handle left by a failed step must not keep the process alive.
    process.exit(await harness.main(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`[harness] ${e?.name === 'HarnessError' ? e.message : (e?.stack ?? e)}\n`);
    process.exit(1);
  }
}
