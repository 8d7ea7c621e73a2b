// Finds a Node >= 22 to run the sandbox process on. The host itself may be Node 20 or the editor's Electron,
// neither of which can load isolated-vm 6.2, so the sandbox always runs on a Node binary of its own.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const minSandboxNodeMajor = 22;

/** Where the Node came from, in the order they are tried. */
export type SandboxNodeSource = 'option' | 'env' | 'provisioned' | 'current' | 'path';

export interface SandboxNode {
  readonly path: string;
  readonly version: string;
  readonly source: SandboxNodeSource;
}

export interface SandboxNodeOptions {
  /** The folder holding dist/main.js; `npm install` provisions a Node into its `.node/`. */
  readonly sandboxDir: string;
  /** An explicit Node binary: the `airlock.sandbox.nodePath` setting. Empty means unset. */
  readonly nodePath?: string;
  /** Where AIRLOCK_SANDBOX_NODE and PATH are read; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Whether the current process counts when it is plain Node >= 22 (never Electron); default true. */
  readonly allowCurrentProcess?: boolean;
}

export type SandboxNodeErrorReason = 'not-found' | 'configured-unusable';

export class SandboxNodeError extends Error {
  override readonly name = 'SandboxNodeError';
  constructor(
    readonly reason: SandboxNodeErrorReason,
    message: string,
    /** Each candidate looked at and why it was not used. */
    readonly tried: readonly string[] = [],
  ) {
    super(message);
  }
  static is(e: unknown): e is SandboxNodeError {
    return e instanceof SandboxNodeError;
  }
}

const howToFix =
  'Set the AIRLOCK_SANDBOX_NODE environment variable (or the airlock.sandbox.nodePath setting) to a Node ' +
  `${minSandboxNodeMajor} or newer, or run \`npm install\` in the Airlock folder, which provisions one into sandbox/.node.`;

/** The Node that `npm install` (scripts/provisionSandbox.mjs) puts into `<sandboxDir>/.node`. */
export function provisionedNodePath(sandboxDir: string): string {
  return path.join(sandboxDir, '.node', 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
}

export async function findSandboxNode(options: SandboxNodeOptions): Promise<SandboxNode> {
  const env = options.env ?? process.env;
  const tried: string[] = [];

  // An explicit choice that does not work is an error, not a reason to silently run something else.
  const configured: [SandboxNodeSource, string | undefined, string][] = [
    ['option', options.nodePath, 'the airlock.sandbox.nodePath setting'],
    ['env', env.AIRLOCK_SANDBOX_NODE, 'AIRLOCK_SANDBOX_NODE'],
  ];
  for (const [source, candidate, label] of configured) {
    if (!candidate) continue;
    const probe = await probeNode(candidate);
    if (probe.ok) return { path: candidate, version: probe.version, source };
    throw new SandboxNodeError(
      'configured-unusable',
      `${label} points at ${candidate}, which ${probe.problem}; the sandbox needs Node ${minSandboxNodeMajor} or newer. ` +
        `Point it at a Node ${minSandboxNodeMajor}+ binary, or clear it to use the Node that \`npm install\` provisions into sandbox/.node.`,
      [`${label}: ${candidate} (${probe.problem})`],
    );
  }

  // What `npm install` set up: its own Node in sandbox/.node, or the Node it found and recorded in runtime.json
  // (isolated-vm was verified to load in it; an editor's PATH may not include it).
  const provisioned = provisionedNodePath(options.sandboxDir);
  const recorded = recordedNodePath(options.sandboxDir);
  const candidates = [provisioned, ...(recorded && recorded !== provisioned ? [recorded] : [])];
  for (const candidate of candidates) {
    if (!isFile(candidate)) {
      tried.push(`provisioned: ${candidate} (not there)`);
      continue;
    }
    const probe = await probeNode(candidate);
    if (probe.ok) return { path: candidate, version: probe.version, source: 'provisioned' };
    tried.push(`provisioned: ${candidate} (${probe.problem})`);
  }

  if (options.allowCurrentProcess !== false) {
    // Electron reports a Node version but is not a Node binary, and isolated-vm is not built for its ABI.
    if (process.versions.electron === undefined && majorOf(process.versions.node) >= minSandboxNodeMajor) {
      return { path: process.execPath, version: process.versions.node, source: 'current' };
    }
    tried.push(`this process: ${process.versions.electron ? `Electron ${process.versions.electron}` : `Node ${process.versions.node}`}`);
  }

  const onPath = whichNode(env);
  if (onPath) {
    const probe = await probeNode(onPath);
    if (probe.ok) return { path: onPath, version: probe.version, source: 'path' };
    tried.push(`PATH: ${onPath} (${probe.problem})`);
  } else {
    tried.push('PATH: no node');
  }

  throw new SandboxNodeError('not-found', `No Node ${minSandboxNodeMajor} or newer was found for the agent sandbox (tried ${tried.join('; ')}). ${howToFix}`, tried);
}

function recordedNodePath(sandboxDir: string): string | undefined {
  try {
    const runtime = JSON.parse(readFileSync(path.join(sandboxDir, '.node', 'runtime.json'), 'utf8')) as { node?: unknown };
    return typeof runtime.node === 'string' && runtime.node !== '' ? runtime.node : undefined;
  } catch {
    return undefined;
  }
}

type Probe = { ok: true; version: string } | { ok: false; problem: string };

function probeNode(file: string): Promise<Probe> {
  if (!isFile(file)) return Promise.resolve({ ok: false, problem: 'does not exist' });
  return new Promise((resolve) => {
    execFile(file, ['-p', 'process.versions.node'], { timeout: 10_000, windowsHide: true, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout) => {
      if (error) {
        resolve({ ok: false, problem: `could not be run (${error.message.split('\n')[0]})` });
        return;
      }
      const version = stdout.trim();
      if (!/^\d+\.\d+\.\d+/.test(version)) resolve({ ok: false, problem: 'did not report a Node version' });
      else if (majorOf(version) < minSandboxNodeMajor) resolve({ ok: false, problem: `is Node ${version}` });
      else resolve({ ok: true, version });
    });
  });
}

function whichNode(env: NodeJS.ProcessEnv): string | undefined {
  const names = process.platform === 'win32' ? ['node.exe'] : ['node'];
  for (const dir of (env.PATH ?? env.Path ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (isFile(candidate)) return candidate;
    }
  }
  return undefined;
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function majorOf(version: string): number {
  return Number(version.split('.')[0]) || 0;
}
