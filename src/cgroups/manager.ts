// The operations engines ask of a container's cgroup, behind one interface with two drivers:
// fs (cgroup v2 directories written directly, fs2.ts) and systemd (a transient scope over D-Bus,
// systemd.ts). Callers hold a Manager, never a path, so `pause`, `update` or `events` work the
// same for either.
import type { LinuxResources } from '../spec/types.js';
import type { FreezerState } from './freezer.js';
import type { Stats } from './stats.js';
import type { CgroupPlacement } from './v2.js';

export interface CgroupRecord {
  /** The container's cgroup directory. */
  dir: string;
  /** Directories tsrun made for it, outermost first; removed on destroy. */
  created: string[];
  /** Present for the systemd driver: the transient unit that owns dir. */
  systemdUnit?: string;
}

/** What a cgroup holds before a container is placed in it (Manager.occupancy). */
export interface CgroupOccupancy {
  /** The processes in it and below. */
  pids: number[];
  /** Frozen: its own cgroup.freeze, or "frozen 1" in cgroup.events (a freeze inherited from an ancestor). */
  frozen: boolean;
}

export interface SetOptions {
  /** Install the device filter (create; update when devices are given). */
  devices?: boolean;
}

/**
 * A container's cgroup. Never null: where no cgroup v2 hierarchy is mounted the container gets the
 * `none` driver (crun's "disabled"), which places nothing and refuses what needs a cgroup. Every
 * step that may wait (D-Bus, a freeze settling, a busy rmdir) is async.
 */
export interface Manager {
  readonly driver: 'fs' | 'systemd' | 'none';
  /** The cgroup directory ('' for the none driver). */
  readonly dir: string;
  /**
   * Makes the cgroup before the init exists, and an fd for CLONE_INTO_CGROUP (the caller closes
   * it; -1 for none). fs: the directories, controllers enabled. systemd: the transient scope.
   */
  create(): Promise<CgroupPlacement>;
  /** Problems with these limits on this host (a missing controller), named; empty when fine. */
  check(resources: LinuxResources | undefined): string[];
  /** Puts a process in the cgroup, or in `sub` below it (exec --cgroup: a path relative to it). */
  apply(pid: number, sub?: string): void;
  /**
   * An O_DIRECTORY fd of the cgroup, or of `sub` below it, for an exec's CLONE_INTO_CGROUP (the
   * caller closes it); -1 for none. A `sub` that leaves the container's cgroup is refused.
   */
  openDir(sub?: string): number;
  /**
   * After the init was cloned: moves it in when CLONE_INTO_CGROUP was not used, and finishes
   * what create started (systemd: tsrun leaves the scope, then the limits are set).
   */
  placed(pid: number, intoCgroup: boolean): Promise<void>;
  /** Applies limits; fails naming the controller and the cgroup when one is missing. */
  set(resources: LinuxResources | undefined, o?: SetOptions): Promise<void>;
  /** Freezes and waits until cgroup.events says frozen (or undoes the freeze and throws). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  freezerState(): FreezerState;
  /** SIGKILLs every process at once (cgroup.kill); false when the kernel lacks it (or no cgroup). */
  killAll(): boolean;
  /**
   * Sends `signal` to every process of the cgroup and below (kill --all): SIGKILL through
   * cgroup.kill when the kernel has it, else one kill(2) per pid. False when there is no cgroup.
   */
  signalAll(signal: number): boolean;
  /** cgroup.events "populated 1": some process is in the cgroup or below (false once it is gone). */
  populated(): boolean;
  /**
   * Resolves true once the cgroup is empty, false after timeoutMs (default 10 s) or an abort. On
   * the event loop: cgroup.events is watched with inotify (the kernel notifies each change of
   * "populated", cgroup-v2.rst "Core Interface Files"). The none driver resolves at once.
   */
  waitEmpty(o?: { timeoutMs?: number; signal?: AbortSignal }): Promise<boolean>;
  /** memory.events oom_kill: OOM kills so far (0 without the memory controller). */
  oomKills(): number;
  /** Calls onChange whenever memory.events changes (inotify); returns the function that stops it. */
  watchMemoryEvents(onChange: () => void): () => void;
  /** Every pid in the cgroup and below. */
  pids(): number[];
  /**
   * What is in the cgroup already (runc libcontainer Create checks it before placing the init: a
   * frozen cgroup would hold the init for ever, and processes there are not the container's).
   * Nothing for a cgroup that does not exist, and for the none driver.
   */
  occupancy(): CgroupOccupancy;
  stats(): Stats;
  /** Removes what create made (the unit, the directories); the cgroup must be empty. */
  destroy(): Promise<void>;
  /** What to keep in the state file to rebuild this manager later (undefined for none). */
  record(): CgroupRecord | undefined;
}
