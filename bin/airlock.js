#!/usr/bin/env node
// The `airlock` command: the headless CLI, bundled by `npm run build` into dist/cli.js.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const cli = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('airlock: dist/cli.js is missing. Run `npm install` (or `npm run build`) in the Agent Airlock folder first.\n');
  process.exit(2);
}
require(cli).runCli();
