// Settings for the VS Code instances the tests start: quiet (no tours, update checks or telemetry) so runs are
// repeatable and screenshots show the product, plus whatever a test asks for.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './harnessError';
import { repoRoot } from './harnessPaths';

export const quietSettings: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.openRepositoryInParentFolders': 'never',
  'diffEditor.useInlineViewWhenSpaceIsLimited': false,
  'security.workspace.trust.startupPrompt': 'never',
  // VS Code for the Web (code-server) saves a changed editor after 1 s by default; desktop VS Code does not. Tests
  // that leave an editor unsaved on purpose would otherwise race that save (and the demo behaves like desktop).
  'files.autoSave': 'off',
};

/** Writes `<userDataDir>/<scope>/settings.json` for each scope: the quiet settings with `settings` over them. */
export function writeSettings(userDataDir: string, settings: Readonly<Record<string, unknown>>, scopes: readonly string[] = ['User']): void {
  const text = JSON.stringify({ ...quietSettings, ...settings }, null, 2) + '\n';
  for (const scope of scopes) {
    mkdirSync(join(userDataDir, scope), { recursive: true });
    writeFileSync(join(userDataDir, scope, 'settings.json'), text);
  }
}

/** The Node >= 22 that `npm install` provisioned for the sandbox (recorded in sandbox/.node/runtime.json). */
export function provisionedSandboxNode(): string {
  const runtimeFile = join(repoRoot, 'sandbox', '.node', 'runtime.json');
  const node = existsSync(runtimeFile) ? (JSON.parse(readFileSync(runtimeFile, 'utf8')) as { node?: string }).node : undefined;
  if (!node) throw new HarnessError('not-provisioned', `${runtimeFile} names no Node for the sandbox; run \`npm install\` (it provisions one).`);
  return node;
}

/** That Node as the `airlock.sandbox.nodePath` setting: what a user without a new enough Node on PATH sets once. */
export function provisionedSandboxNodeSetting(): Record<string, unknown> {
  return { 'airlock.sandbox.nodePath': provisionedSandboxNode() };
}
