// bin/tsrun finds its JS engine by absolute path (DESIGN.md, "Engines"; issue 15): Bun installed
// with the package where it is, else the Node recorded at install (build/node-path), never the
// caller's PATH, since engines and systemd units call the runtime with
// PATH=/usr/sbin:/usr/bin:/sbin:/bin and often no HOME. TSRUN_ENGINE=bun|node forces either, and a
// forced engine that is missing is a clear error. --version names the engine.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/rootfs.js';

const LAUNCHER = path.join(REPO_ROOT, 'bin/tsrun');
const MINIMAL_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const BUN_PKGS = ['bun-linux-x64', 'bun-linux-x64-baseline'].filter((b) => existsSync(path.join(REPO_ROOT, 'node_modules/@oven', b, 'bin/bun')));
const hasAvx2 = /^flags\s*:.*\bavx2\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
const runnableBun = BUN_PKGS.find((b) => b.endsWith('baseline') || hasAvx2);
const bunVersion = runnableBun
  ? spawnSync(path.join(REPO_ROOT, 'node_modules/@oven', runnableBun, 'bin/bun'), ['--version'], { encoding: 'utf8' }).stdout.trim()
  : undefined;
const built = existsSync(path.join(REPO_ROOT, 'dist/tsrun.cjs'));
const FRONT = path.join(REPO_ROOT, 'build/Release/tsrun-fast');

/** `env -i PATH=<minimal> [extra] <exe> --version`, from cwd. */
function version(exe: string, extra: Record<string, string> = {}, cwd = os.tmpdir()) {
  const env = Object.entries({ PATH: MINIMAL_PATH, ...extra }).map(([k, v]) => `${k}=${v}`);
  return spawnSync('/usr/bin/env', ['-i', ...env, exe, '--version'], { encoding: 'utf8', cwd, timeout: 30_000 });
}

function engineLine(stdout: string): string | undefined {
  return /^engine: (.*)$/m.exec(stdout)?.[1];
}

