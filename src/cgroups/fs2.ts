// The fs driver: a cgroup v2 directory written directly (runc libcontainer/cgroups/fs2). On a
// hybrid host the unified mount (/sys/fs/cgroup/unified) is used for placement, freeze and kill,
// and limits need controllers that are bound to v1 there: such a limit fails naming the
// controller. The v1 hierarchies are never touched.
import path from 'node:path';
import type { LinuxResources } from '../spec/types.js';
import { checkResources } from './resources.js';
import { CgroupDirectory } from './directory.js';
import type { CgroupRecord, Manager, SetOptions } from './manager.js';
import { createCgroup, removeCgroup, type CgroupPlacement } from './v2.js';

export class Fs2Manager extends CgroupDirectory implements Manager {
  readonly driver = 'fs' as const;
  private created: string[];
  /** Device programs this manager attached: detached on destroy, if the cgroup outlives it. */
  private readonly attached: number[] = [];

  constructor(
    dir: string,
    created: string[] = [],
    private readonly root?: string,
  ) {
    super(dir);
    this.created = created;
  }

  async create(): Promise<CgroupPlacement> {
    const placed = await createCgroup(this.dir, this.root);
    this.created = placed.created;
    return placed;
  }

  check(resources: LinuxResources | undefined): string[] {
    return checkResources(resources, path.dirname(this.dir));
  }

  async placed(pid: number, intoCgroup: boolean): Promise<void> {
    if (!intoCgroup) this.apply(pid);
  }

  async set(resources: LinuxResources | undefined, o: SetOptions = {}): Promise<void> {
    // The limit writers and the device filter on first use: the verbs that only rebuild this
    // manager from the state file (state, kill, start, delete) never load them (issue 15).
    const { applyResources } = await import('./controllers.js');
    applyResources(this.dir, resources, { ...o, attached: this.attached });
  }

  /**
   * Removes the directories create made. A cgroup that existed before (an absolute cgroupsPath
   * naming a shared one) stays, so the device programs this manager attached are detached first:
   * on a failed create, nothing of tsrun's may stay on a cgroup others use (issue 13).
   */
  async destroy(): Promise<void> {
    await withDetached(this.dir, this.attached, () => removeCgroup(this.created, this.dir));
  }

  record(): CgroupRecord {
    return { dir: this.dir, created: this.created };
  }
}

/**
 * Detaches `attached` from dir (emptying the list), then runs `remove`, even when the detach
 * failed; the detach's error is thrown after the removal.
 */
export async function withDetached(dir: string, attached: number[], remove: () => Promise<void>): Promise<void> {
  let detachError: unknown;
  try {
    // Only this manager's own programs, so only after a set() in this process: the device code is
    // loaded then, not by every delete.
    const programs = attached.splice(0);
    if (programs.length) (await import('./devices.js')).detachDevicePrograms(dir, programs);
  } catch (err) {
    detachError = err;
  }
  await remove();
  if (detachError) throw detachError;
}
