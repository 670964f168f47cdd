// `run --image --network none`: a new network namespace with the loopback interface up (as
// Docker's "none" network), handed to the container by path like a CNI-made namespace.
//
// unshare(CLONE_NEWNET) and setns(CLONE_NEWNET) act on the calling thread only, and unlike user
// and mount namespaces they are allowed in a multithreaded process (unshare(2), setns(2)). So the
// Node main thread steps into a fresh namespace, keeps an fd to it, raises `lo` with
// SIOCSIFFLAGS (netdevice(7)), and steps back, all synchronously, before any other JS runs.
import { closeSync, openSync } from 'node:fs';
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
}

const bindings = lazyLibc<NetBindings>((f) => ({
  unshare: f('int unshare(int flags)'),
  setns: f('int setns(int fd, int nstype)'),
  socket: f('int socket(int domain, int type, int protocol)'),
  ioctl: f('int ioctl(int fd, unsigned long req, void *arg)'),
  close: f('int close(int fd)'),
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