/** A package laid out as npm installs it: <tmp>/node_modules/tsrun/{bin,dist,build} and node_modules/.bin/tsrun. */
function installedLayout(t: import('ava').ExecutionContext, o: { bun: boolean; nodePath?: string }) {
  const top = mkdtempSync(path.join(os.tmpdir(), 'tsrun-launcher-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const nm = path.join(top, 'node_modules');
  const pkg = path.join(nm, 'tsrun');
  mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  mkdirSync(path.join(pkg, 'build'));
  mkdirSync(path.join(nm, '.bin'));
  copyFileSync(LAUNCHER, path.join(pkg, 'bin/tsrun'));
  chmodSync(path.join(pkg, 'bin/tsrun'), 0o755);
  mkdirSync(path.join(pkg, 'dist'));
  copyFileSync(path.join(REPO_ROOT, 'dist/tsrun.cjs'), path.join(pkg, 'dist/tsrun.cjs'));
  symlinkSync('../tsrun/bin/tsrun', path.join(nm, '.bin/tsrun'));
  if (o.bun) {
    mkdirSync(path.join(nm, '@oven'));
    // Hoisted beside the package, as npm installs optional dependencies.
    for (const b of BUN_PKGS) symlinkSync(path.join(REPO_ROOT, 'node_modules/@oven', b), path.join(nm, '@oven', b));
  }
  if (o.nodePath) writeFileSync(path.join(pkg, 'build/node-path'), `${o.nodePath}\n`);
  return { top, bin: path.join(nm, '.bin/tsrun') };
}

const needsBuild = built ? test : test.skip;
const needsBun = built && bunVersion ? test : test.skip;
const noBun = bunVersion ? '' : ' (skipped: no runnable Bun in node_modules/@oven)';
const noBuild = built ? '' : ' (skipped: dist/tsrun.cjs is not built: npm run build)';

needsBuild(`env -i PATH=${MINIMAL_PATH} <abs>/bin/tsrun --version works and names the default engine${noBuild}`, (t) => {
  const r = version(LAUNCHER);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^tsrun version \d+\.\d+\.\d+\ncommit: .*\nspec: \d+\.\d+\.\d+\n/, "runc's first lines");
  t.is(engineLine(r.stdout), bunVersion ? `bun ${bunVersion}` : `node ${process.version}`, 'Bun where it is installed, else Node');
});

needsBuild(`TSRUN_ENGINE=node forces Node${noBuild}`, (t) => {
  const r = version(LAUNCHER, { TSRUN_ENGINE: 'node' });
  t.is(r.status, 0, r.stderr);
  t.regex(engineLine(r.stdout) ?? '', /^node v\d+\.\d+\.\d+$/);
});

needsBun(`TSRUN_ENGINE=bun forces Bun${noBun}`, (t) => {
  const r = version(LAUNCHER, { TSRUN_ENGINE: 'bun' });
  t.is(r.status, 0, r.stderr);
  t.is(engineLine(r.stdout), `bun ${bunVersion}`);
});

needsBuild(`an unknown TSRUN_ENGINE is refused by name${noBuild}`, (t) => {
  const r = version(LAUNCHER, { TSRUN_ENGINE: 'deno' });
  t.is(r.status, 127);
  t.regex(r.stderr, /^tsrun: TSRUN_ENGINE=deno: unknown engine \(bun or node\)$/m);
  t.is(r.stdout, '');
});

needsBuild(`TSRUN_ENGINE=bun where the package has no Bun: a clear error, not Node${noBuild}`, (t) => {
  const { bin } = installedLayout(t, { bun: false });
  const r = version(bin, { TSRUN_ENGINE: 'bun' });
  t.is(r.status, 127);
  t.regex(
    r.stderr,
    /^tsrun: TSRUN_ENGINE=bun: Bun is not installed with this package \(no executable node_modules\/@oven\/bun-linux-x64\[-baseline\]\/bin\/bun in .*; this CPU (has|lacks) AVX2/m,
  );
  t.is(r.stdout, '');
});

needsBuild(`Node installed outside the caller's PATH (nvm, volta, a tarball) is found through build/node-path${noBuild}`, (t) => {
  // A Node "installed" under a private prefix: a wrapper that says it ran, then is the real Node.
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'tsrun-node-prefix-'));
  t.teardown(() => rmSync(prefix, { recursive: true, force: true }));
  const node = path.join(prefix, 'versions/node/v99/bin/node');
  mkdirSync(path.dirname(node), { recursive: true });
  writeFileSync(node, `#!/bin/sh\necho recorded-node-ran >&2\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
  const { bin } = installedLayout(t, { bun: false, nodePath: node });
  for (const extra of [{}, { TSRUN_ENGINE: 'node' }] as Record<string, string>[]) {
    const r = version(bin, extra);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stderr, /recorded-node-ran/, 'the recorded Node, not one from PATH');
    t.is(engineLine(r.stdout), `node ${process.version}`);
  }
});

needsBuild(`a global install without Bun (npm i -g --omit=optional) runs on the Node beside its link in <prefix>/bin${noBuild}`, (t) => {
  // npm i -g links <prefix>/bin/tsrun to <prefix>/lib/node_modules/<name>/bin/tsrun; the Node that
  // ran npm is <prefix>/bin/node. Nothing records it (the package has no install script).
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'tsrun-global-'));
  t.teardown(() => rmSync(prefix, { recursive: true, force: true }));
  const pkg = path.join(prefix, 'lib/node_modules/@tsrun-oci/tsrun');
  mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  mkdirSync(path.join(pkg, 'dist'));
  mkdirSync(path.join(prefix, 'bin'));
  copyFileSync(LAUNCHER, path.join(pkg, 'bin/tsrun'));
  chmodSync(path.join(pkg, 'bin/tsrun'), 0o755);
  copyFileSync(path.join(REPO_ROOT, 'dist/tsrun.cjs'), path.join(pkg, 'dist/tsrun.cjs'));
  symlinkSync('../lib/node_modules/@tsrun-oci/tsrun/bin/tsrun', path.join(prefix, 'bin/tsrun'));
  writeFileSync(path.join(prefix, 'bin/node'), `#!/bin/sh\necho prefix-node-ran >&2\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
  const r = version(path.join(prefix, 'bin/tsrun'));
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /prefix-node-ran/, "the install's own Node, not /usr/bin's or PATH's");
  t.is(engineLine(r.stdout), `node ${process.version}`);
});

needsBun(`an npm layout (node_modules/.bin link, Bun hoisted beside the package) runs on Bun${noBun}`, (t) => {
  const { bin } = installedLayout(t, { bun: true, nodePath: process.execPath });
  const r = version(bin);
  t.is(r.status, 0, r.stderr);
  t.is(engineLine(r.stdout), `bun ${bunVersion}`);
  const n = version(bin, { TSRUN_ENGINE: 'node' });
  t.is(engineLine(n.stdout), `node ${process.version}`, n.stderr);
});

