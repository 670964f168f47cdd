#!/usr/bin/env node
// Bundles the CLI into one CommonJS file (dist/tsrun.cjs) and the library into dist/index.js.
// One bundle, verbs loaded lazily, keeps start-up cheap: module resolution of
// many small files costs tens of milliseconds per CLI call.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, renameSync, writeFileSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  logLevel: 'warning',
  external: ['koffi'],
};

// The CLI: a small entry (argv parsing, dispatch) plus one bundle per verb in dist/verbs/, loaded
// with require() only for the verb called, so `state` or `kill` never parse the create path.
const cjs = {
  ...common,
  format: 'cjs',
  // The sources are ESM; in the CJS bundles import.meta.url is rebuilt from __filename, on first
  // use only: node:url costs Bun about a millisecond at start-up, and most calls never ask.
  define: { 'import.meta.url': '__tsrunMeta.url' },
  banner: { js: 'const __tsrunMeta = { get url() { return require("node:url").pathToFileURL(__filename).href; } };' },
};
const verbsExternal = {
  name: 'verbs-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/verbs\/.*\.js$/ }, (args) => ({ path: args.path.replace(/\.js$/, '.cjs'), external: true }));
  },
};
await build({
  ...cjs,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/tsrun.cjs',
  plugins: [verbsExternal],
  // import() of a verb becomes require(): no ESM loader on the CLI's path.
  supported: { 'dynamic-import': false },
});
const verbs = readdirSync('src/cli/verbs')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `src/cli/verbs/${f}`);
// A verb that hands over to another (run → run-image) loads it the same way.
const siblingVerbs = {
  name: 'sibling-verbs',
  setup(b) {
    b.onResolve({ filter: /^\.\/run-image\.js$/ }, () => ({ path: './run-image.cjs', external: true }));
  },
};
await build({
  ...cjs,
  entryPoints: verbs,
  outdir: 'dist/verbs',
  outExtension: { '.js': '.cjs' },
  plugins: [siblingVerbs],
  supported: { 'dynamic-import': false },
});

await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.js',
  format: 'esm',
  banner: { js: 'import { createRequire as __tsrunCreateRequire } from "node:module"; const require = __tsrunCreateRequire(import.meta.url);' },
});

// dbus-next (the systemd cgroup driver's D-Bus client, src/cgroups/dbus.ts) as one file of its own,
// loaded at the driver's first call: the package ships it instead of depending on dbus-next, whose
// optional usocket runs a failing node-gyp 7 build (and pulls in the deprecated request) on every
// install. Without usocket, dbus-next connects with net (its own fallback).
await build({
  ...common,
  entryPoints: ['node_modules/dbus-next/index.js'],
  outfile: 'dist/dbus-next.cjs',
  format: 'cjs',
  external: ['usocket', 'x11'],
});

chmodSync('bin/tsrun', 0o755);
// The Node that built the bundles, for bin/tsrun when the install recorded none (build/node-path).
writeFileSync('dist/node-path.tmp', `${process.execPath}\n`);
renameSync('dist/node-path.tmp', 'dist/node-path');
if (!process.argv.includes('--no-types')) {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
