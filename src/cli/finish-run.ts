// What the CLI's `run` (and `run --image`) does once the container runs: detached, it passes the
// container's READY= on (NOTIFY_SOCKET) and returns; in the foreground it stays the init's parent,
// forwards signals and the terminal, waits, removes the container (unless --keep) and reports the
// exit status (128+signal when killed), as runc's run.go.
import type { Created } from '../container/create.js';
import { deleteContainer } from '../container/delete.js';
import { forwardReady, forwardReadyAsync } from '../container/notify.js';
import { closeQuietly } from '../container/process-control.js';
import type { Logger } from '../logger.js';
import { waitForeground } from './foreground.js';

export interface FinishRunOptions {
  root: string;
  id: string;
  detach?: boolean;
  /** Leave the stopped container behind (run --keep; run --image without --rm). */
  keep?: boolean;
  /** The runtime's NOTIFY_SOCKET, when the container's sd_notify is proxied to it. */
  notifySocket?: string;
  logger: Logger;
}

export async function finishRun(c: Created, o: FinishRunOptions): Promise<number> {
  // runc utils_linux.go forward: run waits for READY= too, and ignores the proxy's errors.
  const notified = (err: unknown) => o.logger.warn(`notify socket: ${(err as Error).message}`);
  if (o.detach) {
    try {
      if (c.notify) await forwardReady(c.notify, o.notifySocket!, c.child.pid, c.record.pidStartTime, o.logger);
    } catch (err) {
      notified(err);
    } finally {
      closeQuietly(c.child.pidfd);
    }
    return 0;
  }
  try {
    const exited = waitForeground(c.child.pidfd, c.consoleFd, c.record.config.process?.consoleSize);
    // In the foreground tsrun stays the service's main process (runc sends its own pid). Unlike
    // runc, an init that exits without READY= ends the wait instead of hanging `run` forever.
    if (c.notify) await forwardReadyAsync(c.notify, o.notifySocket!, exited, process.pid, o.logger).catch(notified);
    return (await exited).status;
  } finally {
    closeQuietly(c.child.pidfd);
    if (!o.keep) await deleteContainer({ root: o.root, id: o.id, force: true, logger: o.logger });
  }
}
