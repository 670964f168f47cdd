// Placement of the container in the cgroup v2 (unified) hierarchy: cgroupsPath resolution as
// runc's fs2 driver does it, creation, CLONE_INTO_CGROUP fd, freeze and kill, removal.
// This host may be hybrid (v1 controllers elsewhere): tsrun never touches a v1 hierarchy.
// Resource limits are applied by controllers.ts through a Manager (manager.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { closeSync, type Dirent, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync, constants } from 'node:fs';
import path from 'node:path';
import { CgroupError } from '../errors.js';
import { writeExisting } from './files.js';

let unifiedRoot: string | null | undefined;

/** statfs(2) f_type of a path, undefined when it cannot be stat'ed (absent, no permission). */
export type FsTypeOf = (p: string) => number | undefined;

/** CGROUP2_SUPER_MAGIC (linux/magic.h). */
export const CGROUP2_SUPER_MAGIC = 0x63677270;

function statfsType(p: string): number | undefined {
  try {
    return statfsSync(p).type;
  } catch {
    return undefined;
  }
}

/**
 * Where the cgroup2 hierarchy is, decided as runc does (cgroups.IsCgroup2UnifiedMode and
 * fs2's UnifiedMountpoint): /sys/fs/cgroup when it is a cgroup2 filesystem, else
 * /sys/fs/cgroup/unified when that is one (a hybrid host), else none. mountinfo is not read:
 * a cgroup2 mounted over /sys/fs/cgroup hides an older one that mountinfo still lists first
 * (issue 13), and the path that resolves is the one that counts.
 */
export function findUnifiedMount(fsType: FsTypeOf = statfsType): string | null {
  if (fsType('/sys/fs/cgroup') === CGROUP2_SUPER_MAGIC) return '/sys/fs/cgroup';
  if (fsType('/sys/fs/cgroup/unified') === CGROUP2_SUPER_MAGIC) return '/sys/fs/cgroup/unified';
  return null;
}

/** Mount point of the cgroup2 hierarchy (findUnifiedMount, cached), or null when there is none. */
export function unifiedMount(): string | null {
  if (unifiedRoot === undefined) unifiedRoot = findUnifiedMount();
  return unifiedRoot;
}

/** This process's own v2 cgroup ("0::/path" in /proc/self/cgroup). */
export function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : '/';
}

/**
 * runc utils.CleanPath: a relative path is cleaned as if it hung from "/", so no "..", however
 * many, can climb above the directory it is later joined to; an absolute one is only cleaned
 * ("/../x" is "/x"). Returns "" for a relative path that names nothing below ("", ".", "a/..").
 */
export function cleanCgroupPath(p: string): string {
  if (!p) return '';
  if (path.posix.isAbsolute(p)) return path.posix.normalize(p).replace(/(.)\/+$/, '$1');
  return path.posix.relative('/', path.posix.normalize(`/${p}`));
}

/**
 * runc fs2 defaultDirPath: an absolute cgroupsPath is taken from the hierarchy's root; a relative
 * one (or the container id when cgroupsPath is empty) nests under the caller's own cgroup, or
 * under its parent when that is a systemd scope, which already holds processes. Both are cleaned
 * first (cleanCgroupPath), so ".." cannot leave the hierarchy, nor a relative path the caller's
 * cgroup; a path that names the hierarchy's root or the caller's cgroup itself is refused: the
 * container's device filter and limits would land on processes that are not the container's
 * (issue 13: "../../.." reached the root).
 */
export function cgroupDirFor(root: string, cgroupsPath: string | undefined, id: string, own: () => string = ownCgroup): string {
  const inner = cgroupsPath || id;
  if (inner.includes('\0')) throw new CgroupError(`invalid cgroupsPath ${JSON.stringify(inner)}`);
  const clean = cleanCgroupPath(inner);
  let dir: string;
  if (path.posix.isAbsolute(clean)) {
    if (clean === '/') throw new CgroupError(`cgroupsPath ${JSON.stringify(inner)} names the root of the cgroup hierarchy`);
    dir = path.posix.join(root, clean);
  } else {
    if (!clean) throw new CgroupError(`cgroupsPath ${JSON.stringify(inner)} names no cgroup below the caller's (${own()})`);
    let base = own();
    if (base.endsWith('.scope')) base = path.posix.dirname(base);
    dir = path.posix.join(root, cleanCgroupPath(base.startsWith('/') ? base : `/${base}`), clean);
  }
  if (dir === root || !dir.startsWith(root.endsWith('/') ? root : `${root}/`)) throw new CgroupError(`cgroupsPath ${inner} leaves the cgroup hierarchy`);
  return dir;
}

