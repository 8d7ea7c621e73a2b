// Runs on `npm install`: makes sure the sandbox process has a Node >= 22 and an isolated-vm built for it.
// The editor's own Node (or the machine's Node 20) cannot load isolated-vm 6.2, so the sandbox gets its own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const sandboxDir = join(root, 'sandbox');
const runtimeDir = join(sandboxDir, '.node');
const runtimeFile = join(runtimeDir, 'runtime.json');
const MIN_MAJOR = 22;

function log(msg) {
  process.stdout.write(`[airlock] ${msg}\n`);
}

function nodeVersion(nodePath) {
  const r = spawnSync(nodePath, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function majorOf(version) {
  return Number((version ?? '0').split('.')[0]);
}

function findNode() {
  const fromEnv = process.env.AIRLOCK_SANDBOX_NODE;
  if (fromEnv) {
    const v = nodeVersion(fromEnv);
    if (majorOf(v) >= MIN_MAJOR) return { node: fromEnv, version: v, source: 'AIRLOCK_SANDBOX_NODE' };
    log(`AIRLOCK_SANDBOX_NODE=${fromEnv} is not a Node >= ${MIN_MAJOR} (got ${v ?? 'nothing'}); ignoring it.`);
  }
  if (majorOf(process.versions.node) >= MIN_MAJOR) {
    return { node: process.execPath, version: process.versions.node, source: 'this Node' };
  }
  const provisioned = join(runtimeDir, 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (existsSync(provisioned)) {
    const v = nodeVersion(provisioned);
    if (majorOf(v) >= MIN_MAJOR) return { node: provisioned, version: v, source: 'provisioned' };
  }
  log(`Node ${process.versions.node} is too old for the sandbox (needs >= ${MIN_MAJOR}); installing node@24 from the npm registry into sandbox/.node ...`);
  mkdirSync(runtimeDir, { recursive: true });
  const r = spawnSync(npmCommand(), ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', runtimeDir, 'node@24'], {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  const v = r.status === 0 ? nodeVersion(provisioned) : undefined;
  if (majorOf(v) < MIN_MAJOR) {
    fail(`could not install node@24 into ${runtimeDir}. Install Node >= ${MIN_MAJOR} yourself and run: AIRLOCK_SANDBOX_NODE=/path/to/node npm install`);
  }
  return { node: provisioned, version: v, source: 'provisioned' };
}

function npmCommand() {
  return process.platform === 'win32' ? 'npm.cmd' : 'npm';
}

function fail(msg) {
  process.stderr.write(`[airlock] ${msg}\n`);
  process.exit(1);
}

function isolatedVmLoads(node) {
  const r = spawnSync(node, ['--no-node-snapshot', '-e', "require('isolated-vm'); process.stdout.write(require('isolated-vm/package.json').version)"], {
    cwd: sandboxDir,
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const found = findNode();
let ivm = isolatedVmLoads(found.node);
if (!ivm) {
  log(`installing the sandbox's dependencies (isolated-vm) with Node ${found.version} ...`);
  const nodeBin = dirname(found.node);
  // node-gyp-build picks the prebuilt binary for the Node that runs the install; headers are only needed
  // if it has to compile, and then they must be this Node's own (npm here may default to another Node's).
  const candidates = [dirname(nodeBin), join(runtimeDir, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`)];
  const nodedir = candidates.find((d) => existsSync(join(d, 'include', 'node')));
  const env = { ...process.env, PATH: `${nodeBin}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH ?? ''}` };
  if (nodedir) env.npm_config_nodedir = nodedir;
  else delete env.npm_config_nodedir;
  const r = spawnSync(npmCommand(), ['install', '--no-audit', '--no-fund', '--omit=dev'], {
    cwd: sandboxDir,
    env,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (r.status !== 0) fail(`installing isolated-vm for the sandbox failed (exit ${r.status}). See the output above.`);
  ivm = isolatedVmLoads(found.node);
  if (!ivm) fail(`isolated-vm was installed but does not load in ${found.node}. Delete sandbox/node_modules and run npm install again.`);
}

mkdirSync(runtimeDir, { recursive: true });
const previous = existsSync(runtimeFile) ? readFileSync(runtimeFile, 'utf8') : '';
const next = JSON.stringify({ node: found.node, version: found.version, isolatedVm: ivm }, null, 2) + '\n';
if (previous !== next) writeFileSync(runtimeFile, next);
log(`sandbox ready: Node ${found.version} (${found.source}), isolated-vm ${ivm}`);
