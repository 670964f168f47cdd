// Where the CLI keeps Node's compile cache (src/cli/compile-cache.ts, issue 15): root's under
// /var/cache/tsrun, a user's under their XDG cache dir; a directory that is a symlink, another
// user's, or writable by others is not used.
import test from 'ava';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileCacheDir, preparePrivateDir } from '../../src/cli/compile-cache.js';

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
