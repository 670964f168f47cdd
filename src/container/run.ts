// run: create and start in one step (mode 'run': the init execs at once), then the poststart
// hooks. Resolves with the running container; the caller holds its init's pidfd (and pty master,
// and the notify listener when NOTIFY_SOCKET is proxied). What happens next is the caller's: the
// library hands the init out as a ProcessHandle; the CLI's foreground `run` forwards signals,
// proxies the terminal and waits (cli/foreground.ts), `run -d` returns.
import { silentLogger } from '../logger.js';
import { createContainer, type CreateOptions, type Created } from './create.js';
import { deleteContainer } from './delete.js';
import { becomeSubreaper, closeQuietly, waitPidfd } from './process-control.js';
import { runPoststart } from './start.js';

export interface RunOptions extends Omit<CreateOptions, 'mode'> {
  detach?: boolean;
  /** Become a child subreaper first (the CLI's foreground run, as runc: it reaps what the init leaves). */
  subreaper?: boolean;
  /** Abandon the run: the half-made container is killed and removed, the call rejects. */
  signal?: AbortSignal;
}

export async function runContainer(o: RunOptions): Promise<Created> {
  if (o.subreaper) becomeSubreaper();
  const created = await createContainer({ ...o, mode: 'run' });
  try {
    await runPoststart(created.record);
  } catch (err) {
    // runPoststart killed the init; it is this process's child (CLONE_PARENT): reap it, then remove.
    created.notify?.close();
    if (created.consoleFd !== undefined) closeQuietly(created.consoleFd);
    await waitPidfd(created.child.pidfd).catch(() => {});
    closeQuietly(created.child.pidfd);
    await deleteContainer({ root: o.root, id: o.id, force: true, logger: o.logger }).catch((e: Error) =>
      (o.logger ?? silentLogger).warn(`cleanup after failed run: ${e.message}`),
    );
    throw err;
  }
  return created;
}
