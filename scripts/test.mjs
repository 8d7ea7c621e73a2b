// `npm test`: build, type-check, lint, then the test layers in order (the unit and integration layers a second
// time as an ordinary user when run as root), stopping at the first failure, with each layer's own output as it
// comes, and one closing line that adds up every mocha summary the layers printed.
import { spawn } from 'node:child_process';

const steps = ['build', 'compile', 'lint', 'test:unit', 'test:unit:unprivileged', 'test:integration', 'test:integration:unprivileged', 'test:e2e'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const totals = { passed: 0, failed: 0, skipped: 0 };
const perLayer = [];

function count(text) {
  const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
  const sum = (re) => [...plain.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return { passed: sum(/^\s*(\d+) passing\b/gm), failed: sum(/^\s*(\d+) failing\b/gm), skipped: sum(/^\s*(\d+) pending\b/gm) };
}

function run(step) {
  return new Promise((resolve) => {
    const child = spawn(npm, ['run', '--silent', step], { stdio: ['inherit', 'pipe', 'inherit'], shell: process.platform === 'win32' });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

let failedStep;
for (const step of steps) {
  process.stdout.write(`\n> npm run ${step}\n`);
  const { code, out } = await run(step);
  if (step.startsWith('test:')) {
    const c = count(out);
    perLayer.push(`${step}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
    for (const k of Object.keys(totals)) totals[k] += c[k];
  }
  if (code !== 0) {
    failedStep = step;
    break;
  }
}

process.stdout.write(`\n${perLayer.join('\n')}\n`);
if (failedStep) process.stdout.write(`npm test stopped: "npm run ${failedStep}" failed.\n`);
if (failedStep && totals.failed === 0) totals.failed = 1;
process.stdout.write(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(failedStep ? 1 : 0);
