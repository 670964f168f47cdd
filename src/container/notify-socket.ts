// The sd_notify(3) transport: AF_UNIX datagram sockets, which Node's net and dgram modules lack.
// Plain libc calls from the parent, so koffi, loaded on first use only:
// a CLI call without NOTIFY_SOCKET never pays for it. Errors are shaped like Node's
// ({code, errno, syscall, path}).
import { closeSync, openSync, constants as fsc } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, lazyLibc } from '../sys/libc.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const O_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const SHUT_RDWR = 2;
export const POLLIN = 0x1;
/** sizeof(sun_path) in struct sockaddr_un (unix(7)). */
export const SUN_PATH_MAX = 108;
/** sd_notify(3) datagrams are small; systemd reads up to its pipe buffer, runc 4096 bytes. */
const DGRAM_MAX = 4096;

interface Libc {
  socket: (domain: number, type: number, proto: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  connect: (fd: number, addr: Buffer, len: number) => number;
  send: (fd: number, buf: Buffer, len: number, flags: number) => number;
  recv: (fd: number, buf: Buffer, len: number, flags: number) => number;
  poll: (fds: Buffer, n: number, timeout: number) => number;
  pipe2: (fds: Buffer, flags: number) => number;
  shutdown: (fd: number, how: number) => number;
}

const c = lazyLibc<Libc>((f) => ({
  socket: f('int socket(int domain, int type, int protocol)'),
  bind: f('int bind(int fd, const void *addr, uint32_t len)'),
  connect: f('int connect(int fd, const void *addr, uint32_t len)'),
  send: f('long send(int fd, const void *buf, size_t len, int flags)'),
  recv: f('long recv(int fd, _Out_ void *buf, size_t len, int flags)'),
  poll: f('int poll(_Inout_ void *fds, unsigned long n, int timeout)'),
  pipe2: f('int pipe2(_Out_ void *fds, int flags)'),
  shutdown: f('int shutdown(int fd, int how)'),
}));

export function sysError(syscall: string, errno: number, p?: string): NodeJS.ErrnoException {
  const code = errnoCode(errno);
  const err = new Error(`${syscall}${p !== undefined ? ` ${p}` : ''}: ${code}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (p !== undefined) err.path = p;
  return err;
}

function check(r: number, syscall: string, p?: string): number {
  if (r < 0) throw sysError(syscall, c().errno(), p);
  return r;
}

/**
 * struct sockaddr_un for a path, or for an abstract name when it starts with "@" (unix(7):
 * sun_path[0] is NUL and the length counts only the name; Go's net package, hence runc, reads
 * NOTIFY_SOCKET the same way, and so does sd_notify(3)).
 */
export function sockaddrUn(p: string): { addr: Buffer; len: number } {
  if (!p) throw Object.assign(new Error('empty socket path'), { code: 'EINVAL' });
  const name = Buffer.from(p, 'utf8');
  const abstract = name[0] === 0x40;
  if (abstract) name[0] = 0;
  else if (name.includes(0)) throw Object.assign(new Error(`socket path ${JSON.stringify(p)} contains a NUL byte`), { code: 'EINVAL' });
  // A path needs its terminating NUL inside sun_path; an abstract name does not.
  const need = name.length + (abstract ? 0 : 1);
  if (need > SUN_PATH_MAX) throw sysError('sockaddr_un', os.constants.errno.ENAMETOOLONG, p);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return { addr, len: 2 + name.length + (abstract ? 0 : 1) };
}

/**
 * Runs fn with an address for p. A filesystem path longer than sun_path is reached through its
 * directory's /proc/self/fd entry (a deep --root with a 64-character id can exceed 107 bytes).
 */
function withAddress<T>(p: string, fn: (a: { addr: Buffer; len: number }) => T): T {
  if (p.startsWith('@') || Buffer.byteLength(p) < SUN_PATH_MAX) return fn(sockaddrUn(p));
  const dirfd = openSync(path.dirname(p), fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    return fn(sockaddrUn(`/proc/self/fd/${dirfd}/${path.basename(p)}`));
  } finally {
    closeSync(dirfd);
  }
}

function dgramSocket(nonblock: boolean): number {
  return check(c().socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0), 'socket');
}

/** A datagram socket bound or connected at p; closed again when that fails. */
function addressedDgram(p: string, call: 'bind' | 'connect', nonblock: boolean): number {
  const fd = dgramSocket(nonblock);
  try {
    withAddress(p, (a) => check(c()[call](fd, a.addr, a.len), call, p));
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** A non-blocking datagram socket bound at p (which must not exist). */
export function bindDgram(p: string): number {
  return addressedDgram(p, 'bind', true);
}

/** A blocking datagram socket connected to p (a path or an "@abstract" name). */
export function connectDgram(p: string): number {
  return addressedDgram(p, 'connect', false);
}

export function sendDgram(fd: number, data: Buffer | string): void {
  const buf = Buffer.from(data);
  check(c().send(fd, buf, buf.length, MSG_NOSIGNAL), 'send');
}

/** Every datagram queued on a non-blocking socket, oldest first; [] when none is waiting. */
export function drainDgrams(fd: number): Buffer[] {
  const out: Buffer[] = [];
  const buf = Buffer.alloc(DGRAM_MAX);
  for (;;) {
    const r = c().recv(fd, buf, buf.length, MSG_DONTWAIT);
    if (r >= 0) {
      out.push(Buffer.from(buf.subarray(0, r)));
      continue;
    }
    const e = c().errno();
    if (e === os.constants.errno.EAGAIN || e === os.constants.errno.EWOULDBLOCK) return out;
    if (e === os.constants.errno.EINTR) continue;
    throw sysError('recv', e);
  }
}

/** poll(2) on fds for POLLIN; returns each fd's revents (0 when nothing happened). */
export function pollIn(fds: readonly number[], timeoutMs: number): number[] {
  const set = Buffer.alloc(8 * fds.length); // struct pollfd { int fd; short events; short revents; }
  fds.forEach((fd, i) => {
    set.writeInt32LE(fd, 8 * i);
    set.writeInt16LE(POLLIN, 8 * i + 4);
  });
  for (;;) {
    const r = c().poll(set, fds.length, timeoutMs);
    if (r >= 0) break;
    const e = c().errno();
    if (e !== os.constants.errno.EINTR) throw sysError('poll', e);
  }
  return fds.map((_, i) => set.readInt16LE(8 * i + 6));
}

/** pipe2(O_CLOEXEC) → [read end, write end]. */
export function pipe(): [number, number] {
  const fds = Buffer.alloc(8);
  check(c().pipe2(fds, O_CLOEXEC), 'pipe2');
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

/** Wakes every poller of a socket (unix(7): a shut-down receiver polls readable) and refuses senders. */
export function shutdownSocket(fd: number): void {
  check(c().shutdown(fd, SHUT_RDWR), 'shutdown');
}
