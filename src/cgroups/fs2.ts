// The fs driver: a cgroup v2 directory written directly (runc libcontainer/cgroups/fs2). On a
// hybrid host the unified mount (/sys/fs/cgroup/unified) is used for placement, freeze and kill,
// and limits need controllers that are bound to v1 there: such a limit fails naming the
// controller. The v1 hierarchies are never touched.
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { applyResources } from './controllers.js';
import { freezerState, setFrozen, type FreezerState } from './freezer.js';
import type { CgroupRecord, Manager, SetOptions } from './manager.js';
import { readStats, type Stats } from './stats.js';
import { addProcess, createCgroup, killAll, listPids, removeCgroup, type CgroupPlacement } from './v2.js';

export class Fs2Manager implements Manager {
  readonly driver = 'fs' as const;
  private created: string[];

  constructor(readonly dir: string, created: string[] = [], private readonly root?: string) {
    this.created = created;
  }

  create(): CgroupPlacement {
    const placed = createCgroup(this.dir, this.root);
    this.created = placed.created;
    return placed;
  }

  apply(pid: number): void {
    addProcess(this.dir, pid);
  }

  placed(pid: number, intoCgroup: boolean): void {
    if (!intoCgroup) this.apply(pid);
  }

  set(resources: LinuxResources | undefined, o: SetOptions = {}): void {
    applyResources(this.dir, resources, o);
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
    try {
      return readStats(this.dir);
    } catch (err) {
      throw new CgroupError(`stats of cgroup ${this.dir}`, { cause: err });
    }
  }

  destroy(): void {
    removeCgroup(this.created);
  }

  record(): CgroupRecord {
    return { dir: this.dir, created: this.created };
  }
}
