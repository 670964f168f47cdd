// Thin koffi bindings for the *at(2) family, xattrs and flock: what layer unpacking needs and Node's
// `fs` lacks (no mknod, no xattrs, no dirfd-relative calls, no openat2). Loaded lazily, only when a
// layer is applied (koffi serves parent-side path work; nothing here runs in a child).
// Every call is synchronous and throws a SyscallError (errnoCode 'ENOENT', errno, syscall, path;
// codeOf() gives the errno name). Paths are Buffers (raw bytes from the archive) or strings (UTF-8).
import os from 'node:os';
import { errnoCodeOf, type SyscallError } from '../errors.js';
import { lazyLibc, syscallError } from '../sys/libc.js';

export type PathArg = string | Buffer;

// <fcntl.h>, <linux/openat2.h>, <sys/stat.h> on x86_64/aarch64 (asm-generic values agree).
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EMPTY_PATH = 0x1000;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_DIRECTORY = process.arch === 'arm64' ? 0o40000 : 0o200000;
export const O_NOFOLLOW = process.arch === 'arm64' ? 0o100000 : 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const XATTR_CREATE = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const UTIME_OMIT = (1 << 30) - 2;

// __NR_openat2 is 437 on every architecture (added after the syscall table unification, 5.6).
const NR_OPENAT2 = 437;

interface Bindings {
  openat2: (nr: number, dirfd: number, path: Buffer, how: Buffer, size: number) => number;
  openat: (dirfd: number, path: Buffer, flags: number, mode: number) => number;
  mkdirat: (dirfd: number, path: Buffer, mode: number) => number;
  mknodat: (dirfd: number, path: Buffer, mode: number, dev: bigint) => number;
  symlinkat: (target: Buffer, dirfd: number, path: Buffer) => number;
  linkat: (olddirfd: number, oldpath: Buffer, newdirfd: number, newpath: Buffer, flags: number) => number;
  unlinkat: (dirfd: number, path: Buffer, flags: number) => number;
  renameat2: (olddirfd: number, oldpath: Buffer, newdirfd: number, newpath: Buffer, flags: number) => number;
  fchownat: (dirfd: number, path: Buffer, uid: number, gid: number, flags: number) => number;
  fchown: (fd: number, uid: number, gid: number) => number;
  fchmodat: (dirfd: number, path: Buffer, mode: number, flags: number) => number;
  fchmod: (fd: number, mode: number) => number;
  utimensat: (dirfd: number, path: Buffer, times: Buffer, flags: number) => number;
  futimens: (fd: number, times: Buffer) => number;
  lsetxattr: (path: Buffer, name: string, value: Buffer, size: number, flags: number) => number;
  fsetxattr: (fd: number, name: string, value: Buffer, size: number, flags: number) => number;
  lgetxattr: (path: Buffer, name: string, value: Buffer | null, size: number) => number;
  fgetxattr: (fd: number, name: string, value: Buffer | null, size: number) => number;
  llistxattr: (path: Buffer, list: Buffer | null, size: number) => number;
  flock: (fd: number, op: number) => number;
  syncfs: (fd: number) => number;
  close: (fd: number) => number;
}

/** libc's *at(2) family and friends, bound on first use; the CLI's other verbs never pay for it. */
const b = lazyLibc<Bindings>((f) => ({
  // glibc 2.36 has no openat2 wrapper; the raw syscall with fixed integer/pointer arguments is
  // ABI-identical to the variadic one on x86_64 and aarch64 Linux.
  openat2: f('long syscall(long nr, int dirfd, const uint8_t *path, const void *how, size_t size)'),
  openat: f('int openat(int dirfd, const uint8_t *path, int flags, uint32_t mode)'),
  mkdirat: f('int mkdirat(int dirfd, const uint8_t *path, uint32_t mode)'),
  mknodat: f('int mknodat(int dirfd, const uint8_t *path, uint32_t mode, uint64_t dev)'),
  symlinkat: f('int symlinkat(const uint8_t *target, int dirfd, const uint8_t *path)'),
  linkat: f('int linkat(int olddirfd, const uint8_t *oldpath, int newdirfd, const uint8_t *newpath, int flags)'),
  unlinkat: f('int unlinkat(int dirfd, const uint8_t *path, int flags)'),
  renameat2: f('int renameat2(int olddirfd, const uint8_t *oldpath, int newdirfd, const uint8_t *newpath, uint32_t flags)'),
  fchownat: f('int fchownat(int dirfd, const uint8_t *path, uint32_t uid, uint32_t gid, int flags)'),
  fchown: f('int fchown(int fd, uint32_t uid, uint32_t gid)'),
  fchmodat: f('int fchmodat(int dirfd, const uint8_t *path, uint32_t mode, int flags)'),
  fchmod: f('int fchmod(int fd, uint32_t mode)'),
  utimensat: f('int utimensat(int dirfd, const uint8_t *path, const void *times, int flags)'),
  futimens: f('int futimens(int fd, const void *times)'),
  lsetxattr: f('int lsetxattr(const uint8_t *path, const char *name, const void *value, size_t size, int flags)'),
  fsetxattr: f('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)'),
  lgetxattr: f('long lgetxattr(const uint8_t *path, const char *name, _Out_ void *value, size_t size)'),
  fgetxattr: f('long fgetxattr(int fd, const char *name, _Out_ void *value, size_t size)'),
  llistxattr: f('long llistxattr(const uint8_t *path, _Out_ void *list, size_t size)'),
  flock: f('int flock(int fd, int op)'),
  syncfs: f('int syncfs(int fd)'),
  close: f('int close(int fd)'),
}));