export interface CgroupPlacement {
  dir: string;
  /** Directories this call created, outermost first: removed again on delete. */
  created: string[];
  /** O_DIRECTORY fd for CLONE_INTO_CGROUP; the caller closes it. */
  fd: number;
}

/**
 * Enables in `dir`'s cgroup.subtree_control every controller it has, so its children get them
 * (runc fs2 CreateCgroupPath). One at a time when the batch fails: a controller may be refused
 * (threaded subtree, processes in an inner node), and the resource that needs it is reported by
 * name when it is set, not here.
 */
export function enableControllers(dir: string): void {
  let have: string[];
  let enabled: string[];
  try {
    have = readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
    enabled = readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return;
  }
  const missing = have.filter((c) => !enabled.includes(c));
  if (!missing.length) return;
  const file = path.join(dir, 'cgroup.subtree_control');
  try {
    writeExisting(file, missing.map((c) => `+${c}`).join(' '));
  } catch {
    for (const c of missing) {
      try {
        writeExisting(file, `+${c}`);
      } catch {
        /* reported by the resource that needs it */
      }
    }
  }
}

/** Creates dir and its missing parents; `root` is the hierarchy's mount point (never made). */
export async function createCgroup(dir: string, root: string = unifiedMount() ?? path.dirname(dir)): Promise<CgroupPlacement> {
  const created: string[] = [];
  const parts: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    parts.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of parts) {
    try {
      mkdirSync(d);
      created.push(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        await removeCgroup(created);
        throw new CgroupError(`create cgroup ${d}: ${(err as Error).message}`, { cause: err });
      }
    }
    // Ancestors inside the hierarchy pass their controllers down (made first, if missing).
    if (d !== dir && (d === root || d.startsWith(root + '/'))) enableControllers(d);
  }
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  return { dir, created, fd };
}

/** The fallback when CLONE_INTO_CGROUP was refused. */
export function addProcess(dir: string, pid: number): void {
  try {
    writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (err) {
    throw new CgroupError(`add pid ${pid} to cgroup ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** Every process of the cgroup and its descendants (runc GetAllPids), the cgroup's own first. */
export function listPids(dir: string): number[] {
  const out: number[] = [];
  try {
    out.push(...readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
  } catch {
    return out;
  }
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...listPids(path.join(dir, e.name)));
  } catch {
    /* removed meanwhile */
  }
  return out;
}

/** cgroup.kill (Linux 5.14) SIGKILLs every process in the subtree at once. */
export function killAll(dir: string): boolean {
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
    return true;
  } catch {
    return false;
  }
}

/** rmdir that waits briefly for exiting processes (EBUSY); false when it is not empty or still busy. */
async function rmdirCgroup(d: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(d);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code === 'EBUSY' && attempt < 50) {
        await sleep(10);
        continue;
      }
      if (code === 'ENOTEMPTY' || code === 'EBUSY') return false;
      throw new CgroupError(`remove cgroup ${d}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * Removes every cgroup below `dir`, bottom-up (runc cgroups.RemovePath): the container may have
 * made child cgroups of its own (a nested runtime, systemd inside), and those would otherwise
 * keep its cgroup, and themselves, alive after delete (issue 13). Only directories: the
 * interface files of a cgroup go with its rmdir.
 */
async function removeSubtree(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CgroupError(`remove cgroup ${dir}: ${(err as Error).message}`, { cause: err });
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const child = path.join(dir, e.name);
    await removeSubtree(child);
    if (!(await rmdirCgroup(child))) throw new CgroupError(`remove cgroup ${child}: it still holds processes`);
  }
}

/**
 * Removes the created directories, innermost first; waits briefly for exiting processes. The
 * container's own cgroup `dir`, when tsrun made it, goes with everything below it; a directory
 * above it that is not empty (another container's sibling) stays, as does any directory tsrun
 * did not create (a shared cgroup named by an absolute cgroupsPath keeps its children).
 */
export async function removeCgroup(created: readonly string[], dir?: string): Promise<void> {
  const order = [...created].reverse();
  if (dir !== undefined && order[0] === dir) await removeSubtree(dir);
  for (const d of order) if (!(await rmdirCgroup(d))) return; // shared with others: leave it
}

export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* closed */
  }
}
