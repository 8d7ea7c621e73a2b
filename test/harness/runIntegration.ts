// `npm run test:integration`: runs the mocha suite in test/integration inside a real VS Code.
//   Runner A (@vscode/test-electron): desktop VS Code, when one is given (VSCODE_EXECUTABLE) or cached in .vscode-test/.
//   Runner B (code-server): the same suite in code-server's real extension host, loaded through the workbench URL
//   and driven by a headless Chromium page that stays open for the run. This is what runs on machines that cannot
//   download VS Code.
// Then the packaged .vsix is installed into code-server and the smoke spec runs against the installed copy.
//
// Options: --runner auto|code-server|electron (or AIRLOCK_TEST_RUNNER), --no-vsix, --grep REGEXP.
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium, newWorkbenchPage } from './chromium';
import { CodeServer } from './codeServer';
import { codeServerVersion } from './codeServerInstall';
import { HarnessError } from './harnessError';
import { artifactsDir, cacheDir, harnessLog, integrationTestsModule, repoRoot } from './harnessPaths';
import { followFile, tail } from './logFiles';
import { packageVsix } from './vsixPackage';
import { provisionedSandboxNode, writeSettings } from './workbenchSettings';
import { copyWorkspace } from './workspaceCopy';

/** The spec that also runs against the installed .vsix: activation, commands, a sandboxed run. */
const smokeSpec = 'extension.integration.test.js';
/** Specs that need a workspace that is not trusted run in a window of their own, with workspace trust on. */
const untrustedSpecs = '.untrusted.integration.test.js';
const runTimeoutMs = 10 * 60_000;

type Runner = 'code-server' | 'electron';

interface SuiteRun {
  readonly label: string;
  readonly code: number;
  readonly seconds: number;
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { runner: { type: 'string' }, 'no-vsix': { type: 'boolean' }, grep: { type: 'string' } },
  });
  if (!existsSync(integrationTestsModule)) {
    throw new HarnessError('not-compiled', `${relative(repoRoot, integrationTestsModule)} is missing; run \`npm run compile\` first.`);
  }
  const runner = chooseRunner(values.runner ?? process.env.AIRLOCK_TEST_RUNNER ?? 'auto');
  const env = { ...(values.grep ? { AIRLOCK_TEST_GREP: values.grep } : {}), AIRLOCK_TEST_COLOR: process.stdout.isTTY ? '1' : '0' };
  const runs: SuiteRun[] = [];

  const trusted = { ...env, AIRLOCK_TEST_EXCLUDE: untrustedSpecs };
  const untrusted = hasSpecs(untrustedSpecs) ? { ...env, AIRLOCK_TEST_FILES: untrustedSpecs } : undefined;
  if (runner === 'electron') {
    runs.push(await timed('extension from source, desktop VS Code (@vscode/test-electron)', () => runInElectron(trusted, false)));
    if (untrusted) runs.push(await timed('extension from source, untrusted workspace, desktop VS Code', () => runInElectron(untrusted, true)));
  } else {
    runs.push(await timed(`extension from source, code-server ${codeServerVersion}`, () => runInCodeServer({ label: 'source', env: trusted })));
    if (untrusted) runs.push(await timed(`extension from source, untrusted workspace, code-server ${codeServerVersion}`, () => runInCodeServer({ label: 'untrusted', env: untrusted, workspaceTrust: true })));
  }
  if (!values['no-vsix']) {
    runs.push(
      await timed(`packaged .vsix installed into code-server ${codeServerVersion}`, async () => {
        const vsix = packageVsix();
        return runInCodeServer({ label: 'vsix', vsix, env: { ...env, AIRLOCK_TEST_FILES: smokeSpec } });
      }),
    );
  }

  process.stdout.write('\nIntegration summary\n');
  for (const r of runs) process.stdout.write(`  ${r.code === 0 ? 'passed' : 'FAILED'}  ${r.label} (${r.seconds.toFixed(1)} s)\n`);
  return runs.every((r) => r.code === 0) ? 0 : 1;
}

function chooseRunner(requested: string): Runner {
  if (requested === 'code-server' || requested === 'electron') return requested;
  if (requested !== 'auto') throw new HarnessError('not-compiled', `Unknown runner "${requested}"; use auto, code-server or electron.`);
  if (process.env.VSCODE_EXECUTABLE) return 'electron';
  return cachedDesktopVersion() ? 'electron' : 'code-server';
}

/** A desktop VS Code that @vscode/test-electron downloaded earlier (.vscode-test/vscode-<platform>-<version>). */
function cachedDesktopVersion(): string | undefined {
  if (!existsSync(cacheDir)) return undefined;
  const dirs = readdirSync(cacheDir).filter((d) => /^vscode-.*-\d+\.\d+\.\d+$/.test(d)).sort();
  return dirs.at(-1)?.split('-').at(-1);
}

function hasSpecs(ending: string): boolean {
  const dir = dirname(integrationTestsModule);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).some((f) => f.endsWith(ending));
}

