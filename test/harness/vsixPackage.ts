// Packages the extension the way `npm run package` does, for the tests that install it as a user would.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './harnessError';
import { cacheDir, harnessLog, repoRoot } from './harnessPaths';

const vsixUnderTest = join(cacheDir, 'vsix', 'agent-airlock-under-test.vsix');

/** Builds the .vsix (production bundles) into the harness cache and returns its path. */
export function packageVsix(): string {
  const out = vsixUnderTest;
  const started = Date.now();
  harnessLog('packaging the extension (npm run package) ...');
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'packageVsix.mjs'), '--out', out], { cwd: repoRoot, encoding: 'utf8' });
  // The production build replaced the development bundles (with source maps) the other layers run against.
  const rebuild = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new HarnessError('packaging-failed', `Packaging the extension failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  if (rebuild.status !== 0) throw new HarnessError('packaging-failed', `Rebuilding the development bundles failed:\n${rebuild.stdout}${rebuild.stderr}`);
  const summary = /DONE\s+Packaged:.*$/m.exec(r.stdout)?.[0] ?? out;
  harnessLog(`${summary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return out;
}

/** The .vsix under test, packaged again only when a source is newer than it (an earlier layer may have just built it). */
export function packagedVsix(): string {
  if (existsSync(vsixUnderTest) && statSync(vsixUnderTest).mtimeMs > newestSource()) return vsixUnderTest;
  return packageVsix();
}

function newestSource(): number {
  const files = ['package.json', '.vscodeignore'].map((f) => join(repoRoot, f));
  for (const dir of ['src', 'sandbox', 'media']) {
    const abs = join(repoRoot, dir);
    if (!existsSync(abs)) continue;
    for (const rel of readdirSync(abs, { recursive: true, encoding: 'utf8' })) {
      if (!/(^|\/)(node_modules|\.node|dist)(\/|$)/.test(rel)) files.push(join(abs, rel));
    }
  }
  return Math.max(...files.filter((f) => existsSync(f)).map((f) => statSync(f).mtimeMs));
}
