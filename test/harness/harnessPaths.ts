// Where the test harness keeps things. Compiled to out/test/harness/, so the repository is three levels up.
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..', '..');

/** Downloads and installs kept between runs (code-server, packaged .vsix), like @vscode/test-electron's cache. */
export const cacheDir = process.env.AIRLOCK_TEST_CACHE ? resolve(process.env.AIRLOCK_TEST_CACHE) : join(repoRoot, '.vscode-test');

/** Screenshots and failure logs a person can open after a run (git-ignored). */
export const artifactsDir = join(repoRoot, 'test', 'e2e', 'artifacts');

/** The compiled extension-tests module that both integration runners load. */
export const integrationTestsModule = join(repoRoot, 'out', 'test', 'integration', 'index.js');

export function harnessLog(message: string): void {
  process.stdout.write(`[harness] ${message}\n`);
}