async function timed(label: string, body: () => Promise<number>): Promise<SuiteRun> {
  process.stdout.write(`\n=== Integration: ${label}\n`);
  const started = Date.now();
  let code: number;
  try {
    code = await body();
  } catch (e) {
    process.stdout.write(`${HarnessError.is(e) ? e.message : (e as Error).stack}\n`);
    code = 1;
  }
  return { label, code, seconds: (Date.now() - started) / 1000 };
}

async function runInElectron(env: Record<string, string>, workspaceTrust: boolean): Promise<number> {
  const { runTests } = await import('@vscode/test-electron');
  const scratch = mkdtempSync(join(tmpdir(), 'airlock-electron-'));
  const workspace = copyWorkspace();
  try {
    const userData = join(scratch, 'user-data');
    writeSettings(userData, {});
    const version = process.env.VSCODE_EXECUTABLE ? undefined : (cachedDesktopVersion() ?? '1.100.3');
    await runTests({
      ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : { version, cachePath: cacheDir }),
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: integrationTestsModule,
      extensionTestsEnv: env,
      launchArgs: [
        workspace,
        '--user-data-dir', userData,
        '--extensions-dir', join(scratch, 'extensions'),
        '--disable-extensions',
        ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
        '--skip-welcome',
        '--skip-release-notes',
      ],
    });
    return 0;
  } catch (e) {
    // runTests rejects when the suite fails; mocha's report is already on the terminal.
    process.stdout.write(`${(e as Error).message}\n`);
    return 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(workspace, { recursive: true, force: true });
  }
}

interface CodeServerRun {
  readonly label: string;
  readonly vsix?: string;
  readonly env: Record<string, string>;
  /** Workspace trust on: the workspace copy opens untrusted (restricted mode). */
  readonly workspaceTrust?: boolean;
}

async function runInCodeServer(run: CodeServerRun): Promise<number> {
  const scratch = mkdtempSync(join(tmpdir(), `airlock-integration-${run.label}-`));
  const stateDir = join(scratch, 'code-server');
  const report = join(scratch, 'mocha-report.txt');
  const consoleLog = join(scratch, 'browser-console.log');
  const workspace = copyWorkspace({ to: join(scratch, 'workspace') });
  let code = 1;
  const server = await CodeServer.start({
    folder: workspace,
    stateDir,
    installVsix: run.vsix,
    workspaceTrust: run.workspaceTrust,
    env: {
      ...run.env,
      AIRLOCK_TEST_REPORT: report,
      // The installed extension has no Node of its own: the suite checks that it says so, then points the
      // airlock.sandbox.nodePath setting at the Node that npm install provisioned, as a user would.
      ...(run.vsix ? { AIRLOCK_TEST_EXTENSIONS_DIR: join(stateDir, 'extensions'), AIRLOCK_TEST_SANDBOX_NODE: provisionedSandboxNode() } : {}),
    },
  });
  const browser = await launchChromium();
  try {
    const { page } = await newWorkbenchPage(browser);
    page.on('console', (m) => appendFileSync(consoleLog, `[${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => appendFileSync(consoleLog, `[pageerror] ${e.message}\n`));
    // The workbench calls window.codeAutomationExit(code) when the extension-tests module settles.
    const exited = new Promise<number>((resolve) => void page.exposeFunction('codeAutomationExit', (c: number) => resolve(c)));
    // VS Code forwards the tests' exit only in an extension-development window; for the installed .vsix the
    // development path is an empty folder, so the extension under test is the installed one.
    const developmentPath = run.vsix ? join(scratch, 'no-development-extension') : repoRoot;
    mkdirSync(developmentPath, { recursive: true });
    const follower = followFile(report, (chunk) => process.stdout.write(chunk));
    await page.goto(
      server.workbenchUrl([
        ['extensionDevelopmentPath', server.remoteUri(developmentPath)],
        ['extensionTestsPath', server.remoteUri(integrationTestsModule)],
      ]),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(-1), runTimeoutMs)));
    code = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    follower.stop();
    if (code === -1) {
      mkdirSync(artifactsDir, { recursive: true });
      await page.screenshot({ path: join(artifactsDir, `integration-${run.label}-timeout.png`) }).catch(() => undefined);
      harnessLog(`the suite did not finish within ${runTimeoutMs / 60_000} min`);
      code = 1;
    }
    return code;
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
    if (code !== 0) keepLogs(run.label, scratch, consoleLog);
    rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** After a failure: the browser console, the server log and the extension host logs, kept for a person to read. */
function keepLogs(label: string, scratch: string, consoleLog: string): void {
  const dest = join(cacheDir, 'logs', `integration-${label}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dest, { recursive: true });
  for (const [from, to] of [
    [consoleLog, 'browser-console.log'],
    [join(scratch, 'code-server', 'code-server.log'), 'code-server.log'],
    [join(scratch, 'code-server', 'user-data', 'logs'), 'vscode-logs'],
  ] as const) {
    if (existsSync(from)) cpSync(from, join(dest, to), { recursive: true });
  }
  process.stdout.write(tail(consoleLog, 25));
  harnessLog(`logs kept in ${relative(repoRoot, dest)}`);
}
