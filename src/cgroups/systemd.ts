// The systemd driver (--systemd-cgroup): the container's cgroup is a transient scope started over
// D-Bus (org.freedesktop.systemd1.Manager.StartTransientUnit, systemd.scope(5)) with the init's
// pid, Delegate=yes, and the limits systemd has properties for; every limit is then also written
// to the delegated cgroup directly (the same files as the fs driver, which also covers io,
// hugetlb, rdma, devices and unified). A scope needs a pid, so the init is moved into it after
// clone rather than cloned into it. Each D-Bus call is bounded by a timeout (dbus-sync.ts).
import { existsSync } from 'node:fs';
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { applyResources } from './controllers.js';
import { dbusCallSync, DbusError } from './dbus-sync.js';
import { readOptional } from './files.js';
import { freezerState, setFrozen, sleepMs, type FreezerState } from './freezer.js';
import type { CgroupRecord, Manager, SetOptions } from './manager.js';
import { readStats, type Stats } from './stats.js';
import { parseSystemdPath, scopeProperties, unitCgroupDir, type SystemdPath } from './systemd-props.js';
import { killAll, listPids, removeCgroup, type CgroupPlacement } from './v2.js';

export function systemdPlacement(root: string, cgroupsPath: string | undefined, id: string): SystemdPath & { dir: string } {
  const p = parseSystemdPath(cgroupsPath, id);
  return { ...p, dir: unitCgroupDir(root, p) };
}

export class SystemdManager implements Manager {
  readonly driver = 'systemd' as const;
  private pending?: LinuxResources;
  id = '';

  constructor(readonly dir: string, readonly unit: string, private readonly slice: string | undefined, private created: string[]) {}

  create(): CgroupPlacement {
    return { dir: this.dir, created: [], fd: -1 };
  }

  /** Limits given before apply() go into the StartTransientUnit call as properties. */
  set(resources: LinuxResources | undefined, o: SetOptions = {}): void {
    if (!existsSync(this.dir)) {
      this.pending = resources;
      return;
    }
    applyResources(this.dir, resources, o);
  }

  apply(pid: number, timeoutMs?: number): void {
    const p: SystemdPath = { slice: this.slice ?? 'system.slice', unit: this.unit };
    const props = scopeProperties(p, this.id || this.unit, pid, this.pending);
    try {
      dbusCallSync({ member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))', body: [this.unit, 'replace', props, []], propertyArgs: [2] }, timeoutMs);
    } catch (err) {
      if (err instanceof DbusError && err.dbusName === 'org.freedesktop.systemd1.UnitExists') {
        throw new CgroupError(`systemd: unit ${this.unit} already exists (another container with this cgroupsPath?)`, { cause: err });
      }
      throw err;
    }
    // The job is queued: the scope exists once its cgroup holds the pid.
    const until = Date.now() + (timeoutMs ?? 30_000);
    for (;;) {
      const procs = readOptional(this.dir, 'cgroup.procs');
      if (procs !== undefined && procs.split('\n').includes(String(pid))) break;
      if (Date.now() > until) throw new CgroupError(`systemd: scope ${this.unit} did not get pid ${pid} in ${this.dir} in time`);
      sleepMs(5);
    }
    if (this.pending) applyResources(this.dir, this.pending, { devices: true });
    else applyResources(this.dir, undefined, { devices: true });
    this.pending = undefined;
  }

  freeze(): void {
    setFrozen(this.dir, true);
  }

  thaw(): void {
    setFrozen(this.dir, false);
  }

  freezerState(): FreezerState {
    return freezerState(this.dir);
  }

  killAll(): boolean {
    return killAll(this.dir);
  }

  pids(): number[] {
    return listPids(this.dir);
  }

  stats(): Stats {
    return readStats(this.dir);
  }

  /** StopUnit; systemd removes the cgroup. A unit already gone is not an error. */
  destroy(timeoutMs?: number): void {
    try {
      dbusCallSync({ member: 'StopUnit', signature: 'ss', body: [this.unit, 'replace'] }, timeoutMs);
    } catch (err) {
      if (!(err instanceof DbusError && err.dbusName === 'org.freedesktop.systemd1.NoSuchUnit')) throw err;
    }
    try {
      dbusCallSync({ member: 'ResetFailedUnit', signature: 's', body: [this.unit] }, timeoutMs);
    } catch {
      /* not failed, or gone */
    }
    // Sub-cgroups the container made itself are ours to remove; the scope's is systemd's.
    removeCgroup(this.created);
  }

  record(): CgroupRecord {
    return { dir: this.dir, created: this.created, systemdUnit: this.unit };
  }
}
