// The container rootfs as an overlayfs mount in the host mount namespace: the image's unpacked
// layers as lower dirs (top layer first), a per-container upper and work dir.
//
// Mount data of mount(2) is one page (4095 bytes + NUL), and fsconfig(2) string values are cut at
// 256 bytes, so a long `lowerdir=a:b:…` fails once an image has a few dozen layers. Linux 6.8
// added `lowerdir+` (Documentation/filesystems/overlayfs.rst "Multiple lower layers"): one
// fsconfig call per layer, no length limit on the list. That is the first choice; on older
// kernels we fall back to mount(2) with the paths, and when those do not fit in a page, with
// `/proc/self/fd/N` of O_PATH fds (short, and resolved by the kernel at mount time), as
// containerd shortens them with relative paths from a common dir.
//
// Mounts are per mount namespace, not per thread: the Node process is in the host's, so a mount
// made here is what the container's new mount namespace copies.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { errnoCodeOf, ImageError } from '../errors.js';
import { lazyLibc, syscallError } from '../sys/libc.js';

// asm-generic syscall numbers, shared by x86_64 and aarch64 since Linux 5.2.
const NR_MOVE_MOUNT = 429;
const NR_FSOPEN = 430;
const NR_FSCONFIG = 431;
const NR_FSMOUNT = 432;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const AT_FDCWD = -100;
export const MNT_DETACH = 2;
const PAGE_LIMIT = 4095;

interface MountBindings {
  fsopen: (nr: number, fsname: string, flags: number) => number;
  fsconfig: (nr: number, fd: number, cmd: number, key: string | null, value: string | null, aux: number) => number;
  fsmount: (nr: number, fd: number, flags: number, attrs: number) => number;
  moveMount: (nr: number, fromFd: number, fromPath: string, toFd: number, toPath: string, flags: number) => number;
  mount: (src: string, target: string, fstype: string, flags: number, data: string | null) => number;
  umount2: (target: string, flags: number) => number;
}

/** koffi bindings, loaded on first use (only image verbs pay for them). The raw syscall with fixed
 * arguments is ABI-identical to the variadic call on x86_64/aarch64. */
export const mountBindings = lazyLibc<MountBindings>((f, lib) => ({
  fsopen: lib.func('syscall', 'long', ['long', 'str', 'uint32']) as never,
  fsconfig: lib.func('syscall', 'long', ['long', 'int', 'uint32', 'str', 'str', 'int']) as never,
  fsmount: lib.func('syscall', 'long', ['long', 'int', 'uint32', 'uint32']) as never,
  moveMount: lib.func('syscall', 'long', ['long', 'int', 'str', 'int', 'str', 'uint32']) as never,
  mount: f('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: f('int umount2(const char *target, int flags)'),
}));

export interface OverlaySpec {
  /** Lower dirs, top layer first (overlayfs order). */
  lowers: string[];
  upper?: string;
  work?: string;
  target: string;
  /** Shown as the mount source in /proc/self/mountinfo. */
  source?: string;
  /** Force the mount(2) path (tests; kernels before 6.8 take it by themselves). */
  api?: 'auto' | 'fsconfig' | 'legacy';
  readonly?: boolean;
}

/** The messages the kernel queued on an fs context fd ("e overlay: …"), for error reports. */
function contextLog(fd: number): string {
  const out: string[] = [];
  const buf = Buffer.alloc(1024);
  for (let i = 0; i < 16; i++) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      out.push(buf.subarray(0, n).toString('utf8'));
    } catch {
      break; // ENODATA: nothing (more) queued
    }
  }
  return out.join('; ');
}

