// Installs what the integration and end-to-end layers need, without running them: code-server into
// .vscode-test/ and the browser. CI calls it before `npm test` so that the test run itself is only tests;
// on a developer machine the first test run does the same on demand.
import { launchChromium } from './chromium';
import { codeServerVersion, ensureCodeServer } from './codeServerInstall';
import { harnessLog } from './harnessPaths';

export async function main(): Promise<number> {
  const started = Date.now();
  await ensureCodeServer();
  const browser = await launchChromium();
  harnessLog(`browser: Chromium ${browser.version()}`);
  await browser.close();
  harnessLog(`code-server ${codeServerVersion} and the browser are ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return 0;
}
