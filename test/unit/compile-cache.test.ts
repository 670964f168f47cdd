// Where the CLI keeps Node's compile cache (src/cli/compile-cache.ts, issue 15): root's under
// /var/cache/tsrun, a user's under their XDG cache dir; a directory that is a symlink, another
// user's, or writable by others is not used.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { Module, createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { cacheOwnBundles, compileCacheDir, preparePrivateDir } from '../../src/cli/compile-cache.js';
import { REPO_ROOT } from '../helpers/rootfs.js';

const euid = process.geteuid!();

function tempDir(t: import('ava').ExecutionContext): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'tsrun-compile-cache-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('root caches in /var/cache/tsrun/node, a user under XDG_CACHE_HOME or ~/.cache', (t) => {
  t.is(compileCacheDir(0, { HOME: '/root', XDG_CACHE_HOME: '/tmp/x' }), '/var/cache/tsrun/node');
  t.is(compileCacheDir(1000, { HOME: '/home/u', XDG_CACHE_HOME: '/home/u/.xdg' }), '/home/u/.xdg/tsrun/node');
  t.is(compileCacheDir(1000, { HOME: '/home/u', XDG_CACHE_HOME: 'rel/dir' }), '/home/u/.cache/tsrun/node', 'a relative XDG_CACHE_HOME is ignored');
  t.is(compileCacheDir(1000, { HOME: '/home/u' }), '/home/u/.cache/tsrun/node');
  t.is(compileCacheDir(1000, {}), undefined, 'no home, no cache');
  t.is(compileCacheDir(1000, { HOME: 'relative' }), undefined);
});

test('the cache dir and its parent are made 0700 and accepted', (t) => {
  const base = tempDir(t);
  const dir = path.join(base, 'tsrun', 'node');
  t.true(preparePrivateDir(dir, euid));
  for (const d of [path.dirname(dir), dir]) t.is(statSync(d).mode & 0o777, 0o700, d);
  t.true(preparePrivateDir(dir, euid), 'existing private dirs are accepted again');
});

test('a symlinked, shared or foreign cache dir is refused', (t) => {
  const base = tempDir(t);
  // A symlink where tsrun's dir should be: not followed, nothing made through it.
  const elsewhere = path.join(base, 'elsewhere');
  mkdirSync(elsewhere, { mode: 0o700 });
  mkdirSync(path.join(base, 'a'));
  symlinkSync(elsewhere, path.join(base, 'a', 'tsrun'));
  t.false(preparePrivateDir(path.join(base, 'a', 'tsrun', 'node'), euid));
  t.false(existsSync(path.join(elsewhere, 'node')));
  // Writable by the group or others: someone else could plant code there.
  mkdirSync(path.join(base, 'b', 'tsrun'), { recursive: true });
  chmodSync(path.join(base, 'b', 'tsrun'), 0o777);
  t.false(preparePrivateDir(path.join(base, 'b', 'tsrun', 'node'), euid));
  // Another user's.
  const foreign = path.join(base, 'c', 'tsrun');
  mkdirSync(foreign, { recursive: true, mode: 0o700 });
  if (euid === 0) {
    chownSync(foreign, 65534, 65534);
    t.false(preparePrivateDir(path.join(foreign, 'node'), euid));
  } else {
    t.false(preparePrivateDir(path.join(foreign, 'node'), euid + 1), 'owned by another uid than the caller');
  }
});

/** A loader like Node's CJS one, on its own extension table (the test process's is left alone). */
function loader(fallback: (m: { exports: unknown }, f: string) => void = () => {}) {
  return {
    _extensions: { '.js': fallback } as Record<string, (m: { exports: unknown }, f: string) => void>,
    wrap: (Module as unknown as { wrap(s: string): string }).wrap,
    createRequire,
  };
}

function load(l: ReturnType<typeof loader>, file: string): Record<string, unknown> {
  const m = { exports: {} as Record<string, unknown> };
  l._extensions['.cjs'](m, file);
  return m.exports;
}

