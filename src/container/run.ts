// run: create and start in one step. In the foreground tsrun stays the init's parent (and a
// subreaper, as runc), forwards signals, waits through the pidfd, removes the container and
// reports the exit status (128+signal when killed). Detached, it returns once the process runs.
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { addon } from '../native/addon.js';
import { StateStore } from '../state/store.js';
import { createContainer, type CreateOptions } from './create.js';
import { destroy } from './delete.js';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGALRM', 'SIGPIPE'];

export interface RunOptions extends Omit<CreateOptions, 'mode'> {
  detach?: boolean;
  /** --keep: leave the stopped container's state behind. */
  keep?: boolean;
}

export interface RunResult {
  pid: number;
  exitCode: number | null;
  signal: number | null;
  /** What a shell would report: the exit code, or 128 + the signal number. */
  status: number;
}

export async function runContainer(o: RunOptions): Promise<RunResult> {
  const a = addon();
  if (!o.detach) a.setChildSubreaper();
  const { record, child } = createContainer({ ...o, mode: 'run' });
  if (o.detach) {
    closeSync(child.pidfd);
    return { pid: child.pid, exitCode: null, signal: null, status: 0 };
  }
  const forward = (sig: NodeJS.Signals) => {
    try {
      a.pidfdSendSignal(child.pidfd, constants.signals[sig]);
    } catch {
      /* exited */
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    const info = await new Promise<{ exitCode: number | null; signal: number | null }>((resolve, reject) => {
      a.watchPidfd(child.pidfd, (r) => (r instanceof Error ? reject(r) : resolve(r)));
    });
    const status = info.signal ? 128 + info.signal : info.exitCode ?? 0;
    return { pid: child.pid, ...info, status };
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    closeSync(child.pidfd);
    if (!o.keep) {
      const store = new StateStore(o.root);
      destroy(store, record);
    }
  }
}
