// run: create and start in one step. In the foreground tsrun stays the init's parent (and a
// subreaper, as runc), forwards signals, waits through the pidfd, removes the container and
// reports the exit status (128+signal when killed). Detached, it returns once the process runs.
import { closeSync } from 'node:fs';
import { addon } from '../native/addon.js';
import { StateStore } from '../state/store.js';
import { createContainer, type CreateOptions } from './create.js';
import { destroy } from './delete.js';
import { runPoststart } from './start.js';
import { waitForeground, type ExitStatus } from './foreground.js';

export interface RunOptions extends Omit<CreateOptions, 'mode'> {
  detach?: boolean;
  /** --keep: leave the stopped container's state behind. */
  keep?: boolean;
}

export interface RunResult extends ExitStatus {
  pid: number;
}

export async function runContainer(o: RunOptions): Promise<RunResult> {
  if (!o.detach) addon().setChildSubreaper();
  const { record, child, consoleFd } = createContainer({ ...o, mode: 'run' });
  try {
    runPoststart(record);
  } catch (err) {
    closeSync(child.pidfd);
    if (!o.detach) addon().waitPid(child.pid);
    destroy(new StateStore(o.root), record, o.logger);
    throw err;
  }
  if (o.detach) {
    closeSync(child.pidfd);
    return { pid: child.pid, exitCode: null, signal: null, status: 0 };
  }
  try {
    const r = await waitForeground(child.pidfd, consoleFd, record.config.process?.consoleSize);
    return { pid: child.pid, ...r };
  } finally {
    closeSync(child.pidfd);
    if (!o.keep) destroy(new StateStore(o.root), record, o.logger);
  }
}
