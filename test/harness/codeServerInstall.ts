// Installs code-server (a real VS Code: server + web workbench) from the npm registry into the harness cache,
// once, outside the project's dependencies, the way @vscode/test-electron caches a VS Code download.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { lock } from 'proper-lockfile';
import { ensureDebianPackages } from './debianPackages';
import { HarnessError } from './harnessError';
import { cacheDir, harnessLog, repoRoot } from './harnessPaths';
import { tail } from './logFiles';

/**
 * 4.100.3 is VS Code 1.100.3 (what @types/vscode 1.100 and engines.vscode describe) and the last code-server
 * that runs on Node 20, the Node these machines have; later releases need Node 22 or 24.
 */
export const codeServerVersion = process.env.AIRLOCK_CODE_SERVER_VERSION ?? '4.100.3';

/**
 * code-server 4.100.3 pulls @vscode/ripgrep 1.15.11, whose postinstall downloads ripgrep v13.0.0-10 from GitHub.
 * GitHub may be unreachable, so its download cache is pre-filled with the system's own `rg`.
 */
const ripgrepPackageVersion = '1.15.11';
const ripgrepRelease = 'v13.0.0-10';

export const codeServerDir = join(cacheDir, `code-server-${codeServerVersion}`);
const entryPoint = join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const marker = join(codeServerDir, '.airlock-installed.json');

/** Returns the path of code-server's entry script (run it with this Node), installing code-server first if needed. */
export async function ensureCodeServer(): Promise<string> {
  if (existsSync(marker) && existsSync(entryPoint)) return entryPoint;
  mkdirSync(cacheDir, { recursive: true });
  // Another test run on this machine may be installing into the same cache: wait for it instead of racing it.
  const release = await lock(cacheDir, {
    lockfilePath: join(cacheDir, `code-server-${codeServerVersion}.lock`),
    retries: { retries: 900, minTimeout: 1000, maxTimeout: 1000 },
    stale: 30_000,
  });
  try {
    if (existsSync(marker) && existsSync(entryPoint)) return entryPoint;
    await install();
    return entryPoint;
  } finally {
    await release();
  }
}

async function install(): Promise<void> {
  const started = Date.now();
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Its postinstall refuses to run as root without this, and node-pty's postinstall calls npx, which must not prompt.
    npm_config_unsafe_perm: 'true',
    npm_config_yes: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  if (nodeMajor !== 20 && !process.env.AIRLOCK_CODE_SERVER_VERSION) {
    // Native modules are built for the Node that installs them, which is also the Node that will run the server.
    harnessLog(`code-server ${codeServerVersion} is made for Node 20; this is Node ${process.versions.node}. Trying anyway (set AIRLOCK_CODE_SERVER_VERSION to pick another release).`);
    env.FORCE_NODE_VERSION = String(nodeMajor);
  }
  if (process.platform === 'linux') ensureDebianPackages(['ripgrep', 'libkrb5-dev', 'pkg-config'], 'Installing code-server');

  rmSync(codeServerDir, { recursive: true, force: true });
  mkdirSync(codeServerDir, { recursive: true });
  // Its own package.json, so npm never walks up into the project's.
  writeFileSync(join(codeServerDir, 'package.json'), JSON.stringify({ name: 'airlock-test-code-server', private: true }, null, 2));
  const tmp = join(codeServerDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  env.TMPDIR = tmp;
  prefillRipgrepCache(tmp);

  const logFile = join(cacheDir, `code-server-${codeServerVersion}-install.log`);
  harnessLog(`installing code-server ${codeServerVersion} into ${relative(repoRoot, codeServerDir) || codeServerDir} (one time, about a minute; log: ${relative(repoRoot, logFile)}) ...`);
  const code = await runLogged('npm', ['install', '--no-package-lock', '--prefix', codeServerDir, `code-server@${codeServerVersion}`], env, logFile);
  if (code !== 0 || !existsSync(entryPoint)) {
    process.stdout.write(tail(logFile, 60));
    throw new HarnessError('install-failed', `Installing code-server ${codeServerVersion} failed (exit ${code}); the end of ${logFile} is above.`);
  }
  // XDG folders pointed at tmp: code-server writes a default config file into the home folder otherwise.
  const version = spawnSync(process.execPath, [entryPoint, '--version'], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp, XDG_CONFIG_HOME: tmp, XDG_DATA_HOME: tmp } });
  if (version.status !== 0) {
    throw new HarnessError('install-failed', `code-server was installed but does not start: ${version.stderr || version.stdout}`);
  }
  rmSync(tmp, { recursive: true, force: true });
  const seconds = (Date.now() - started) / 1000;
  writeFileSync(marker, JSON.stringify({ version: codeServerVersion, node: process.versions.node, installedIn: seconds }, null, 2) + '\n');
  const versionLine = version.stdout.split('\n').find((l) => /^\d+\.\d+/.test(l)) ?? codeServerVersion;
  harnessLog(`code-server ${versionLine} installed in ${seconds.toFixed(1)} s`);
}

function prefillRipgrepCache(tmp: string): void {
  const target = { x64: 'x86_64-unknown-linux-musl', arm64: 'aarch64-unknown-linux-musl' }[process.arch as 'x64' | 'arm64'];
  const rg = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
  if (process.platform !== 'linux' || !target || !rg) return;
  const cache = join(tmp, `vscode-ripgrep-cache-${ripgrepPackageVersion}`);
  mkdirSync(cache, { recursive: true });
  // The archive must hold a single `rg` at its root, as the GitHub release does.
  const r = spawnSync('tar', ['czf', join(cache, `ripgrep-${ripgrepRelease}-${target}.tar.gz`), '-C', dirname(rg), basename(rg)]);
  if (r.status !== 0) harnessLog(`could not pre-fill the ripgrep cache (${r.stderr}); @vscode/ripgrep will try GitHub.`);
}

/** Runs a command with its output going to a log file, printing a line every 20 s so a long install is not mistaken for a hang. */
function runLogged(command: string, args: readonly string[], env: NodeJS.ProcessEnv, logFile: string): Promise<number> {
  const fd = openSync(logFile, 'w');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', fd, fd] });
    const ticker = setInterval(() => harnessLog(`  ... still installing (${Math.round((Date.now() - started) / 1000)} s)`), 20_000);
    child.on('error', (err) => {
      clearInterval(ticker);
      closeSync(fd);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearInterval(ticker);
      closeSync(fd);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}