/** A NUL-terminated copy of a path for C. */
export function cpath(p: PathArg): Buffer {
  const buf = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
  if (buf.includes(0)) throw Object.assign(new Error(`path contains a NUL byte: ${JSON.stringify(buf.toString('latin1'))}`), { code: 'EINVAL' });
  const out = Buffer.allocUnsafe(buf.length + 1);
  buf.copy(out);
  out[buf.length] = 0;
  return out;
}

function show(p: PathArg | undefined): string | undefined {
  if (p === undefined) return undefined;
  return typeof p === 'string' ? p : p.toString('utf8');
}

/** The SyscallError for a failed call: `mkdirat a/b: no such file or directory`. */
export function errnoError(syscall: string, errno: number, path?: PathArg): SyscallError {
  return syscallError(syscall, errno, show(path));
}

function check(r: number, syscall: string, path?: PathArg): number {
  if (r < 0) throw errnoError(syscall, b().errno(), path);
  return r;
}

/** The errno name of a thrown error (a SyscallError's errnoCode, a Node error's code), or undefined. */
export function codeOf(err: unknown): string | undefined {
  return errnoCodeOf(err);
}

export function openat2(dirfd: number, path: PathArg, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const c = cpath(path);
  // RESOLVE_IN_ROOT returns EAGAIN when a concurrent rename could have raced the walk
  // (openat2(2)); retrying is what the man page asks callers to do.
  for (let i = 0; ; i++) {
    const fd = b().openat2(NR_OPENAT2, dirfd, c, how, 24);
    if (fd >= 0) return fd;
    const e = b().errno();
    if (e === os.constants.errno.EAGAIN && i < 16) continue;
    const err = errnoError('openat2', e, path);
    if (e === os.constants.errno.ENOSYS) err.message += ' (openat2 needs Linux 5.6 or later, and no seccomp filter blocking it)';
    throw err;
  }
}

export function openat(dirfd: number, path: PathArg, flags: number, mode = 0): number {
  return check(b().openat(dirfd, cpath(path), flags, mode), 'openat', path);
}

export function mkdirat(dirfd: number, path: PathArg, mode: number): void {
  check(b().mkdirat(dirfd, cpath(path), mode), 'mkdirat', path);
}

/** makedev(3) as glibc encodes it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function mknodat(dirfd: number, path: PathArg, mode: number, dev: bigint = 0n): void {
  check(b().mknodat(dirfd, cpath(path), mode, dev), 'mknodat', path);
}

export function symlinkat(target: PathArg, dirfd: number, path: PathArg): void {
  check(b().symlinkat(cpath(target), dirfd, cpath(path)), 'symlinkat', path);
}

export function linkat(olddirfd: number, oldpath: PathArg, newdirfd: number, newpath: PathArg, flags = 0): void {
  check(b().linkat(olddirfd, cpath(oldpath), newdirfd, cpath(newpath), flags), 'linkat', newpath);
}

export function unlinkat(dirfd: number, path: PathArg, flags = 0): void {
  check(b().unlinkat(dirfd, cpath(path), flags), 'unlinkat', path);
}

export function renameat2(olddirfd: number, oldpath: PathArg, newdirfd: number, newpath: PathArg, flags = 0): void {
  check(b().renameat2(olddirfd, cpath(oldpath), newdirfd, cpath(newpath), flags), 'renameat2', newpath);
}

export function fchownat(dirfd: number, path: PathArg, uid: number, gid: number, flags: number): void {
  check(b().fchownat(dirfd, cpath(path), uid >>> 0, gid >>> 0, flags), 'fchownat', path);
}

export function fchown(fd: number, uid: number, gid: number): void {
  check(b().fchown(fd, uid >>> 0, gid >>> 0), 'fchown');
}

export function fchmodat(dirfd: number, path: PathArg, mode: number): void {
  check(b().fchmodat(dirfd, cpath(path), mode, 0), 'fchmodat', path);
}

export function fchmod(fd: number, mode: number): void {
  check(b().fchmod(fd, mode), 'fchmod');
}

export interface Timespec {
  sec: number;
  nsec: number;
}

/** A little-endian i64 from a safe integer, without BigInt (this runs once per entry). */
function writeI64(b: Buffer, v: number, off: number): void {
  const lo = v % 0x100000000;
  const l = lo < 0 ? lo + 0x100000000 : lo;
  b.writeUInt32LE(l, off);
  b.writeInt32LE((v - l) / 0x100000000, off + 4);
}

