// What both drivers do the same way once the container's cgroup directory exists: the fs driver
// made it, systemd made it for a scope with Delegate=yes. Freeze, kill, pids and stats go straight
// to the cgroup v2 files (runc's systemd manager delegates these to fs2 too).
import { CgroupError } from '../errors.js';
import { freezerState, setFrozen, type FreezerState } from './freezer.js';
import { readStats, type Stats } from './stats.js';
import { addProcess, killAll, listPids } from './v2.js';

export abstract class CgroupDirectory {
  constructor(readonly dir: string) {}

  apply(pid: number): void {
    addProcess(this.dir, pid);
  }

  freeze(): Promise<void> {
    return setFrozen(this.dir, true);
  }

  thaw(): Promise<void> {
    return setFrozen(this.dir, false);
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
}
