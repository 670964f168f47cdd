// A temporary directory on a filesystem that takes user.* extended attributes.
// tmpfs accepts user.* only since Linux 6.6 (mm/shmem.c, "shmem: add support for user extended
// attributes"): on older kernels, where /tmp is a tmpfs (as in the test VM, kernel 6.1),
// setxattr("user.x") fails with EOPNOTSUPP, so tests that check user.* xattrs end to end put their
// files where the kernel keeps them (/var/tmp is on the root filesystem on Debian).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { errnoCodeOf } from '../../src/errors.js';
import { lsetxattr } from '../../src/image/fsx.js';

const cache = new Map<string, boolean>();

/** Whether files in dir (an existing directory) can carry user.* xattrs. */
export function takesUserXattrs(dir: string): boolean {
  const known = cache.get(dir);
  if (known !== undefined) return known;
  let ok = false;
  const probe = fs.mkdtempSync(path.join(dir, '.tsrun-xattr-probe-'));
  try {
    const f = path.join(probe, 'f');
    fs.writeFileSync(f, '');
    lsetxattr(f, 'user.tsrun.probe', Buffer.from('1'));
    ok = true;
  } catch (err) {
    const code = errnoCodeOf(err);
    if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
  cache.set(dir, ok);
  return ok;
}

/** The first of os.tmpdir() and /var/tmp whose filesystem takes user.* xattrs, or undefined. */
export function userXattrTmpRoot(): string | undefined {
  for (const d of [os.tmpdir(), '/var/tmp']) {
    if (fs.existsSync(d) && takesUserXattrs(d)) return d;
  }
  return undefined;
}

/**
 * A fresh directory (removed at teardown) on a filesystem that keeps user.* xattrs; when there is
 * none, one under os.tmpdir() and `userXattrs: false`, which the caller must check and log.
 */
export function xattrTmpDir(t: ExecutionContext, prefix: string): { dir: string; userXattrs: boolean } {
  const root = userXattrTmpRoot();
  const dir = fs.mkdtempSync(path.join(root ?? os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, userXattrs: root !== undefined };
}
