// Bundles the three entry points with esbuild. Type checking is separate (`npm run compile`).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const common = {
  define: { AIRLOCK_VERSION: JSON.stringify(pkg.version) },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  absWorkingDir: root,
  // Prefer a package's ESM build: jsonc-parser's `main` is a UMD file whose inner requires esbuild cannot follow.
  mainFields: ['module', 'main'],
};

const builds = [
  // The extension host: `vscode` is provided by the editor.
  { ...common, entryPoints: ['src/vscode/extension.ts'], outfile: 'dist/extension.js', target: 'node18', external: ['vscode'] },
  // The timeline's audit reader: a worker thread of the extension host, beside extension.js (AuditReader finds it there).
  { ...common, entryPoints: ['src/core/audit/auditReaderWorker.ts'], outfile: 'dist/auditReaderWorker.js', target: 'node18' },
  // A lazy audit writer's write-out (extension host and CLI): a worker thread started from dist/, beside them.
  { ...common, entryPoints: ['src/core/audit/auditWriteOutWorker.ts'], outfile: 'dist/auditWriteOutWorker.js', target: 'node18' },
  // The headless CLI runs on the machine's Node (20 or newer).
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', target: 'node20' },
  // The sandbox runs on Node >= 22 and resolves isolated-vm from sandbox/node_modules.
  { ...common, entryPoints: ['sandbox/main.ts'], outfile: 'sandbox/dist/main.js', target: 'node22', external: ['isolated-vm'] },
  // The Audit Timeline webview: a browser page under a strict CSP, so one classic script and one stylesheet.
  // Always minified (a third of the size to fetch and parse before the first rows; the source map stays in dev builds).
  { ...common, entryPoints: ['media/src/timeline/main.ts'], outfile: 'media/dist/timeline.js', platform: 'browser', format: 'iife', target: 'chrome120', mainFields: ['browser', 'module', 'main'], minify: true },
  { ...common, entryPoints: ['media/src/timeline/timeline.css'], outfile: 'media/dist/timeline.css', platform: 'browser', target: 'chrome120' },
];

const present = (await Promise.all(builds.map(async (b) => ((await exists(join(root, b.entryPoints[0]))) ? b : undefined)))).filter(Boolean);

async function exists(p) {
  try {
    await import('node:fs/promises').then((fs) => fs.access(p));
    return true;
  } catch {
    return false;
  }
}

// A packaged webview carries media/dist/** whole: start production builds from an empty folder (no stale maps).
if (production) rmSync(join(root, 'media', 'dist'), { recursive: true, force: true });

if (watch) {
  for (const b of present) (await esbuild.context(b)).watch();
} else {
  await Promise.all(present.map((b) => esbuild.build(b)));
  await writePolicySchema();
  // sql.js loads its WebAssembly from beside the bundle (src/core/audit/auditDatabase.ts), also in the .vsix.
  copyFileSync(join(root, 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm'), join(root, 'dist', 'sql-wasm.wasm'));
  copyCodicons();
  // A CommonJS marker so Node never treats the sandbox bundle as ESM, whatever package.json says above it.
  mkdirSync(join(root, 'sandbox', 'dist'), { recursive: true });
  writeFileSync(join(root, 'sandbox', 'dist', 'package.json'), '{ "type": "commonjs" }\n');
}

/** Generates dist/policy.schema.json from the zod schema (src/core/policy/policyJsonSchema.ts). */
async function writePolicySchema() {
  const out = await esbuild.build({ ...common, sourcemap: false, entryPoints: ['src/core/policy/policyJsonSchema.ts'], write: false, target: 'node20' });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, createRequire(import.meta.url));
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'policy.schema.json'), JSON.stringify(mod.exports.policyJsonSchema(), null, 2) + '\n');
}

/** The codicon font and stylesheet, next to the webview bundle (the only folder a webview may load from). */
function copyCodicons() {
  const from = join(root, 'node_modules', '@vscode', 'codicons', 'dist');
  const to = join(root, 'media', 'dist', 'codicons');
  mkdirSync(to, { recursive: true });
  for (const f of ['codicon.css', 'codicon.ttf']) copyFileSync(join(from, f), join(to, f));
}
