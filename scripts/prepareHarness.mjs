// Installs code-server (into .vscode-test/) and the browser for the editor test layers; see test/harness/prepareHarness.ts.
import { runMain } from './harnessEntry.mjs';

await runMain('test/harness/prepareHarness.js');