needsBun(`Bun reads no bunfig.toml, .env or tsconfig.json from the caller's working directory (a bundle is hostile input)${noBun}`, (t) => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'tsrun-hostile-cwd-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const marker = path.join(cwd, 'preloaded');
  writeFileSync(path.join(cwd, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');`);
  writeFileSync(path.join(cwd, 'bunfig.toml'), 'preload = ["./evil.js"]\n');
  writeFileSync(path.join(cwd, '.env'), 'TSRUN_ENGINE=node\n');
  writeFileSync(path.join(cwd, 'tsconfig.json'), '{ "compilerOptions": { "paths": { "node:fs": ["./evil.js"] } } }\n');
  const r = version(LAUNCHER, { TSRUN_ENGINE: 'bun' }, cwd);
  t.is(r.status, 0, r.stderr);
  t.is(engineLine(r.stdout), `bun ${bunVersion}`);
  t.false(existsSync(marker), 'the preload in the bundle directory ran');
});

needsBuild(
  `NODE_EXTRA_CA_CERTS reaches the engine for the verbs that may pull an image (image, run --image, container), and is dropped for the runtime verbs${noBuild}`,
  (t) => {
    // A "Node" that only reports what it was given: nothing runs, nothing is pulled.
    const prefix = mkdtempSync(path.join(os.tmpdir(), 'tsrun-ca-node-'));
    t.teardown(() => rmSync(prefix, { recursive: true, force: true }));
    const node = path.join(prefix, 'node');
    writeFileSync(node, `#!/bin/sh\necho "ca=\${NODE_EXTRA_CA_CERTS-unset}"\n`, { mode: 0o755 });
    const { bin } = installedLayout(t, { bun: false, nodePath: node });
    const ca = '/etc/ssl/proxy-ca.pem';
    const caSeen = (args: string[]) => {
      const env = [`PATH=${MINIMAL_PATH}`, `NODE_EXTRA_CA_CERTS=${ca}`, 'TSRUN_ENGINE=node'];
      const r = spawnSync('/usr/bin/env', ['-i', ...env, bin, ...args], { encoding: 'utf8', cwd: os.tmpdir(), timeout: 30_000 });
      t.is(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    const pulling = [
      ['image', 'pull', 'docker.io/library/alpine:3'],
      ['run', '--image', 'alpine:3', 'c1'],
      ['container', 'run', '--network', 'none', 'alpine:3'],
      ['container', 'create', '--network', 'none', 'alpine:3'],
    ];
    for (const args of pulling) t.is(caSeen(args), `ca=${ca}`, args.join(' '));
    for (const args of [['state', 'c1'], ['create', '--bundle', '/b', 'c1'], ['run', 'c1'], ['delete', '-f', 'c1'], ['--version']]) {
      t.is(caSeen(args), 'ca=unset', args.join(' '));
    }
  },
);

/** A package layout whose "Bun" only reports what it was given: its argv, and the environment it got. */
function fakeBunLayout(t: import('ava').ExecutionContext, o: { builds: string[]; bunCopy: boolean; front?: boolean }) {
  const top = mkdtempSync(path.join(os.tmpdir(), 'tsrun-fake-bun-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const pkg = path.join(top, 'node_modules/tsrun');
  mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  mkdirSync(path.join(pkg, 'dist/bun'), { recursive: true });
  copyFileSync(LAUNCHER, path.join(pkg, 'bin/tsrun'));
  chmodSync(path.join(pkg, 'bin/tsrun'), 0o755);
  writeFileSync(path.join(pkg, 'dist/tsrun.cjs'), '');
  if (o.bunCopy) writeFileSync(path.join(pkg, 'dist/bun/tsrun.mjs'), '');
  if (o.front) {
    mkdirSync(path.join(pkg, 'build/Release'), { recursive: true });
    copyFileSync(FRONT, path.join(pkg, 'build/Release/tsrun-fast'));
    chmodSync(path.join(pkg, 'build/Release/tsrun-fast'), 0o755);
  }
  for (const b of o.builds) {
    const exe = path.join(top, 'node_modules/@oven', b, 'bin/bun');
    mkdirSync(path.dirname(exe), { recursive: true });
    const nofile = 'nofile=$(printf %s "$TSRUN_NOFILE" | tr "\\n" :)';
    const report = `echo "build=${b} main=$5 jit=\${BUN_JSC_useJIT-on} markers=\${BUN_JSC_numberOfGCMarkers-default} added=$(echo $TSRUN_ADDED | tr ' ' ,) cache=\${BUN_RUNTIME_TRANSPILER_CACHE_PATH-unset} ${nofile}"`;
    writeFileSync(exe, `#!/bin/sh\n${report}\n`, { mode: 0o755 });
  }
  const run = (args: string[], extra: string[] = []) => {
    const r = spawnSync('/usr/bin/env', ['-i', `PATH=${MINIMAL_PATH}`, ...extra, path.join(pkg, 'bin/tsrun'), ...args], {
      encoding: 'utf8',
      cwd: os.tmpdir(),
      timeout: 30_000,
    });
    t.is(r.status, 0, r.stderr);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split(' ')
        .map((kv) => kv.split('=') as [string, string]),
    );
  };
  return { pkg, run };
}

needsBuild(
  `Bun: the -baseline build first (no /proc/cpuinfo read), Bun's copy of the bundles (dist/bun) without a transpiler cache, and the JIT off for the runtime verbs only${noBuild}`,
  (t) => {
    const { pkg, run } = fakeBunLayout(t, { builds: ['bun-linux-x64', 'bun-linux-x64-baseline'], bunCopy: true });
    const state = run(['--root', '/nonexistent', 'create', '--bundle', '/nonexistent', 'c1']);
    t.is(state.build, 'bun-linux-x64-baseline', 'the baseline build runs on every x86-64 and starts as fast');
    t.is(
      path.normalize(state.main),
      path.join(pkg, 'dist/bun/tsrun.mjs'),
      'the ES module entry that awaits the CLI (Bun then skips its post-entry collection)',
    );
    t.is(state.cache, '0', 'nothing to transpile: no cache is written');
    t.is(state.jit, '0', 'a runtime verb runs on the interpreter');
    t.is(state.markers, '1', 'one GC marker thread for a heap of a few MiB');
    t.is(
      state.added,
      'TSRUN_NOFILE,BUN_RUNTIME_TRANSPILER_CACHE_PATH,BUN_JSC_useJIT,BUN_JSC_numberOfGCMarkers',
      'what the launcher added, for callerEnv to take out',
    );
    const own = spawnSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).stdout.trim().split('\n');
    t.is(state.nofile, own.join(':'), "the caller's RLIMIT_NOFILE, soft then hard");
    for (const args of [
      ['image', 'ls'],
      ['container', 'ls'],
      ['run', '--image', 'alpine', 'c1'],
    ]) {
      const r = run(args);
      t.is(r.jit, 'on', `${args.join(' ')} keeps the JIT (tar, digests)`);
      t.is(r.markers, 'default', `${args.join(' ')} keeps the GC's defaults`);
    }
    const callers = run(['--root', '/nonexistent', 'state', 'c1'], ['BUN_JSC_useJIT=1']);
    t.is(callers.jit, '1', "the caller's own setting wins");
    // (state makes no process: no RLIMIT_NOFILE record, and so none listed)
    t.is(callers.added, 'BUN_RUNTIME_TRANSPILER_CACHE_PATH,BUN_JSC_numberOfGCMarkers', 'and is not listed as added');
  },
);

const frontTest = built && existsSync(FRONT) && process.geteuid?.() === 0 ? test : test.skip;
const noFront = frontTest === test ? '' : ' (skipped: needs root and build/Release/tsrun-fast: npm run build)';

frontTest(
  `state, kill, start and delete go through the static front (native/README.md "The fast front"), found by the verb after the global flags; TSRUN_FAST=0 skips it${noFront}`,
  (t) => {
    const { pkg, run } = fakeBunLayout(t, { builds: ['bun-linux-x64-baseline'], bunCopy: true, front: true });
    // The front answers `delete --force` of a missing container itself (exit 0, no engine started,
    // so none of the fake engine's report).
    for (const args of [
      ['--root', '/nonexistent', 'delete', '--force', 'c1'],
      ['--log-format', 'json', '--root=/nonexistent', '--systemd-cgroup', 'delete', '-f', 'c1'],
    ]) {
      const r = spawnSync('/usr/bin/env', ['-i', `PATH=${MINIMAL_PATH}`, path.join(pkg, 'bin/tsrun'), ...args], { encoding: 'utf8', timeout: 30_000 });
      t.is(r.status, 0, r.stderr);
      t.is(r.stdout, '', `${args.join(' ')}: answered by the front, no engine started`);
    }
    // Every other case reaches the engine with the same words; TSRUN_NOFILE only for verbs that make a process.
    const viaEngine = run(['--root', '/nonexistent', 'state', 'c1']);
    t.regex(viaEngine.main, /dist\/bun\/tsrun\.mjs$/, 'state of a missing container falls back to the engine');
    t.is(viaEngine.nofile, '', 'the short verbs skip the RLIMIT_NOFILE subshell');
    t.regex(run(['--root', '/nonexistent', 'delete', '--force', 'c1'], ['TSRUN_FAST=0']).main, /dist\/bun\/tsrun\.mjs$/, 'TSRUN_FAST=0: the engine runs');
    const exec = run(['--root', '/nonexistent', 'exec', 'c1', 'delete']);
    t.not(exec.nofile, '', 'exec (whose command is "delete") is not a short verb: it gets RLIMIT_NOFILE');
  },
);

needsBuild(`Bun without its copy of the bundles runs dist/tsrun.cjs; the x64 build alone is taken only on a CPU with AVX2${noBuild}`, (t) => {
  const { pkg, run } = fakeBunLayout(t, { builds: ['bun-linux-x64'], bunCopy: false });
  if (hasAvx2) {
    const r = run(['--version']);
    t.is(r.build, 'bun-linux-x64');
    t.is(path.normalize(r.main), path.join(pkg, 'dist/tsrun.cjs'));
    t.not(r.cache, '0', 'the transpiler cache is left to Bun (or placed for root)');
  } else {
    const r = spawnSync('/usr/bin/env', ['-i', `PATH=${MINIMAL_PATH}`, 'TSRUN_ENGINE=bun', path.join(pkg, 'bin/tsrun'), '--version'], { encoding: 'utf8' });
    t.is(r.status, 127);
    t.regex(r.stderr, /this CPU lacks AVX2/);
  }
});

const needsBunRoot = built && bunVersion && process.getuid?.() === 0 ? test : test.skip;
const noRoot = process.getuid?.() === 0 ? '' : ' (skipped: needs root, as `run` does)';

needsBunRoot(`Bun's copy of the bundles finds the package where it was moved after the build, not where it was built${noBun}${noRoot}`, (t) => {
  t.true(existsSync(path.join(REPO_ROOT, 'dist/bun/tsrun.mjs')), 'npm run build makes dist/bun where Bun is installed');
  const top = mkdtempSync(path.join(os.tmpdir(), 'tsrun-moved-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const pkg = path.join(top, 'pkg');
  mkdirSync(path.join(pkg, 'node_modules/@oven'), { recursive: true });
  for (const f of ['dist', 'bin', 'package.json']) t.is(spawnSync('cp', ['-a', path.join(REPO_ROOT, f), pkg]).status, 0);
  for (const b of BUN_PKGS) symlinkSync(path.join(REPO_ROOT, 'node_modules/@oven', b), path.join(pkg, 'node_modules/@oven', b));
  // The moved copy has no build/: `run` stops at loading the addon, before it makes anything, and
  // names the moved copy's addon. Bun's bundler writes the build-time path into a file as its
  // __filename; had the package root come from there, the checkout's addon would have loaded.
  const bundle = path.join(top, 'bundle');
  mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  const spec = spawnSync(path.join(pkg, 'bin/tsrun'), ['spec', '--bundle', bundle], { encoding: 'utf8' });
  t.is(spec.status, 0, spec.stderr);
  const root = path.join(top, 'root');
  const r = spawnSync(path.join(pkg, 'bin/tsrun'), ['--root', root, 'run', '--bundle', bundle, 'moved'], { encoding: 'utf8', env: { PATH: MINIMAL_PATH } });
  t.is(r.status, 1);
  t.regex(r.stderr, new RegExp(`cannot load the addon ${path.join(pkg, 'build/Release/tsrun.node').replace(/[/.]/g, '\\$&')}`));
  t.false(existsSync(path.join(root, 'moved')), 'nothing was made');
});
