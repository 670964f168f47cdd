// kill: signal the init, or with `all` every process of the container's cgroup (SIGKILL through
// cgroup.kill at once). A stopped container gives runc's "container not running" (engines match
// it, containerd checkKillError); transitions.ts has the words.
import { closeSync } from 'node:fs';
import { InvalidStateError, SyscallError } from '../errors.js';
import { addon } from '../sys/addon.js';
import { isAlive } from '../state/status.js';
import { openContainer } from './handle.js';

export interface KillOptions {
  root: string;
  id: string;
  /** The signal number (container/signals.ts parseSignal reads names). */
  signal: number;
  /** Every process of the container's cgroup, not only the init (runc kill --all). */
  all?: boolean;
}

export async function killContainer(o: KillOptions): Promise<void> {
  const h = await openContainer(o.root, o.id);
  h.assert('kill');
  if (o.all && h.cgroup.signalAll(o.signal)) return;
  const rec = h.record;
  // A pidfd pins the process; checking the start time after opening it makes sure the signal
  // hits the init the status was computed for, not a process that reused its pid.
  let pidfd: number;
  try {
    pidfd = addon().pidfdOpen(rec.pid);
  } catch {
    throw new InvalidStateError('container not running');
  }
  try {
    if (!isAlive(rec)) throw new InvalidStateError('container not running');
    addon().pidfdSendSignal(pidfd, o.signal);
  } catch (err) {
    if (err instanceof InvalidStateError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new InvalidStateError('container not running');
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'pidfd_send_signal', context: `kill ${rec.pid}` });
  } finally {
    closeSync(pidfd);
  }
}