test('Node 20: an own bundle runs from V8 cached data made by the run before; a cache file that is a symlink is not read', (t) => {
  const base = tempDir(t);
  const bundle = path.join(base, 'dist', 'verbs', 'demo.cjs');
  mkdirSync(path.dirname(bundle), { recursive: true });
  writeFileSync(bundle, 'exports.answer = () => 42; exports.dir = __dirname; exports.sep = require("node:path").sep;\n');
  const cache = path.join(base, 'cache');
  mkdirSync(cache, { mode: 0o700 });

  const first = cacheOwnBundles(loader(), cache, euid);
  const l1 = loader();
  const c1 = cacheOwnBundles(l1, cache, euid);
  const e1 = load(l1, bundle);
  t.is((e1.answer as () => number)(), 42);
  t.is(e1.dir, path.dirname(bundle));
  t.is(e1.sep, '/');
  t.deepEqual(c1.used, [], 'no cache yet');
  c1.flush();
  first.flush();
  const made = readdirSync(cache);
  t.is(made.length, 1, made.join(' '));
  t.regex(made[0], new RegExp(`^demo-[0-9a-f]{8}-\\d+-\\d+-${process.version.replace(/\./g, '\\.')}\\.v8$`));
  t.is(statSync(path.join(cache, made[0])).mode & 0o777, 0o600);

  const l2 = loader();
  const c2 = cacheOwnBundles(l2, cache, euid);
  t.is((load(l2, bundle).answer as () => number)(), 42);
  t.deepEqual(c2.used, [path.join(cache, made[0])], 'the cached data was accepted');

  // The cache file swapped for a symlink to a copy: not followed.
  renameSync(path.join(cache, made[0]), path.join(base, 'moved.v8'));
  symlinkSync(path.join(base, 'moved.v8'), path.join(cache, made[0]));
  const l3 = loader();
  const c3 = cacheOwnBundles(l3, cache, euid);
  t.is((load(l3, bundle).answer as () => number)(), 42);
  t.deepEqual(c3.used, []);
});

test('a .cjs that is not one of the CLI bundles loads through the usual loader', (t) => {
  const base = tempDir(t);
  const other = path.join(base, 'lib', 'other.cjs');
  const seen: string[] = [];
  const l = loader((_m, f) => seen.push(f));
  cacheOwnBundles(l, base, euid);
  load(l, other);
  t.deepEqual(seen, [other]);
});

const cli = path.join(REPO_ROOT, 'dist/tsrun.cjs');
const node20Root = euid === 0 && typeof (Module as unknown as { enableCompileCache?: unknown }).enableCompileCache !== 'function' && existsSync(cli);
(node20Root ? test : test.skip)(
  `the CLI on Node 20 as root keeps its verb's cached data in /var/cache/tsrun/node${node20Root ? '' : ' (skipped: needs root, Node 20 and dist/)'}`,
  (t) => {
    // A copy of the entry and the list verb (others may rebuild dist/ meanwhile); its cache file goes with it.
    const base = tempDir(t);
    const root = path.join(base, 'root');
    mkdirSync(path.join(base, 'dist', 'verbs'), { recursive: true });
    copyFileSync(cli, path.join(base, 'dist', 'tsrun.cjs'));
    copyFileSync(path.join(REPO_ROOT, 'dist/verbs/list.cjs'), path.join(base, 'dist', 'verbs', 'list.cjs'));
    const st = statSync(path.join(base, 'dist', 'verbs', 'list.cjs'), { bigint: true });
    const ours = (f: string) => /^list-[0-9a-f]{8}-/.test(f) && f.endsWith(`-${st.size}-${st.mtimeNs}-${process.version}.v8`);
    t.teardown(() => {
      for (const f of readdirSync('/var/cache/tsrun/node').filter(ours)) rmSync(path.join('/var/cache/tsrun/node', f), { force: true });
    });
    const run = () =>
      spawnSync(process.execPath, [path.join(base, 'dist', 'tsrun.cjs'), '--root', root, 'list', '--format', 'json'], { encoding: 'utf8', timeout: 60_000 });
    const a = run();
    const b = run();
    t.is(a.status, 0, a.stderr);
    t.is(b.stdout, a.stdout);
    t.is(b.stdout, 'null\n');
    const files = readdirSync('/var/cache/tsrun/node').filter(ours);
    t.is(files.length, 1, readdirSync('/var/cache/tsrun/node').join(' '));
    t.is(statSync('/var/cache/tsrun/node').mode & 0o777, 0o700);
  },
);
