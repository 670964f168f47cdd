// run: create and start in one step. In the foreground tsrun stays the init's parent (and a
// subreaper, as runc), forwards signals, waits through the pidfd, removes the container and
// reports the exit status (128+signal when killed). Detached, it returns once the process runs.
import { closeSync } from 'node:fs';
import { addon } from '../sys/addon.js';
import { StateStore } from '../state/store.js';
import { createContainer, type CreateOptions } from './create.js';
import { destroy } from './delete.js';
import { runPoststart } from './start.js';
import { waitForeground, type ExitStatus } from './foreground.js';
import { forwardReady, forwardReadyAsync } from './notify.js';

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
  const { record, child, consoleFd, notify } = await createContainer({ ...o, mode: 'run' });
  try {
    await runPoststart(record);
  } catch (err) {
    notify?.close();
    closeSync(child.pidfd);
    if (!o.detach) addon().waitPid(child.pid);
    await destroy(new StateStore(o.root), record, o.logger);
    throw err;
  }
  // runc utils_linux.go forward: run waits for READY= too, and ignores the proxy's errors.
  const notified = (err: unknown) => o.logger.warn(`notify socket: ${(err as Error).message}`);
  if (o.detach) {
    try {
      if (notify) forwardReady(notify, o.notifySocket!, child.pid, record.pidStartTime, o.logger);
    } catch (err) {
      notified(err);
    }
    closeSync(child.pidfd);
    return { pid: child.pid, exitCode: null, signal: null, status: 0 };
  }
  try {
    const exited = waitForeground(child.pidfd, consoleFd, record.config.process?.consoleSize);
    // In the foreground tsrun stays the service's main process (runc sends its own pid). Unlike
    // runc, an init that exits without READY= ends the wait instead of hanging `run` forever.
    if (notify) await forwardReadyAsync(notify, o.notifySocket!, exited, process.pid, o.logger).catch(notified);
    const r = await exited;
    return { pid: child.pid, ...r };
  } finally {
    closeSync(child.pidfd);
    if (!o.keep) await destroy(new StateStore(o.root), record, o.logger);
  }
}
