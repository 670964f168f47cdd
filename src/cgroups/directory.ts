// What both drivers do the same way once the container's cgroup directory exists: the fs driver
// made it, systemd made it for a scope with Delegate=yes. Freeze, kill, pids, stats and the waits
// go straight to the cgroup v2 files (runc's systemd manager delegates these to fs2 too).
import { closeSync, constants, existsSync, openSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { CgroupError, InvalidArgumentError } from '../errors.js';
import { parseKeyValues, readOptional } from './files.js';
import { freezerState, setFrozen, type FreezerState } from './freezer.js';
import { readStats, type Stats } from './stats.js';
import type { CgroupOccupancy } from './manager.js';
import { addProcess, killAll, listPids } from './v2.js';

export abstract class CgroupDirectory {
  constructor(readonly dir: string) {}

  /** The cgroup, or `sub` below it; a `sub` that leaves it ("..", a sibling's prefix) is refused. */
  protected within(sub?: string): string {
    if (!sub) return this.dir;
    const d = path.join(this.dir, sub);
    // A prefix test alone would let "../<id>-x" (a sibling whose name starts with ours) through.
    // runc HEAD's words first (fs2 AddPid, process_linux.go prepareCgroupFD): "bad sub cgroup path".
    if (d !== this.dir && !d.startsWith(`${this.dir}/`)) throw new InvalidArgumentError(`bad sub cgroup path: ${sub}: it leaves the container's cgroup`);
    return d;
  }

  apply(pid: number, sub?: string): void {
    addProcess(this.within(sub), pid);
  }

  openDir(sub?: string): number {
    const d = this.within(sub);
    try {
      return openSync(d, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      throw new CgroupError(`open cgroup ${d}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
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

  signalAll(signal: number): boolean {
    if (signal === 9 && killAll(this.dir)) return true;
    for (const pid of listPids(this.dir)) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
    return true;
  }

  pids(): number[] {
    return listPids(this.dir);
  }

  occupancy(): CgroupOccupancy {
    if (!existsSync(this.dir)) return { pids: [], frozen: false };
    const own = readOptional(this.dir, 'cgroup.freeze')?.trim() === '1';
    const events = parseKeyValues(readOptional(this.dir, 'cgroup.events')).frozen === 1;
    return { pids: listPids(this.dir), frozen: own || events };
  }

  populated(): boolean {
    try {
      return parseKeyValues(readOptional(this.dir, 'cgroup.events')).populated === 1;
    } catch {
      return false; // gone meanwhile
    }
  }

  waitEmpty(o: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    if (!this.populated()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let watcher: FSWatcher | undefined;
      let recheck: NodeJS.Timeout | undefined;
      const done = (empty: boolean) => {
        watcher?.close();
        clearTimeout(timer);
        clearTimeout(recheck);
        o.signal?.removeEventListener('abort', onAbort);
        resolve(empty);
      };
      const check = () => {
        if (!this.populated()) done(true);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(!this.populated()), o.timeoutMs ?? 10_000);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        watcher = watch(path.join(this.dir, 'cgroup.events'), check);
        watcher.on('error', () => check());
      } catch {
        /* no inotify here (a fake cgroupfs): the re-checks below still see it empty */
      }
      // A safety net, not the ordering: a watch set up after the last change would miss it.
      const again = (delay: number) => {
        recheck = setTimeout(() => {
          check();
          again(Math.min(delay * 2, 200));
        }, delay);
      };
      again(watcher ? 50 : 1);
      check();
    });
  }

  oomKills(): number {
    try {
      return parseKeyValues(readOptional(this.dir, 'memory.events')).oom_kill ?? 0;
    } catch {
      return 0;
    }
  }

  watchMemoryEvents(onChange: () => void): () => void {
    let w: FSWatcher;
    try {
      w = watch(path.join(this.dir, 'memory.events'), () => onChange());
      w.on('error', () => {});
    } catch {
      return () => {}; // no memory controller: nothing to watch
    }
    return () => w.close();
  }

  stats(): Stats {
    try {
      return readStats(this.dir);
    } catch (err) {
      throw new CgroupError(`stats of cgroup ${this.dir}`, { cause: err });
    }
  }
}

/** Closes an fd openDir gave, ignoring one closed already. */
export function closeDirFd(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    /* closed */
  }
}
