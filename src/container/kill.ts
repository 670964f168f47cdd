// kill: signal the init, or with `all` every process of the container's cgroup (SIGKILL through
// cgroup.kill at once). A stopped container gives runc's "container not running" (engines match
// it, containerd checkKillError); transitions.ts has the words.
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { InvalidStateError, SyscallError } from '../errors.js';
import { addon } from '../sys/addon.js';
import { isAlive } from '../state/status.js';
import { mayKillCgroup, openContainer, privatePidNamespace, type ContainerHandle } from './handle.js';

export interface KillOptions {
  root: string;
  id: string;
  /** The signal number (container/signals.ts parseSignal reads names); 0 probes liveness. */
  signal: number;
  /** Every process of the container's cgroup, not only the init (runc kill --all). */
  all?: boolean;
}

const S = constants.signals;

/**
 * The signals that end runc's parked init (a Go program: os/signal "Default behavior of signals
 * in Go programs": SIGHUP, SIGINT and SIGTERM make it exit; SIGQUIT, SIGILL, SIGTRAP, SIGABRT,
 * SIGSTKFLT and SIGSYS exit with a stack dump; the others are caught and ignored). tsrun's parked
 * init is the plan interpreter with default dispositions, and as pid 1 of its PID namespace the
 * kernel drops those signals from outside (pid_namespaces(7)): it gets SIGKILL instead.
 */
const ENDS_PARKED_INIT = new Set<number>([S.SIGHUP, S.SIGINT, S.SIGTERM, S.SIGQUIT, S.SIGILL, S.SIGTRAP, S.SIGABRT, S.SIGSYS, S.SIGSTKFLT ?? 16]);

export async function killContainer(o: KillOptions): Promise<void> {
  let h = await openContainer(o.root, o.id);
  h.assert('kill');
  let signal = o.signal;
  if (h.status === 'created' && ENDS_PARKED_INIT.has(signal) && privatePidNamespace(h.record.config)) {
    // Under the lock `start` cannot release the init in between: it is still the parked one.
    h = await openContainer(o.root, o.id, { lock: true });
    if (h.status === 'created') signal = 9;
  }
  try {
    if (o.all && h.cgroup.signalAll(signal)) return;
    // runc HEAD libcontainer Signal: without a PID namespace of its own, the init's death does not
    // take the rest of the container with it (pid_namespaces(7)), so SIGKILL goes to every
    // process of its cgroup, where the cgroup is the container's own (issue 13: never a shared one).
    if (signal === 9 && !privatePidNamespace(h.record.config) && mayKillCgroup(h) && h.cgroup.signalAll(9)) return;
    signalInit(h, signal);
  } finally {
    h.release();
  }
}

function signalInit(h: ContainerHandle, signal: number): void {
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
    addon().pidfdSendSignal(pidfd, signal);
  } catch (err) {
    if (err instanceof InvalidStateError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new InvalidStateError('container not running');
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'pidfd_send_signal', context: `kill ${rec.pid}` });
  } finally {
    closeSync(pidfd);
  }
}
