// Which Node runs the agent sandbox, seen from the editor: the `airlock.sandbox.nodePath` setting first, then
// what core's findSandboxNode finds, then a Node that Airlock installed into its global storage on request.
// When there is none, it says exactly how to fix that and offers to install one.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { findSandboxNode, minSandboxNodeMajor, provisionedNodePath, SandboxNodeError } from '../core/runtime/sandboxNode';

export const nodePathSetting = 'airlock.sandbox.nodePath';

export class SandboxNodeSetup implements vscode.Disposable {
  private readonly _onDidChange = new vscode.EventEmitter<void>();
  /** The Node to use may have changed (setting edited, Node installed): a running sandbox should be replaced. */
  readonly onDidChange = this._onDidChange.event;
  private readonly subscriptions: vscode.Disposable[] = [this._onDidChange];
  /** Where "Install Node" puts it: `<globalStorage>/.node`, laid out like the development checkout's `sandbox/.node`. */
  private readonly storageNodeDir: string;

  constructor(
    private readonly sandboxDir: string,
    private readonly globalStorage: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.storageNodeDir = join(globalStorage.fsPath, '.node');
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(nodePathSetting)) this._onDidChange.fire();
      }),
    );
  }

  /** The Node binary for the sandbox. Throws SandboxNodeError when there is none; `explain` turns that into a message. */
  async resolve(): Promise<string> {
    const configured = expandHome(vscode.workspace.getConfiguration().get<string>(nodePathSetting, '').trim());
    try {
      const node = await findSandboxNode({ sandboxDir: this.sandboxDir, nodePath: configured || undefined });
      this.log.info(`sandbox Node: ${node.path} (${node.version}, ${node.source === 'option' ? nodePathSetting : node.source})`);
      return node.path;
    } catch (e) {
      const fromStorage = this.storageNodePath();
      if (SandboxNodeError.is(e) && e.reason === 'not-found' && existsSync(fromStorage)) {
        const node = await findSandboxNode({ sandboxDir: this.sandboxDir, nodePath: fromStorage });
        this.log.info(`sandbox Node: ${node.path} (${node.version}, installed by Airlock)`);
        return node.path;
      }
      throw e;
    }
  }

  /** Shows why no Node could be used and the ways out; offers to install Node 24 from the npm registry. */
  async explain(error: SandboxNodeError): Promise<void> {
    this.log.error(error.message);
    const install = 'Install Node 24 for Airlock';
    const settings = 'Open Setting';
    const message =
      error.reason === 'configured-unusable'
        ? `Agent Airlock cannot run agents: ${error.message}`
        : `Agent Airlock needs Node.js ${minSandboxNodeMajor} or newer to run agents in its sandbox, and found none (the editor's own runtime cannot load the sandbox). ` +
          `Set "${nodePathSetting}" to a Node ${minSandboxNodeMajor}+ binary, put one on the PATH, or let Airlock install Node 24 from the npm registry into its own storage.`;
    const choice = await vscode.window.showErrorMessage(message, install, settings);
    if (choice === settings) await vscode.commands.executeCommand('workbench.action.openSettings', nodePathSetting);
    if (choice === install) await this.install();
  }

  /** `npm install node@24` into global storage: the same package `npm install` provisions for a development checkout. */
  async install(): Promise<boolean> {
    mkdirSync(this.storageNodeDir, { recursive: true });
    const ok = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Airlock: installing Node 24 for the agent sandbox (npm install node@24)…' },
      () =>
        new Promise<boolean>((resolve) => {
          const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
          const child = spawn(npm, ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', this.storageNodeDir, 'node@24'], {
            shell: process.platform === 'win32',
            env: { ...process.env, npm_config_update_notifier: 'false' },
          });
          child.stdout.on('data', (d: Buffer) => this.log.info(`[npm] ${d.toString().trimEnd()}`));
          child.stderr.on('data', (d: Buffer) => this.log.info(`[npm] ${d.toString().trimEnd()}`));
          child.on('error', (e) => {
            this.log.error(`npm could not be started: ${e.message}`);
            resolve(false);
          });
          child.on('exit', (code) => resolve(code === 0 && existsSync(this.storageNodePath())));
        }),
    );
    if (ok) {
      this._onDidChange.fire();
      this.log.info(`installed Node 24 for the sandbox: ${this.storageNodePath()}`);
      void vscode.window.showInformationMessage('Airlock installed Node 24 for its sandbox. Run the agent again.');
    } else {
      void vscode.window.showErrorMessage(
        `Installing Node 24 with npm failed (is npm on the PATH?). Install Node.js ${minSandboxNodeMajor} or newer from https://nodejs.org and set "${nodePathSetting}" to its node binary.`,
      );
      this.log.show(true);
    }
    return ok;
  }

  private storageNodePath(): string {
    return provisionedNodePath(this.globalStorage.fsPath);
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}
