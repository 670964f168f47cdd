// `run --image --network none`: a new network namespace with the loopback interface up (as
// Docker's "none" network), handed to the container by path like a CNI-made namespace.
//
// unshare(CLONE_NEWNET) and setns(CLONE_NEWNET) act on the calling thread only, and unlike user
// and mount namespaces they are allowed in a multithreaded process (unshare(2), setns(2)). So the
// Node main thread steps into a fresh namespace, keeps an fd to it, raises `lo` with
// SIOCSIFFLAGS (netdevice(7)), and steps back, all synchronously, before any other JS runs.
import { closeSync, constants, openSync, rmSync, statfsSync } from 'node:fs';
import { SyscallError } from '../errors.js';
import { lazyLibc, syscallError } from '../sys/libc.js';

const CLONE_NEWNET = 0x40000000;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

interface NetBindings {
  unshare: (flags: number) => number;
  setns: (fd: number, nstype: number) => number;
  socket: (domain: number, type: number, proto: number) => number;
  ioctl: (fd: number, req: number, arg: Buffer) => number;
  close: (fd: number) => number;
  mount: (src: string, target: string, fstype: string | null, flags: number, data: string | null) => number;
  umount2: (target: string, flags: number) => number;
}

const bindings = lazyLibc<NetBindings>((f) => ({
  unshare: f('int unshare(int flags)'),
  setns: f('int setns(int fd, int nstype)'),
  socket: f('int socket(int domain, int type, int protocol)'),
  ioctl: f('int ioctl(int fd, unsigned long req, void *arg)'),
  close: f('int close(int fd)'),
  mount: f('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: f('int umount2(const char *target, int flags)'),
}));

/** Bring up `lo` in the calling thread's network namespace. */
function loopbackUp(b: ReturnType<typeof bindings>): void {
  const s = b.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw syscallError('socket', b.errno());
  try {
    const ifr = Buffer.alloc(40); // struct ifreq: char ifr_name[16]; short ifr_flags; …
    ifr.write('lo', 0, 'latin1');
    ifr.writeInt16LE(IFF_UP | IFF_RUNNING, 16);
    if (b.ioctl(s, SIOCSIFFLAGS, ifr) < 0) throw syscallError('ioctl(SIOCSIFFLAGS)', b.errno(), 'lo');
  } finally {
    b.close(s);
  }
}

/**
 * A new network namespace holding only `lo`, up. Returns an fd to it (the caller closes it once
 * the container has joined) and a path the runtime can open while that fd is open.
 */
export function createLoopbackNetns(): { fd: number; path: string } {
  const b = bindings();
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    if (b.unshare(CLONE_NEWNET) < 0) throw syscallError('unshare(CLONE_NEWNET)', b.errno());
    let fd = -1;
    let failure: unknown;
    try {
      fd = openSync('/proc/thread-self/ns/net', 'r');
      loopbackUp(b);
    } catch (err) {
      if (fd >= 0) closeSync(fd);
      failure = err;
    }
    if (b.setns(home, CLONE_NEWNET) < 0) {
      // The main thread would stay in the wrong namespace: nothing sane can follow.
      throw syscallError('setns', b.errno(), undefined, { context: 'return to the host network namespace', cause: failure });
    }
    if (failure) throw failure;
    return { fd, path: `/proc/${process.pid}/fd/${fd}` };
  } finally {
    closeSync(home);
  }
}

const MS_BIND = 0x1000;
const MNT_DETACH = 2;
const EINVAL = 22;
const ENOENT = 2;
/** statfs(2) f_type of nsfs, the file system of /proc/<pid>/ns/* (linux/magic.h NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673;

/** Whether `file` is a namespace file (a bind mount of one, or /proc/<pid>/ns/net itself). */
export function isNetnsFile(file: string): boolean {
  try {
    return Number(statfsSync(file).type) === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * A new network namespace with `lo` up, kept alive by a bind mount on `file` (as `ip netns add`
 * does), so that it outlives the container's processes: the CNI plugins' DEL can then still find
 * the container's interface and release everything (the bridge plugin tears down its masquerade
 * rules only when it finds the interface). `file` is created with O_EXCL|O_NOFOLLOW; one that is
 * already a pinned namespace is kept (idempotent). unpinNetns undoes it.
 */
export function pinNetns(file: string): void {
  if (isNetnsFile(file)) return;
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
  } catch (err) {
    // A plain file left by a pin cut short is ours to reuse; anything else (a symlink) is refused.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'open', path: file });
    closeSync(openSync(file, constants.O_WRONLY | constants.O_NOFOLLOW));
  }
  const b = bindings();
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    if (b.unshare(CLONE_NEWNET) < 0) throw syscallError('unshare(CLONE_NEWNET)', b.errno());
    let failure: unknown;
    try {
      if (b.mount('/proc/thread-self/ns/net', file, null, MS_BIND, null) < 0) throw syscallError('mount', b.errno(), file);
      loopbackUp(b);
    } catch (err) {
      failure = err;
    }
    if (b.setns(home, CLONE_NEWNET) < 0) {
      throw syscallError('setns', b.errno(), undefined, { context: 'return to the host network namespace', cause: failure });
    }
    if (failure) {
      unpinNetns(file);
      throw failure;
    }
  } finally {
    closeSync(home);
  }
}

/** Unmounts a namespace pinned by pinNetns and removes its file; nothing there is not an error. */
export function unpinNetns(file: string): void {
  const b = bindings();
  // MNT_DETACH: a process that still holds the namespace (a container being killed) keeps it alive
  // on its own; the pin goes now.
  while (isNetnsFile(file)) {
    if (b.umount2(file, MNT_DETACH) < 0) {
      const e = b.errno();
      if (e === EINVAL || e === ENOENT) break;
      throw syscallError('umount2', e, file);
    }
  }
  rmSync(file, { force: true });
}

/**
 * Moves the calling thread (Node's main thread) into the network namespace at `file` and returns
 * the way back. Processes spawned from the main thread (the CNI plugins, iptables) and sockets it
 * opens are then in that namespace: how a test or a tool runs tsrun's networks in a namespace of
 * its own, leaving the host's interfaces, routes and firewall alone.
 */
export function enterNetns(file: string): () => void {
  const b = bindings();
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(file, 'r');
  try {
    if (b.setns(target, CLONE_NEWNET) < 0) throw syscallError('setns', b.errno(), file);
  } catch (err) {
    closeSync(home);
    throw err;
  } finally {
    closeSync(target);
  }
  return () => {
    try {
      if (b.setns(home, CLONE_NEWNET) < 0) throw syscallError('setns', b.errno(), undefined, { context: 'return to the original network namespace' });
    } finally {
      closeSync(home);
    }
  };
}
