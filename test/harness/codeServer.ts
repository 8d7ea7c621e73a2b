// Starts and stops one code-server on 127.0.0.1: its own port, its own user-data/extensions/XDG folders (nothing
// written to the home folder) and its own process group, so stopping it leaves no file watcher behind.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCodeServer } from './codeServerInstall';
import { HarnessError } from './harnessError';
import { harnessLog } from './harnessPaths';
import { tail } from './logFiles';
import { writeSettings } from './workbenchSettings';

export interface CodeServerOptions {
  /** Folder the workbench opens. */
  readonly folder: string;
  /** A .vsix to install before the server starts (the packaged extension, as a user would get it). */
  readonly installVsix?: string;
  /** Settings written as user and machine (remote) settings, over `quietSettings`. */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Extra environment for the server and so for the extension host it starts. */
  readonly env?: Readonly<Record<string, string>>;
  /** Workspace trust is off unless asked for (then the folder opens as untrusted until trusted). */
  readonly workspaceTrust?: boolean;
  /** Fixed port (the demo); a free one otherwise. */
  readonly port?: number;
  /** Keep user data, extensions and logs here across runs (the demo); a temp folder, removed on stop, otherwise. */
  readonly stateDir?: string;
}

/** Servers still running, with their process-group ids. */
const live = new Map<CodeServer, number>();
let exitHooksInstalled = false;

export class CodeServer {
  readonly origin: string;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly folder: string,
    /** user-data, extensions, XDG folders and the server log. */
    readonly stateDir: string,
    private readonly ownsStateDir: boolean,
  ) {
    this.origin = `http://127.0.0.1:${port}`;
  }

  /** Resolves when the server process ends (for whatever reason), with its exit code. */
  get exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get logFile(): string {
    return join(this.stateDir, 'code-server.log');
  }

  get extensionsDir(): string {
    return join(this.stateDir, 'extensions');
  }

  static async start(options: CodeServerOptions): Promise<CodeServer> {
    const entry = await ensureCodeServer();
    const ownsStateDir = options.stateDir === undefined;
    const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'airlock-code-server-'));
    const dirs = {
      userData: join(stateDir, 'user-data'),
      extensions: join(stateDir, 'extensions'),
      xdgConfig: join(stateDir, 'xdg', 'config'),
      xdgData: join(stateDir, 'xdg', 'data'),
      xdgCache: join(stateDir, 'xdg', 'cache'),
    };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    // Machine settings too: a code-server window is a remote window, where machine-scoped settings are read
    // from the server's side only.
    writeSettings(dirs.userData, options.settings ?? {}, ['User', 'Machine']);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      XDG_CONFIG_HOME: dirs.xdgConfig,
      XDG_DATA_HOME: dirs.xdgData,
      XDG_CACHE_HOME: dirs.xdgCache,
      ...options.env,
    };
    const common = ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
    if (options.installVsix) installExtension(entry, options.installVsix, common, env);

    const port = options.port ?? (await freePort());
    const args = [
      entry,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--ignore-last-opened',
      ...(options.workspaceTrust ? [] : ['--disable-workspace-trust']),
      ...common,
      options.folder,
    ];
    const log = openSync(join(stateDir, 'code-server.log'), 'a');
    // detached: a process group of its own, so stop() can end the server and everything it started.
    const child = spawn(process.execPath, args, { detached: true, env, stdio: ['ignore', log, log] });
    closeSync(log);
    const server = new CodeServer(child, port, options.folder, stateDir, ownsStateDir);
    if (child.pid !== undefined) live.set(server, child.pid);
    installExitHooks();
    try {
      await server.waitUntilHealthy(60_000);
    } catch (e) {
      process.stdout.write(tail(server.logFile, 40));
      await server.stop();
      throw e;
    }
    return server;
  }

  /** The URI the workbench uses for a path on the server (code-server's remote authority is host:port). */
  remoteUri(absolutePath: string): string {
    return `vscode-remote://127.0.0.1:${this.port}${absolutePath.split('\\').join('/')}`;
  }

  /**
   * The workbench URL. `payload` pairs are what the desktop passes as command-line flags; code-server takes
   * them from the URL (extensionDevelopmentPath, extensionTestsPath), as @vscode/test-web does.
   */
  workbenchUrl(payload: ReadonlyArray<readonly [string, string]> = []): string {
    const query = new URLSearchParams({ folder: this.folder });
    if (payload.length > 0) query.set('payload', JSON.stringify(payload));
    return `${this.origin}/?${query.toString()}`;
  }

  /** Ends the server's whole process group; removes its temp state unless a stateDir was given. */
  async stop(): Promise<void> {
    if (!live.delete(this)) return;
    const pid = this.child.pid;
    if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      killGroup(pid, 'SIGTERM');
      await Promise.race([exited, sleep(5000)]);
    }
    // Stragglers (the file watcher) stay in the group after the server itself is gone.
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
    if (this.ownsStateDir) rmSync(this.stateDir, { recursive: true, force: true, maxRetries: 3 });
  }

  private async waitUntilHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new HarnessError('server-did-not-start', `code-server exited (${this.child.exitCode ?? this.child.signalCode}) before it answered; its log: ${this.logFile}`);
      }
      try {
        const res = await fetch(`${this.origin}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new HarnessError('server-did-not-start', `code-server did not answer on ${this.origin}/healthz within ${timeoutMs / 1000} s; its log: ${this.logFile}`);
  }
}

function installExtension(entry: string, vsix: string, common: readonly string[], env: NodeJS.ProcessEnv): void {
  if (!existsSync(vsix)) throw new HarnessError('packaging-failed', `No .vsix at ${vsix}.`);
  const r = spawnSync(process.execPath, [entry, ...common, '--install-extension', vsix, '--force'], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new HarnessError('install-failed', `code-server --install-extension ${vsix} failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  }
  harnessLog(`installed ${vsix} into code-server`);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** A Ctrl+C or an unexpected exit of the test process must not leave servers behind. */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const pid of live.values()) killGroup(pid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      void Promise.all([...live.keys()].map((s) => s.stop())).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
