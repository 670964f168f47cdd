// The parent's answer to SYNC_MOUNT_SOURCE (native/child.cc OP_BIND): a bind source the container's
// root could not open (a user-namespaced root mapped to an unprivileged host uid, a source below a
// directory only the host's root may search) is opened here, as the host's root, in the child's
// mount namespace, and handed over with SCM_RIGHTS. runc does the same: 1.1.5's nsexec joins the
// container's mount namespace and opens every source O_PATH (send_mountsources); runc HEAD does it
// per mount when the init's own stat fails (procMountPlease, goCreateMountSources).
//
// This process cannot setns (it has threads), so it walks /proc/<pid>/root instead: that magic link
// is the child's root in the child's mount namespace, and openat2(RESOLVE_IN_ROOT) below it keeps
// every step (an absolute symlink included) in that namespace. The fd therefore names a mount the
// child can bind from (mount(2) refuses a source in another mount namespace).
import { closeSync, openSync } from 'node:fs';
import os from 'node:os';
import { ChildSetupError } from '../errors.js';
import type { CompiledPlan } from '../plan/plan-builder.js';
import { addon } from '../sys/addon.js';
import { lazyLibc } from '../sys/libc.js';

// <fcntl.h>, <linux/openat2.h>: the same values on x86_64 and aarch64.
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = process.arch === 'arm64' ? 0o40000 : 0o200000;
const RESOLVE_IN_ROOT = 0x10;
// __NR_openat2 is 437 on every architecture.
const NR_OPENAT2 = 437;

const c = lazyLibc<{ openat2: (nr: number, dirfd: number, path: string, how: Buffer, size: number) => number }>((f) => ({
  openat2: f('long syscall(long nr, int dirfd, const char *path, const void *how, size_t size)'),
}));

/** O_PATH fd of `source` as seen from the root of process `pid`, opened with this process's rights. */
export function openInRootOf(pid: number, source: string): number {
  const root = openSync(`/proc/${pid}/root`, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    const how = Buffer.alloc(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
    how.writeBigUInt64LE(BigInt(O_PATH | O_CLOEXEC), 0);
    how.writeBigUInt64LE(BigInt(RESOLVE_IN_ROOT), 16);
    // RESOLVE_IN_ROOT answers EAGAIN when a concurrent rename may have raced the walk (openat2(2)).
    for (let i = 0; ; i++) {
      const fd = c().openat2(NR_OPENAT2, root, source, how, how.length);
      if (fd >= 0) return fd;
      const errno = c().errno();
      if (errno !== os.constants.errno.EAGAIN || i >= 16) throw Object.assign(new Error(`openat2 ${source}`), { errno });
    }
  } finally {
    closeSync(root);
  }
}

/**
 * Answers the child's SYNC_MOUNT_SOURCE for plan op `op`: the fd comes attached to the "go" reply.
 * A source the host's root cannot open either fails the create in the op's words ("bind /x on
 * /mnt: no such file or directory").
 */
export function sendMountSource(child: { pid: number; syncFd: number }, plan: CompiledPlan, op: number, describe: (errno: number) => ChildSetupError): void {
  const source = (plan.meta[op] as { mountSource?: string } | undefined)?.mountSource;
  if (source === undefined) throw describe(os.constants.errno.EINVAL);
  let fd: number;
  try {
    fd = openInRootOf(child.pid, source);
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    throw describe(typeof errno === 'number' ? Math.abs(errno) : os.constants.errno.EIO);
  }
  try {
    addon().sendFd(child.syncFd, fd, '\0\0\0\0');
  } finally {
    closeSync(fd);
  }
}