const times = Buffer.alloc(32); // struct timespec[2] { i64 tv_sec; i64 tv_nsec; }; calls are synchronous

function timesBuf(atime: Timespec, mtime: Timespec): Buffer {
  writeI64(times, atime.sec, 0);
  writeI64(times, atime.nsec, 8);
  writeI64(times, mtime.sec, 16);
  writeI64(times, mtime.nsec, 24);
  return times;
}

export function utimensat(dirfd: number, path: PathArg, atime: Timespec, mtime: Timespec, flags: number): void {
  check(b().utimensat(dirfd, cpath(path), timesBuf(atime, mtime), flags), 'utimensat', path);
}

export function futimens(fd: number, atime: Timespec, mtime: Timespec): void {
  check(b().futimens(fd, timesBuf(atime, mtime)), 'futimens');
}

/**
 * A path naming `name` inside the directory open as `dirfd`, for the path-only l*xattr calls:
 * /proc/self/fd/N is a magic link to the confined directory itself, and `name` is one component
 * that the l* variants do not follow. Requires /proc (true on the host, where layers are unpacked).
 */
export function procPath(dirfd: number, name: PathArg): Buffer {
  const n = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  if (n.includes(0x2f)) throw Object.assign(new Error(`not a single path component: ${show(name)}`), { code: 'EINVAL' });
  return Buffer.concat([Buffer.from(`/proc/self/fd/${dirfd}/`), n]);
}

export function lsetxattr(path: PathArg, name: string, value: Buffer, flags = 0): void {
  check(b().lsetxattr(cpath(path), name, value, value.length, flags), 'lsetxattr', path);
}

export function fsetxattr(fd: number, name: string, value: Buffer, flags = 0): void {
  check(b().fsetxattr(fd, name, value, value.length, flags), 'fsetxattr');
}

/** The value of an xattr, or undefined when the file does not have it (ENODATA). */
export function lgetxattr(path: PathArg, name: string): Buffer | undefined {
  for (;;) {
    const n = b().lgetxattr(cpath(path), name, null, 0);
    if (n < 0) {
      const e = b().errno();
      if (e === os.constants.errno.ENODATA) return undefined;
      throw errnoError('lgetxattr', e, path);
    }
    const buf = Buffer.alloc(n);
    const m = b().lgetxattr(cpath(path), name, buf, n);
    if (m >= 0) return buf.subarray(0, m);
    if (b().errno() !== os.constants.errno.ERANGE) throw errnoError('lgetxattr', b().errno(), path);
  }
}

export function fgetxattr(fd: number, name: string): Buffer | undefined {
  const buf = Buffer.alloc(65536); // XATTR_SIZE_MAX
  const n = b().fgetxattr(fd, name, buf, buf.length);
  if (n < 0) {
    const e = b().errno();
    if (e === os.constants.errno.ENODATA) return undefined;
    throw errnoError('fgetxattr', e);
  }
  return Buffer.from(buf.subarray(0, n));
}

export function llistxattr(path: PathArg): string[] {
  const buf = Buffer.alloc(65536);
  const n = check(b().llistxattr(cpath(path), buf, buf.length), 'llistxattr', path);
  return buf
    .subarray(0, n)
    .toString('latin1')
    .split('\0')
    .filter((s) => s !== '');
}

/** flock(2); with LOCK_NB returns false instead of throwing when the lock is held elsewhere. */
export function flock(fd: number, op: number): boolean {
  if (b().flock(fd, op) === 0) return true;
  const e = b().errno();
  if (e === os.constants.errno.EWOULDBLOCK && (op & LOCK_NB) !== 0) return false;
  throw errnoError('flock', e);
}

export function syncfs(fd: number): void {
  check(b().syncfs(fd), 'syncfs');
}

export function close(fd: number): void {
  b().close(fd);
}
