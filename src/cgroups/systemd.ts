// The systemd driver (--systemd-cgroup): the container's cgroup is a transient scope started over
// D-Bus (org.freedesktop.systemd1.Manager.StartTransientUnit, systemd.scope(5)), Delegate=yes, and the limits systemd has properties for; every limit is then also written
// to the delegated cgroup directly (the same files as the fs driver, which also covers io,
// hugetlb, rdma, devices and unified). Each D-Bus call is bounded by a timeout (dbus.ts).
import { constants, openSync } from 'node:fs';
import path from 'node:path';
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { withDetached } from './fs2.js';
import { readOptional } from './files.js';
import { CgroupDirectory } from './directory.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkResources } from './resources.js';
import type { CgroupRecord, Manager, SetOptions } from './manager.js';
import { parseSystemdPath, resourceProperties, scopeProperties, unitCgroupDir, type SystemdPath } from './systemd-props.js';
import { addProcess, ownCgroup, removeCgroup, unifiedMount, type CgroupPlacement } from './v2.js';

// The D-Bus client (dbus.ts, then dbus-next) and the limit writers (controllers.ts, with the device
// filter) are loaded by the steps that use them: state, kill or start rebuild this manager from the
// state file and need neither (issue 15).
const dbus = (): Promise<typeof import('./dbus.js')> => import('./dbus.js');

export function systemdPlacement(root: string, cgroupsPath: string | undefined, id: string): SystemdPath & { dir: string } {
  const p = parseSystemdPath(cgroupsPath, id);
  return { ...p, dir: unitCgroupDir(root, p) };
}

export class SystemdManager extends CgroupDirectory implements Manager {
  readonly driver = 'systemd' as const;
  private pending?: LinuxResources;
  private pendingDevices = false;
  /** Device programs this manager attached (see Fs2Manager.destroy). */
  private readonly attached: number[] = [];
  /** Where tsrun itself was before it held the new scope open (create → placed). */
  private home?: string;
  id = '';

  constructor(
    dir: string,
    readonly unit: string,
    private readonly slice: string | undefined,
    private created: string[],
  ) {
    super(dir);
  }

  /**
   * A scope cannot be empty, and the init must be cloned into its final cgroup (its cgroup mount
   * and cgroup namespace are made from it). So the scope is started holding tsrun itself, the init
   * is cloned into it, and placed() moves tsrun back out before any limit is set: the runtime is
   * never subject to the container's limits, and charges only what it allocates in between.
   */
  async create(timeoutMs?: number): Promise<CgroupPlacement> {
    const root = unifiedMount();
    if (!root) throw new CgroupError('systemd cgroup driver: no cgroup2 hierarchy is mounted');
    this.home = path.join(root, ownCgroup());
    const p: SystemdPath = { slice: this.slice ?? 'system.slice', unit: this.unit };
    const { dbusCall, DbusError } = await dbus();
    try {
      await dbusCall(
        {
          member: 'StartTransientUnit',
          signature: 'ssa(sv)a(sa(sv))',
          body: [this.unit, 'replace', scopeProperties(p, this.id || this.unit, process.pid, undefined), []],
          propertyArgs: [2],
        },
        timeoutMs,
      );
    } catch (err) {
      if (err instanceof DbusError && err.dbusName === 'org.freedesktop.systemd1.UnitExists') {
        throw new CgroupError(`systemd: unit ${this.unit} already exists (another container with this cgroupsPath?)`, { cause: err });
      }
      throw err;
    }
    await this.waitFor(process.pid, timeoutMs);
    return { dir: this.dir, created: [], fd: openSync(this.dir, constants.O_RDONLY | constants.O_DIRECTORY) };
  }

  private async waitFor(pid: number, timeoutMs = 30_000): Promise<void> {
    // StartTransientUnit queues a job: the scope exists once its cgroup holds the pid.
    const until = Date.now() + timeoutMs;
    for (;;) {
      const procs = readOptional(this.dir, 'cgroup.procs');
      if (procs !== undefined && procs.split('\n').includes(String(pid))) return;
      if (Date.now() > until) throw new CgroupError(`systemd: scope ${this.unit} did not get pid ${pid} in ${this.dir} in time`);
      await sleep(5);
    }
  }

  private leave(): void {
    if (!this.home) return;
    const home = this.home;
    this.home = undefined;
    addProcess(home, process.pid);
  }

  /**
   * systemd enables a Delegate=yes scope's controllers up its slices when it starts the unit, so
   * what counts is what the root offers, not what the slice has enabled so far.
   */
  check(resources: LinuxResources | undefined): string[] {
    return checkResources(resources, unifiedMount() ?? null);
  }

  /** Limits given before placed() wait until tsrun has left the scope. */
  async set(resources: LinuxResources | undefined, o: SetOptions = {}): Promise<void> {
    if (this.home) {
      this.pending = resources;
      this.pendingDevices = !!o.devices;
      return;
    }
    const props = resourceProperties(resources);
    if (props.length) {
      const { dbusCall } = await dbus();
      await dbusCall({ member: 'SetUnitProperties', signature: 'sba(sv)', body: [this.unit, true, props], propertyArgs: [2] });
    }
    const { applyResources } = await import('./controllers.js');
    applyResources(this.dir, resources, { ...o, attached: this.attached });
  }

  async placed(pid: number, intoCgroup: boolean): Promise<void> {
    if (!intoCgroup) this.apply(pid);
    this.leave();
    const r = this.pending;
    this.pending = undefined;
    await this.set(r, { devices: this.pendingDevices });
  }

  /** StopUnit; systemd removes the cgroup. A unit already gone is not an error. */
  async destroy(timeoutMs?: number): Promise<void> {
    this.leave(); // a failed create: never let systemd kill tsrun with the scope
    const { dbusCall, DbusError } = await dbus();
    try {
      await dbusCall({ member: 'StopUnit', signature: 'ss', body: [this.unit, 'replace'] }, timeoutMs);
    } catch (err) {
      if (!(err instanceof DbusError && err.dbusName === 'org.freedesktop.systemd1.NoSuchUnit')) throw err;
    }
    try {
      await dbusCall({ member: 'ResetFailedUnit', signature: 's', body: [this.unit] }, timeoutMs);
    } catch {
      /* not failed, or gone */
    }
    await withDetached(this.dir, this.attached, () => removeCgroup(this.created, this.dir));
  }

  record(): CgroupRecord {
    return { dir: this.dir, created: this.created, systemdUnit: this.unit };
  }
}
