// Installs the Debian packages the harness needs (browser, ripgrep, kerberos headers) when they are missing,
// so `npm install && npm test` needs no manual step on a fresh Debian machine where we run as root.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './harnessError';
import { cacheDir, harnessLog } from './harnessPaths';
import { tail } from './logFiles';

function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function isInstalled(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/** apt-get's progress goes to a log file (it is long); the end of it is printed when something fails. */
function run(command: string, args: readonly string[], logFile: string): void {
  harnessLog(`$ ${command} ${args.join(' ')}`);
  const fd = openSync(logFile, 'a');
  const r = spawnSync(command, args, { stdio: ['ignore', fd, fd], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  closeSync(fd);
  if (r.status !== 0) {
    process.stdout.write(tail(logFile, 30));
    throw new HarnessError('install-failed', `\`${command} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal}); the end of ${logFile} is above.`);
  }
}

/**
 * Makes sure every package in `packages` is installed. `why` is printed so a person knows what the download is for.
 * Not root, or not Debian: fails with the exact command to run instead of guessing.
 */
export function ensureDebianPackages(packages: readonly string[], why: string): void {
  if (!commandExists('dpkg-query')) {
    // Not Debian: we cannot tell what is installed, so trust the caller's own checks (binaries found on PATH).
    return;
  }
  const missing = packages.filter((p) => !isInstalled(p));
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0 || !commandExists('apt-get')) {
    throw new HarnessError('missing-system-packages', `${why} needs the Debian packages ${missing.join(', ')}. Install them with:\n  sudo sh -c '${command}'`);
  }
  harnessLog(`${why} needs ${missing.join(', ')}; installing with apt-get (one time) ...`);
  const started = Date.now();
  // Waiting for the dpkg lock instead of failing: another test run on this machine may be installing too.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=600'];
  mkdirSync(cacheDir, { recursive: true });
  const logFile = join(cacheDir, 'apt-get.log');
  run('apt-get', [...lockWait, 'update'], logFile);
  run('apt-get', [...lockWait, 'install', '-y', ...missing], logFile);
  harnessLog(`installed ${missing.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
