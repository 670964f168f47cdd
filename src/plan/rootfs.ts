// The container's root filesystem as plan ops: mounts, devices, /dev symlinks, pivot_root.
// Every target is resolved inside the rootfs by the child (openat2 RESOLVE_IN_ROOT) and mounted
// through its fd, so neither "../" nor a symlink in a hostile bundle can make a mount land on the
// host (runtime-spec config.md "Mounts"; CVE-2021-30465).
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { InvalidSpecError } from '../errors.js';
import { EXT_COPYUP, MS, parseMountOptions, type ParsedMountOptions } from '../spec/mount-options.js';
import type { LinuxDevice, Mount, Spec } from '../spec/types.js';
import { MountHow, Op, NONE, Resolve, Sync } from './opcodes.js';
import type { PlanBuilder } from './plan-builder.js';
import { emitIdmapAttach, type IdmapMount } from './idmap.js';

export const ROOT_SLOT = 0;
const TARGET_SLOT = 1;

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** runc's default devices (libcontainer/specconv AllowedDevices), created in a fresh /dev. */
export const DEFAULT_DEVICES: LinuxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

const DEV_SYMLINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

export interface RootfsContext {
  bundle: string;
  rootfs: string;
  /** A new user namespace: device nodes cannot be made, host devices are bind-mounted. */
  userns: boolean;
  /** New network namespace: sysfs can be mounted fresh. */
  netns: boolean;
  /** New cgroup namespace: cgroup2 is mounted fresh, rooted at the container's cgroup. */
  cgroupns: boolean;
  /** The container's cgroup directory on the host, when it has one. */
  cgroupDir?: string;
  noPivot: boolean;
  /**
   * A bind source the container's root cannot open is opened by the parent (a user namespace and a
   * root parent: the host's root can reach what the mapped root cannot).
   */
  hostSources?: boolean;
  /** Idmapped bind mounts, prepared earlier in the plan (src/plan/idmap.ts). */
  idmaps?: ReadonlyMap<Mount, IdmapMount>;
  /** Ops to run with the rootfs ready, before pivot_root (hooks). */
  beforePivot?: () => void;
}

function rel(dest: string): string {
  return dest.replace(/^\/+/, '');
}

function bindSource(bundle: string, m: Mount): string {
  const src = m.source ?? '';
  return path.isAbsolute(src) ? src : path.join(bundle, src);
}

