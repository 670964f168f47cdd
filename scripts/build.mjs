#!/usr/bin/env node
// Bundles the CLI into one CommonJS file (dist/tsrun.cjs) and the library into dist/index.js.
// One bundle, verbs loaded lazily, keeps start-up cheap: module resolution of
// many small files costs tens of milliseconds per CLI call.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  logLevel: 'warning',
  external: ['koffi'],
};

// Where a CJS bundle is. Bun's bundler (the Bun copy below) replaces every __filename (and
// module.filename) with the path the file had when it was built, which is wrong once the package
// is installed elsewhere; so the Bun copy uses the entry's own path, which is enough for what
// import.meta.filename and .dirname serve in the bundles (the package root, resolving koffi): the
// entry is dist/bun/tsrun.mjs (no require.main: an ES module; Bun puts its absolute path in
// process.argv[1]) or dist/bun/tsrun.cjs (require.main).
const CJS_FILE = '__filename';
const BUN_CJS_FILE = '(require.main ? require.main.filename : process.argv[1])';

// The CLI: a small entry (argv parsing, dispatch) plus one bundle per verb in dist/verbs/, loaded
// with require() only for the verb called, so `state` or `kill` never parse the create path.
const cjs = {
  ...common,
  format: 'cjs',
  // The sources are ESM; in the CJS bundles import.meta.filename and .dirname are rebuilt from
  // __filename, on first use only. No source uses import.meta.url (node:url costs Bun about 2 ms to
  // load): any other import.meta property would be empty in a CJS bundle, so it fails the build.
  define: { 'import.meta.filename': '__tsrunMeta.filename', 'import.meta.dirname': '__tsrunMeta.dirname' },
  logOverride: { 'empty-import-meta': 'error' },
  banner: {
    js: `const __tsrunMeta = { get filename() { return ${CJS_FILE}; }, get dirname() { return require("node:path").dirname(${CJS_FILE}); } };`,
  },
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

// esbuild turns each `import path from 'node:path'` of each module into its own copy of the
// module's properties (__toESM: a getter per property, node:fs has about a hundred); run.cjs made
// 31 of them, about a millisecond of every call on Bun's interpreter. One copy per module object is
// the same namespace (the getters read through to the module), so the helper is memoized.
// The CLI's bundles, relative to dist/.
const CLI_BUNDLES = ['tsrun.cjs', ...readdirSync('dist/verbs').map((v) => `verbs/${v}`)];
const TO_ESM = 'var __toESM = (mod, isNodeMode, target) => (';
for (const f of CLI_BUNDLES.map((b) => `dist/${b}`)) {
  const text = readFileSync(f, 'utf8');
  if (!text.includes(TO_ESM)) continue;
  if (text.indexOf(TO_ESM) !== text.lastIndexOf(TO_ESM)) throw new Error(`build: ${f}: esbuild's __toESM helper twice`);
  const memo = [
    'var __tsrunNs = [new WeakMap(), new WeakMap()];',
    'var __toESM = (mod, isNodeMode) => {',
    '  if (mod === null || (typeof mod !== "object" && typeof mod !== "function")) return __toESM1(mod, isNodeMode);',
    '  const seen = __tsrunNs[isNodeMode ? 1 : 0];',
    '  let ns = seen.get(mod);',
    '  if (!ns) seen.set(mod, (ns = __toESM1(mod, isNodeMode)));',
    '  return ns;',
    '};',
    'var __toESM1 = (mod, isNodeMode, target) => (',
  ].join('\n');
  writeFileSync(f, text.replace(TO_ESM, memo));
}

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

// Bun's copy of the CLI (dist/bun/), for bin/tsrun on Bun: the same bundles, rewritten by Bun's
// own bundler with the `// @bun` pragma (Bun runs such a file without transpiling it first) and
// with JavaScriptCore bytecode beside each file (*.cjs.jsc), so a call neither transpiles nor
// parses the verb it runs. Measured with perf stat on this host: `state` on a missing container
// 14.9 -> 10.4 ms of CPU. The bytecode is valid for the Bun that wrote it only, so package.json
// pins the optional Bun packages to one version; a Bun of another version ignores the .jsc files
// and parses the source. Without Bun (an install with --omit=optional) there is no dist/bun and
// bin/tsrun runs dist/tsrun.cjs on Node.
rmSync('dist/bun', { recursive: true, force: true });
// In bin/tsrun's order: the baseline build runs on every x86-64.
const bun = ['bun-linux-x64-baseline', 'bun-linux-x64']
  .map((b) => `node_modules/@oven/${b}/bin/bun`)
  .find((b) => existsSync(b) && spawnSync(b, ['--version'], { stdio: 'ignore' }).status === 0);
if (bun) {
  const bunIn = 'dist/.bun-in';
  rmSync(bunIn, { recursive: true, force: true });
  mkdirSync(`${bunIn}/verbs`, { recursive: true });
  for (const f of CLI_BUNDLES) {
    const text = readFileSync(`dist/${f}`, 'utf8');
    const banner = text.slice(0, text.indexOf('\n'));
    if (!banner.startsWith('const __tsrunMeta = ')) throw new Error(`build: dist/${f} lacks the import.meta banner`);
    writeFileSync(`${bunIn}/${f}`, banner.replaceAll(CJS_FILE, BUN_CJS_FILE) + text.slice(banner.length));
  }
  const r = spawnSync(
    bun,
    [
      'build',
      ...CLI_BUNDLES.map((f) => `${bunIn}/${f}`),
      `--root=${bunIn}`,
      '--outdir=dist/bun',
      '--entry-naming=[dir]/[name].cjs',
      '--target=bun',
      '--format=cjs',
      '--bytecode',
      // Each file stays one bundle of its own, loading the others (./verbs/*.cjs, ./run-image.cjs)
      // as before.
      '--external=*.cjs',
      '--external=koffi',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  rmSync(bunIn, { recursive: true, force: true });
  if (r.status !== 0) {
    console.error(`build: ${bun} build failed (status ${r.status ?? r.signal})`);
    process.exit(1);
  }
  // Bun's entry: an ES module awaiting the call's end (src/cli/main.ts exports it as `done`) at its
  // top level. After it has evaluated the entry, Bun runs a full garbage collection when the event
  // loop still has work, as it has for every verb that waits on a container (run, create, exec):
  // about 3 ms of CPU on our heap, with one marker thread. Bun waits for an ES module's top-level
  // await inside the entry's load, running the event loop there; once the call has ended nothing
  // is left and the collection is skipped (perf stat, in a private cgroup2: run 25.0 -> 21.7 ms of
  // CPU, create 22.8 -> 20.0, exec 19.1 -> 16.5; state and the other verbs, which never wait,
  // unchanged). The CLI itself stays in tsrun.cjs: Bun writes bytecode for CommonJS only (an
  // ES module's needs --compile). Written as Bun's bundler writes it (`// @bun`: run as it is,
  // not transpiled).
  writeFileSync('dist/bun/tsrun.mjs', '// @bun\nawait import.meta.require("./tsrun.cjs").done;\n');
}

chmodSync('bin/tsrun', 0o755);
// The Node that built the bundles, for bin/tsrun when the install recorded none (build/node-path).
writeFileSync('dist/node-path.tmp', `${process.execPath}\n`);
renameSync('dist/node-path.tmp', 'dist/node-path');
if (!process.argv.includes('--no-types')) {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
