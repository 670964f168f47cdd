// Choosing and rebuilding a container's cgroup Manager: the fs driver by default, the systemd
// driver with --systemd-cgroup (runc's global flag; cgroupsPath is then "slice:prefix:name").
// The choice is kept in the state file (CgroupRecord.systemdUnit), so later verbs work whether or
// not the engine passes the flag again (conmon passes it to create only).
import { Fs2Manager } from './fs2.js';
import type { CgroupRecord, Manager } from './manager.js';
import { NoCgroupManager } from './none.js';
import { SystemdManager, systemdPlacement } from './systemd.js';
import { cgroupDirFor, unifiedMount } from './v2.js';

export interface ManagerOptions {
  id: string;
  cgroupsPath?: string;
  systemd?: boolean;
  /** The cgroup2 mount (tests pass a fake cgroupfs); default: from /proc/self/mountinfo. */
  root?: string;
}

/** A manager for a new container: the none driver when no cgroup v2 hierarchy is mounted. */
export function newManager(o: ManagerOptions): Manager {
  const root = o.root ?? unifiedMount();
  if (!root) return new NoCgroupManager(o.id);
  if (o.systemd) {
    const p = systemdPlacement(root, o.cgroupsPath, o.id);
    const m = new SystemdManager(p.dir, p.unit, p.slice, []);
    m.id = o.id;
    return m;
  }
  return new Fs2Manager(cgroupDirFor(root, o.cgroupsPath, o.id), [], root);
}

/** The manager of an existing container, from its state record (none when it has no cgroup). */
export function managerFromRecord(rec: CgroupRecord | undefined, id = ''): Manager {
  if (!rec) return new NoCgroupManager(id);
  if (rec.systemdUnit) return new SystemdManager(rec.dir, rec.systemdUnit, undefined, rec.created);
  return new Fs2Manager(rec.dir, rec.created);
}
