// The extension-tests module both integration runners hand to VS Code (the `run(): Promise<void>` contract of
// @vscode/test-electron and of code-server's `extensionTestsPath`). It runs inside the real extension host.
//
// Environment, set by test/harness/runIntegration.ts:
//   AIRLOCK_TEST_REPORT  also write mocha's report to this file (code-server's extension host has no terminal;
//                        the runner prints the file as it grows)
//   AIRLOCK_TEST_FILES   comma-separated endings of the spec files to load (the packaged-extension run loads only
//                        the smoke spec; the untrusted-workspace run only *.untrusted.integration.test.js)
//   AIRLOCK_TEST_EXCLUDE comma-separated endings of spec files to leave out
//   AIRLOCK_TEST_GREP    only tests whose full title matches this regular expression
//   AIRLOCK_TEST_COLOR   1 to colour the report (the runner's terminal is a TTY)
import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';

export async function run(): Promise<void> {
  // mocha's own entry is ESM; import() works from this CommonJS module in every Node the extension host may be.
  const { default: Mocha } = await import('mocha');
  const report = process.env.AIRLOCK_TEST_REPORT;
  if (report) {
    writeFileSync(report, '');
    // Every reporter prints through Base.consoleLog; copy each line to the report file as well.
    const consoleLog = Mocha.reporters.Base.consoleLog;
    Mocha.reporters.Base.consoleLog = (...args: unknown[]) => {
      consoleLog(...args);
      appendFileSync(report, format(...args) + '\n');
    };
  }
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', timeout: 60_000, color: process.env.AIRLOCK_TEST_COLOR === '1' });
  if (process.env.AIRLOCK_TEST_GREP) mocha.grep(new RegExp(process.env.AIRLOCK_TEST_GREP));

  const only = list(process.env.AIRLOCK_TEST_FILES);
  const exclude = list(process.env.AIRLOCK_TEST_EXCLUDE) ?? [];
  const files = readdirSync(__dirname, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.integration.test.js'))
    .filter((f) => !only || only.some((o) => f.endsWith(o)))
    .filter((f) => !exclude.some((x) => f.endsWith(x)))
    .sort();
  if (files.length === 0) throw new Error(`No integration test files in ${__dirname}${only ? ` matching ${only.join(', ')}` : ''}. Run \`npm run compile\` first.`);
  for (const f of files) mocha.addFile(join(__dirname, f));

  await new Promise<void>((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} integration test(s) failed.`)) : resolve()));
  });
}

function list(value: string | undefined): string[] | undefined {
  const items = value?.split(',').map((s) => s.trim()).filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}
