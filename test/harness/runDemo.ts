// `npm run demo`: the "try it now" path without VS Code desktop. Packages the extension, installs it into
// code-server on 127.0.0.1, opens a copy of examples/demo (with the example agents in agents/), prints the URL
// and runs until Ctrl+C. The copy and the editor state persist in .vscode-test/demo/ between runs.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CodeServer, freePort } from './codeServer';
import { cacheDir, harnessLog, repoRoot } from './harnessPaths';
import { packageVsix } from './vsixPackage';
import { provisionedSandboxNodeSetting } from './workbenchSettings';
import { copyWorkspace } from './workspaceCopy';

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { port: { type: 'string' }, reset: { type: 'boolean' } } });
  const demoDir = join(cacheDir, 'demo');
  const workspace = join(demoDir, 'workspace');
  if (values.reset || !existsSync(workspace)) {
    copyWorkspace({ to: workspace, withAgents: true });
    harnessLog(`fresh copy of examples/demo in ${relative(repoRoot, workspace)} (npm run demo -- --reset makes a new one)`);
  }
  const vsix = packageVsix();
  const port = Number(values.port ?? process.env.AIRLOCK_DEMO_PORT ?? 0) || (await portOr(8080));
  const server = await CodeServer.start({
    folder: workspace,
    stateDir: join(demoDir, 'code-server'),
    installVsix: vsix,
    port,
    // The installed extension needs a Node >= 22 for its sandbox; npm install provisioned one.
    settings: provisionedSandboxNodeSetting(),
  });
  const url = server.workbenchUrl();
  process.stdout.write(
    [
      '',
      'Agent Airlock demo is running (code-server, a real VS Code in the browser):',
      '',
      `  ${url}`,
      '',
      'Open it in a browser on this machine (it listens on 127.0.0.1 only; over SSH, forward the port:',
      `  ssh -L ${server.port}:127.0.0.1:${server.port} <this host>). Then press F1 and run "Airlock: Run Agent…",`,
      'pick refactor.agent.js and give it a task such as "rename formatPrice to formatMoney".',
      '',
      `Workspace: ${relative(repoRoot, workspace)} · server log: ${relative(repoRoot, server.logFile)}`,
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  const code = await server.exited;
  harnessLog(`code-server exited (${code}); see ${server.logFile}`);
  return 1;
}

/** The preferred port when it is free, any free port otherwise. */
async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(preferred, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}
