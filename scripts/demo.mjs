// npm run demo — see test/harness/runDemo.ts. Options: --port N, --reset (a fresh copy of examples/demo).
import { runMain } from './harnessEntry.mjs';

await runMain('test/harness/runDemo.js');
