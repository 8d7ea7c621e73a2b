// npm run test:integration — see test/harness/runIntegration.ts and docs/testing.md.
import { runMain } from './harnessEntry.mjs';

await runMain('test/harness/runIntegration.js');
