// One browser session against one code-server for a mocha `describe`: `useWorkbench()` registers the hooks that
// start code-server with the extension (from source, or installed from a .vsix) and a copy of a workspace,
// open the workbench in headless Chromium, screenshot a failing test, and tear everything down.
import { rmSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium, newWorkbenchPage } from '../harness/chromium';
import { CodeServer } from '../harness/codeServer';
import { repoRoot } from '../harness/harnessPaths';
import { copyWorkspace } from '../harness/workspaceCopy';
import type { WorkspaceCopyOptions } from '../harness/workspaceCopy';
import { Workbench } from './workbench';

export interface WorkbenchSessionOptions {
  /** Which workspace to copy and open; examples/demo with the example agents in `agents/` by default. */
  readonly workspace?: WorkspaceCopyOptions;
  /** Install this .vsix instead of loading the extension from the repository (a function: resolved when the session starts). */
  readonly vsix?: string | (() => string);
  /** Extra user settings ('workbench.colorTheme': 'Default Light Modern', …). */
  readonly settings?: Readonly<Record<string, unknown>>;
  readonly viewport?: { width: number; height: number };
  /** Start with workspace trust enabled (the folder opens untrusted). */
  readonly workspaceTrust?: boolean;
}

export interface WorkbenchSession {
  readonly workbench: Workbench;
  /** The workspace copy on disk (assert on files here). */
  readonly workspace: string;
  readonly server: CodeServer;
}

/** Call inside `describe`; the returned object is filled in by the `before` hook. */
export function useWorkbench(options: WorkbenchSessionOptions = {}): WorkbenchSession {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let server: CodeServer | undefined;
  let workspace: string | undefined;
  let workbench: Workbench | undefined;
  const session: WorkbenchSession = {
    get workbench() {
      if (!workbench) throw new Error('the workbench session has not started (useWorkbench must be called inside describe)');
      return workbench;
    },
    get workspace() {
      return workspace!;
    },
    get server() {
      return server!;
    },
  };

  before(async function () {
    this.timeout(300_000); // a first run may install code-server and the browser
    const vsix = typeof options.vsix === 'function' ? options.vsix() : options.vsix;
    workspace = copyWorkspace({ withAgents: true, ...options.workspace });
    server = await CodeServer.start({ folder: workspace, installVsix: vsix, settings: options.settings, workspaceTrust: options.workspaceTrust });
    browser = await launchChromium();
    const opened = await newWorkbenchPage(browser, { viewport: options.viewport });
    context = opened.context;
    workbench = new Workbench(opened.page);
    const payload: [string, string][] = vsix ? [] : [['extensionDevelopmentPath', server.remoteUri(repoRoot)]];
    await workbench.open(server.workbenchUrl(payload));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && workbench) {
      const name = `FAILED-${this.currentTest.fullTitle().replace(/[^\w-]+/g, '-').slice(0, 100)}`;
      const file = await workbench.screenshot(name).catch(() => undefined);
      if (file) process.stdout.write(`      screenshot of the failure: ${file}\n`);
    }
  });

  after(async function () {
    this.timeout(60_000);
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  return session;
}