function mountNewApi(s: OverlaySpec): void {
  const b = mountBindings();
  const fs = b.fsopen(NR_FSOPEN, 'overlay', FSOPEN_CLOEXEC);
  if (fs < 0) throw syscallError('fsopen', b.errno(), 'overlay');
  try {
    const set = (key: string, value: string) => {
      if (Buffer.byteLength(value) > 255) {
        throw new ImageError('TSRUN_IMAGE', `overlay ${key} path ${value} is longer than fsconfig's 255 bytes`);
      }
      if (b.fsconfig(NR_FSCONFIG, fs, FSCONFIG_SET_STRING, key, value, 0) < 0) {
        const e = syscallError('fsconfig', b.errno(), `${key}=${value}`);
        const log = contextLog(fs);
        if (log) e.message += ` (${log})`;
        throw e;
      }
    };
    set('source', s.source ?? 'overlay');
    for (const l of s.lowers) set('lowerdir+', l);
    if (s.upper) set('upperdir', s.upper);
    if (s.work) set('workdir', s.work);
    if (b.fsconfig(NR_FSCONFIG, fs, FSCONFIG_CMD_CREATE, null, null, 0) < 0) {
      const e = syscallError('fsconfig', b.errno(), 'create overlay');
      const log = contextLog(fs);
      if (log) e.message += ` (${log})`;
      throw e;
    }
    const MOUNT_ATTR_RDONLY = 1;
    const mnt = b.fsmount(NR_FSMOUNT, fs, FSMOUNT_CLOEXEC, s.readonly ? MOUNT_ATTR_RDONLY : 0);
    if (mnt < 0) throw syscallError('fsmount', b.errno(), s.target);
    try {
      if (b.moveMount(NR_MOVE_MOUNT, mnt, '', AT_FDCWD, s.target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
        throw syscallError('move_mount', b.errno(), s.target);
      }
    } finally {
      closeSync(mnt);
    }
  } finally {
    closeSync(fs);
  }
}

/** overlayfs option escaping: `\`, `,` and `:` in a path are preceded by a backslash. */
export function escapeOverlayPath(p: string): string {
  return p.replace(/[\\,:]/g, (c) => `\\${c}`);
}

/** The mount(2) data string, or undefined when it does not fit in one page. */
export function legacyMountData(lowers: string[], upper?: string, work?: string): string | undefined {
  let data = `lowerdir=${lowers.map(escapeOverlayPath).join(':')}`;
  if (upper) data += `,upperdir=${escapeOverlayPath(upper)}`;
  if (work) data += `,workdir=${escapeOverlayPath(work)}`;
  return Buffer.byteLength(data) <= PAGE_LIMIT ? data : undefined;
}

function mountLegacy(s: OverlaySpec): void {
  const b = mountBindings();
  const fds: number[] = [];
  try {
    let data = legacyMountData(s.lowers, s.upper, s.work);
    if (!data) {
      for (const l of s.lowers) fds.push(openSync(l, constants.O_RDONLY | constants.O_DIRECTORY | 0o10000000 /* O_PATH */));
      data = legacyMountData(
        fds.map((fd) => `/proc/self/fd/${fd}`),
        s.upper,
        s.work,
      );
      if (!data)
        throw new ImageError(
          'TSRUN_IMAGE',
          `overlay: ${s.lowers.length} layers do not fit in the mount data of mount(2) on this kernel (Linux 6.8+ has no limit)`,
        );
    }
    const MS_RDONLY = 1;
    if (b.mount(s.source ?? 'overlay', s.target, 'overlay', s.readonly ? MS_RDONLY : 0, data) < 0) {
      throw syscallError('mount', b.errno(), s.target);
    }
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** Mount an overlay at `s.target` in the host mount namespace. */
export function mountOverlay(s: OverlaySpec): void {
  if (s.lowers.length === 0) throw new ImageError('TSRUN_IMAGE', `overlay ${s.target}: no lower layers`);
  const api = s.api ?? 'auto';
  if (api === 'legacy') return mountLegacy(s);
  try {
    mountNewApi(s);
  } catch (err) {
    const code = errnoCodeOf(err);
    // ENOSYS: no fsopen (before 5.2). Overlayfs before 6.8 has no `lowerdir+`: some kernels refuse
    // the key, others (6.1, still on the legacy parser) take it and fail at CREATE with EINVAL.
    // A genuine error at CREATE fails again in the legacy mount, with its own words.
    if (api === 'auto' && (code === 'ENOSYS' || (code === 'EINVAL' && /lowerdir\+|create overlay/.test((err as Error).message)))) return mountLegacy(s);
    throw err;
  }
}

/** Detach the mount at target (and any stacked on it); true if something was unmounted. */
export function unmountAll(target: string): boolean {
  const b = mountBindings();
  let any = false;
  for (let i = 0; i < 64; i++) {
    if (b.umount2(target, MNT_DETACH) === 0) {
      any = true;
      continue;
    }
    const e = b.errno();
    // EINVAL: not a mount point (any more); ENOENT: gone.
    if (e === 22 || e === 2) return any;
    throw syscallError('umount2', e, target);
  }
  return any;
}

/** Whether path is a mount point in this mount namespace (per /proc/self/mountinfo). */
export function isMountPoint(path: string, mountinfo?: string): boolean {
  const text = mountinfo ?? readMountinfo();
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && unescapeMountinfo(mp) === path) return true;
  }
  return false;
}

export function readMountinfo(): string {
  const fd = openSync('/proc/self/mountinfo', 'r');
  try {
    const parts: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(parts).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
