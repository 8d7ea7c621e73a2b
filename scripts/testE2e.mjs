// npm run test:e2e — mocha over out/test/e2e/**/*.e2e.test.js (config: test/e2e/mocharc.json); extra arguments
// go to mocha (e.g. `npm run test:e2e -- --grep Policy`). Screenshots land in test/e2e/artifacts/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureFresh, root } from './harnessEntry.mjs';

ensureFresh(['test/e2e/workbench.js']);
const artifacts = join(root, 'test', 'e2e', 'artifacts');
// Start from an empty folder, so every screenshot there is from this run.
rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });

const started = Date.now();
const r = spawnSync(process.execPath, [join(root, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--config', join(root, 'test', 'e2e', 'mocharc.json'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
const shots = existsSync(artifacts) ? readdirSync(artifacts).filter((f) => f.endsWith('.png') && statSync(join(artifacts, f)).mtimeMs >= started).sort() : [];
process.stdout.write(`\nEnd-to-end summary: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s; ${shots.length} screenshot(s) in ${relative(root, artifacts)}/\n`);
for (const s of shots) process.stdout.write(`  ${s}\n`);
process.exit(r.status ?? 1);