/** Mounts, cwd, devices and symlinks, then the pivot. `devFresh` tells whether /dev is ours. */
export function emitRootfs(b: PlanBuilder, spec: Spec, ctx: RootfsContext): void {
  // runc HEAD prepareRoot: "/" takes rootfsPropagation exactly as given (rslave, recursive, when
  // none is); the mount holding the rootfs is made private (slave for a slave propagation), so the
  // rootfs bind neither propagates out nor meets a shared or unbindable parent (pivot_root and the
  // bind refuse those); a shared or unbindable propagation is applied to the new "/" after the pivot.
  const configured = spec.linux?.rootfsPropagation;
  const propagation = parseMountOptions(configured ? [configured] : []).propagation;
  const rootProp = propagation[0] ?? MS.SLAVE | MS.REC;
  b.op(`make / ${configured ?? 'rslave'}`, Op.MOUNT, NONE, b.str('/'), NONE, rootProp, NONE, NONE);
  const parentProp = configured && rootProp & MS.SLAVE ? MS.SLAVE : MS.PRIVATE;
  const real = realRootfs(ctx.rootfs);
  b.op(
    `make the mount holding ${real} ${parentProp === MS.SLAVE ? 'slave' : 'private'}`,
    Op.MOUNT,
    NONE,
    b.str(real),
    NONE,
    parentProp,
    NONE,
    NONE,
    MountHow.WALK_UP,
  );
  b.op(`bind the rootfs ${ctx.rootfs} onto itself`, Op.MOUNT, b.str(ctx.rootfs), b.str(ctx.rootfs), NONE, MS.BIND | MS.REC, NONE, NONE);
  b.op(`open the rootfs ${ctx.rootfs}`, Op.OPEN_PATH, ROOT_SLOT, b.str(ctx.rootfs));

  const problems: string[] = [];
  let devFresh = false;
  const mounts = spec.mounts ?? [];
  const readonlyLater: ReadonlyLater[] = [];
  for (const [i, m] of mounts.entries()) {
    try {
      const later = emitMount(b, m, ctx, mounts.slice(i + 1));
      if (later) readonlyLater.push(later);
      if (path.posix.normalize(m.destination) === '/dev' && m.type === 'tmpfs') devFresh = true;
    } catch (err) {
      problems.push(`mounts[${i}] (${m.destination}): ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new InvalidSpecError(problems);

  if (devFresh) {
    for (const d of [...DEFAULT_DEVICES, ...(spec.linux?.devices ?? [])]) emitDevice(b, d, ctx);
    for (const [target, link] of DEV_SYMLINKS) {
      b.op(`symlink ${link} -> ${target}`, Op.SYMLINK, ROOT_SLOT, b.str(target), b.str(rel(link)));
    }
    if (existsSync('/proc/kcore')) b.op('symlink /dev/core -> /proc/kcore', Op.SYMLINK, ROOT_SLOT, b.str('/proc/kcore'), b.str('dev/core'));
  } else {
    for (const d of spec.linux?.devices ?? []) emitDevice(b, d, ctx);
  }

  // runc creates a missing cwd inside the rootfs (rootfs_linux.go createCwd).
  const cwd = spec.process?.cwd;
  if (cwd && cwd !== '/') b.op(`create cwd ${cwd}`, Op.RESOLVE, TARGET_SLOT, ROOT_SLOT, b.str(rel(cwd)), Resolve.MKDIR);
  b.op('close mount target', Op.CLOSE_SLOT, TARGET_SLOT);
  ctx.beforePivot?.();

  // runc msMoveRoot: the host's full proc and sysfs mounts (outside the rootfs, as mountinfo
  // names it: the real path) are detached before the move.
  if (ctx.noPivot) b.op(`move ${ctx.rootfs} to / and chroot`, Op.MOVE_CHROOT, ROOT_SLOT, b.str(real));
  else b.op(`pivot_root ${ctx.rootfs}`, Op.PIVOT_ROOT, ROOT_SLOT);
  b.op('close rootfs', Op.CLOSE_SLOT, ROOT_SLOT);
  if (configured && !(rootProp & (MS.PRIVATE | MS.SLAVE)))
    b.op(`make / ${configured} (after the pivot)`, Op.MOUNT, NONE, b.str('/'), NONE, rootProp, NONE, NONE);

  // runc finalizeRootfs: a read-only /dev (or a read-only mount with mounts below it) was made
  // read-write so that its submounts and devices could be made; it turns read-only now.
  // By path, as runc's remountReadonly: after the pivot a path resolves inside the container's root
  // only, and the container's /proc (for a /proc/self/fd target) may not be procfs.
  for (const r of readonlyLater) {
    const flags = r.flags | MS.BIND | MS.REMOUNT | MS.RDONLY;
    b.op(`remount ${r.destination} read-only`, Op.MOUNT, NONE, b.str(path.posix.normalize(r.destination)), NONE, flags, NONE, NONE, MountHow.KEEP_LOCKED);
  }
}

/** A read-only mount made read-write until its submounts exist (runc: /dev, in finalizeRootfs). */
interface ReadonlyLater {
  destination: string;
  /** Its other MS_* flags (nosuid, noexec, …), kept by the remount. */
  flags: number;
}

function isBelow(dest: string, dir: string): boolean {
  const d = path.posix.normalize(dir).replace(/\/+$/, '');
  return path.posix.normalize(dest).startsWith(`${d}/`);
}

function emitMount(b: PlanBuilder, m: Mount, ctx: RootfsContext, later: readonly Mount[]): ReadonlyLater | undefined {
  const opts = parseMountOptions(m.options);
  const idmap = ctx.idmaps?.get(m);
  // Making the mount without its mapping would give the container other owners than asked for.
  if (!idmap && (opts.idmap || m.uidMappings !== undefined || m.gidMappings !== undefined)) {
    throw new Error('id-mapped mount was not prepared (planIdmapMounts must run first)');
  }
  const dest = rel(m.destination);
  let ret: ReadonlyLater | undefined;
  let type = m.type ?? '';
  const isBind = (opts.flags & MS.BIND) !== 0 || type === 'bind';
  let source = m.source ?? type;
  const flags = opts.flags & ~(MS.BIND | MS.REC);
  let bindRec = (opts.flags & MS.REC) !== 0;
  let bind = isBind;

  if (!isBind && (type === 'cgroup' || type === 'cgroup2')) {
    // tsrun drives cgroup v2 only: the container sees the unified hierarchy, rooted at its own
    // cgroup by the cgroup namespace, or its own directory bound when it has none.
    if (ctx.cgroupns || !ctx.cgroupDir) {
      type = 'cgroup2';
      source = 'cgroup2';
    } else {
      bind = true;
      bindRec = true;
      source = ctx.cgroupDir;
    }
  } else if (!isBind && type === 'sysfs' && ctx.userns && !ctx.netns) {
    // sysfs(5) can be mounted only by the owner of the network namespace: bind the host's, as runc.
    bind = true;
    bindRec = true;
    source = '/sys';
  }

  if (bind) {
    source = source === ctx.cgroupDir || source === '/sys' ? source : bindSource(ctx.bundle, m);
    if (idmap) {
      // Prepared (opened and idmapped) before any namespace: its kind is known now.
      b.op(`create mount point ${m.destination}`, Op.RESOLVE, TARGET_SLOT, ROOT_SLOT, b.str(dest), statKind(source));
      emitIdmapAttach(b, idmap, TARGET_SLOT);
    } else {
      emitBind(b, source, m, ctx, bindRec);
    }
    // A read-only bind with mounts below it turns read-only once they exist, as a read-only /dev.
    const deferRo = (flags & MS.RDONLY) !== 0 && later.some((l) => isBelow(l.destination, m.destination));
    const nowFlags = deferRo ? flags & ~MS.RDONLY : flags;
    emitBindRemount(b, m, opts, nowFlags);
    if (deferRo) ret = { destination: m.destination, flags: nowFlags & ~PROPAGATION_FLAGS };
  } else {
    const special = type === 'proc' || type === 'sysfs';
    // runc mountPropagate: a read-only /dev, and here any read-only mount with mounts below it, is
    // made read-write and turned read-only once they exist (emitRootfs).
    const copyUp = type === 'tmpfs' && (opts.extensions & EXT_COPYUP) !== 0;
    const deferRo =
      (flags & MS.RDONLY) !== 0 && (copyUp || path.posix.normalize(m.destination) === '/dev' || later.some((l) => isBelow(l.destination, m.destination)));
    const mountFlags = deferRo ? flags & ~MS.RDONLY : flags;
    b.op(`create mount point ${m.destination}`, Op.RESOLVE, TARGET_SLOT, ROOT_SLOT, b.str(dest), Resolve.MKDIR | (special ? Resolve.NOFOLLOW : 0));
    // runc mountCgroupV2: a fresh cgroup2 refused with EPERM or EBUSY falls back to a bind of the
    // container's cgroup (the next ops, skipped when the mount works).
    const cgroupFallback = type === 'cgroup2' && ctx.cgroupDir !== undefined;
    const fallbackOps = cgroupFallback ? 1 + bindRemountOps(opts, flags) : 0;
    const how = (type === 'tmpfs' ? MountHow.TMPFS_MODE : 0) | (cgroupFallback ? MountHow.FALLBACK | (fallbackOps << MountHow.FALLBACK_SHIFT) : 0);
    const op = b.op(
      `mount ${type} on ${m.destination}`,
      Op.MOUNT,
      b.str(source || type),
      NONE,
      b.str(type),
      mountFlags,
      opts.data ? b.str(opts.data) : NONE,
      TARGET_SLOT,
      how,
    );
    if (special) b.meta[op - 1] = { fstype: type };
    // runc tmpcopyup: what the tmpfs covers is copied into it; TARGET_SLOT still holds the covered
    // directory (it was opened before the mount).
    if (copyUp) {
      b.op(`copy the content under ${m.destination} into its tmpfs`, Op.COPYUP, TARGET_SLOT, ROOT_SLOT, b.str(dest));
    }
    if (cgroupFallback) {
      const before = b.length;
      emitBind(b, ctx.cgroupDir!, m, ctx, true);
      emitBindRemount(b, m, opts, flags);
      if (b.length - before !== fallbackOps) throw new Error(`cgroup2 fallback: ${b.length - before} ops, ${fallbackOps} announced`);
    }
    if (deferRo) ret = { destination: m.destination, flags: mountFlags & ~PROPAGATION_FLAGS };
  }

  if (opts.propagation.length || opts.recAttrSet || opts.recAttrClr) {
    b.op(`reopen ${m.destination}`, Op.RESOLVE, TARGET_SLOT, ROOT_SLOT, b.str(dest), Resolve.EXISTING);
    for (const p of opts.propagation) b.op(`set propagation of ${m.destination}`, Op.MOUNT, NONE, NONE, NONE, p, NONE, TARGET_SLOT);
    if (opts.recAttrSet || opts.recAttrClr) {
      b.op(`set recursive attributes of ${m.destination}`, Op.MOUNT_SETATTR, TARGET_SLOT, opts.recAttrSet, opts.recAttrClr, 0, 1);
    }
  }
  return ret;
}

/**
 * A bind, its source resolved when the mount is made (runc mountToRootfs: in list order, so a
 * source below an earlier mount works; the mount point takes the source's kind). A user-namespaced
 * root that cannot reach the source asks the parent (SYNC_MOUNT_SOURCE, runc HEAD's procMountPlease).
 */
function emitBind(b: PlanBuilder, source: string, m: Mount, ctx: RootfsContext, rec: boolean): void {
  const op = b.op(
    `bind ${source} on ${m.destination}`,
    Op.BIND,
    b.str(source),
    ROOT_SLOT,
    b.str(rel(m.destination)),
    MS.BIND | (rec ? MS.REC : 0),
    TARGET_SLOT,
    ctx.hostSources ? Sync.MOUNT_SOURCE : NONE,
  );
  b.meta[op] = { mountSource: source };
}

/** How many ops emitBindRemount makes. */
function bindRemountOps(opts: ParsedMountOptions, flags: number): number {
  return flags & ~PROPAGATION_FLAGS || opts.clearFlags ? 2 : 0;
}

/**
 * runc HEAD: a bind is remounted to apply its options when any flag is set or cleared ("rw",
 * "dev", "suid", "exec", atime ones); a remount refused for flags locked on the source gets them
 * again (MOUNT_KEEP_LOCKED), unless the options clear one of those.
 */
function emitBindRemount(b: PlanBuilder, m: Mount, opts: ParsedMountOptions, flags: number): void {
  if (!bindRemountOps(opts, flags)) return;
  const cleared = opts.clearFlags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
  b.op(`reopen ${m.destination}`, Op.RESOLVE, TARGET_SLOT, ROOT_SLOT, b.str(rel(m.destination)), Resolve.EXISTING);
  const how = MountHow.KEEP_LOCKED | (cleared << MountHow.CLEARED_SHIFT);
  const set = flags & ~PROPAGATION_FLAGS;
  b.op(`remount ${m.destination} with ${(m.options ?? []).join(',')}`, Op.MOUNT, NONE, NONE, NONE, MS.BIND | MS.REMOUNT | set, NONE, TARGET_SLOT, how);
}

const PROPAGATION_FLAGS = MS.SHARED | MS.SLAVE | MS.PRIVATE | MS.UNBINDABLE;

/** The mount point an idmapped source needs (its tree is cloned before any namespace). */
function statKind(source: string): number {
  try {
    return statSync(source).isDirectory() ? Resolve.MKDIR : Resolve.MKFILE;
  } catch (err) {
    throw new Error(`bind source ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

function emitDevice(b: PlanBuilder, d: LinuxDevice, ctx: RootfsContext): void {
  const dest = rel(d.path);
  if (ctx.userns) {
    // mknod(2) needs CAP_MKNOD in the initial user namespace: bind the host's node instead.
    b.op(`create ${d.path}`, Op.RESOLVE, TARGET_SLOT, ROOT_SLOT, b.str(dest), Resolve.MKFILE);
    b.op(`bind ${d.path} from the host`, Op.MOUNT, b.str(d.path), NONE, NONE, MS.BIND, NONE, TARGET_SLOT);
    return;
  }
  const kind = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
  const mode = kind | ((d.fileMode ?? 0o666) & 0o7777);
  b.op(`mknod ${d.path}`, Op.MKNOD, ROOT_SLOT, b.str(dest), mode, d.major ?? 0, d.minor ?? 0, d.uid ?? 0, d.gid ?? 0);
}

function realRootfs(rootfs: string): string {
  try {
    return realpathSync(rootfs);
  } catch {
    return rootfs;
  }
}
