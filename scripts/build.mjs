#!/usr/bin/env node
// Bundles the CLI into one CommonJS file (dist/tsrun.cjs) and the library into dist/index.js.
// One bundle, verbs loaded lazily, is the start-up budget in DESIGN.md: module resolution of
// many small files costs tens of milliseconds per CLI call.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  logLevel: 'warning',
  external: ['koffi'],
};

await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/tsrun.cjs',
  format: 'cjs',
  // The sources are ESM; in the CJS bundle import.meta.url is rebuilt from __filename.
  define: { 'import.meta.url': '__tsrunImportMetaUrl' },
  banner: { js: 'const __tsrunImportMetaUrl = require("url").pathToFileURL(__filename).href;' },
});

await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.js',
  format: 'esm',
  banner: { js: 'import { createRequire as __tsrunCreateRequire } from "node:module"; const require = __tsrunCreateRequire(import.meta.url);' },
});

chmodSync('bin/tsrun', 0o755);
if (!process.argv.includes('--no-types')) {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
