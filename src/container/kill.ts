// kill: signal the init, or with --all every process of the container's cgroup. A stopped
// container gives runc's "container not running" (engines match it, containerd checkKillError).
import { closeSync } from 'node:fs';
import { InvalidStateError, TsrunError } from '../errors.js';
import { killAll, listPids } from '../cgroups/v2.js';
import { addon } from '../sys/addon.js';
import { containerStatus } from '../state/status.js';
import { StateStore } from '../state/store.js';

export function killContainer(root: string, id: string, signal: number, all = false): void {
  const store = new StateStore(root);
  const rec = store.load(id);
  const status = containerStatus(rec, store.dir(id));
  if (status === 'stopped') throw new InvalidStateError('container not running');
  if (all && rec.cgroup) {
    if (signal === 9 && killAll(rec.cgroup.dir)) return;
    for (const pid of listPids(rec.cgroup.dir)) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
    return;
  }
  // A pidfd pins the process: the start-time check above and the signal hit the same init.
  let pidfd: number;
  try {
    pidfd = addon().pidfdOpen(rec.pid);
  } catch {
    throw new InvalidStateError('container not running');
  }
  try {
    addon().pidfdSendSignal(pidfd, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new InvalidStateError('container not running');
    throw new TsrunError('TSRUN_SYSTEM', `kill ${rec.pid}: ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(pidfd);
  }
}
