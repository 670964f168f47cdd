// delete: remove a stopped (or never started) container; force kills a running or paused one
// first. runc delete.go: a stopped container is destroyed, a created one is killed first, running
// or paused needs --force (transitions.ts has the words). The CLI and the library call this one
// function; every wait is on the event loop: the init's pidfd turning readable, then the cgroup's
// cgroup.events saying "populated 0" (inotify), so the cgroup can be removed at once.
import { closeSync } from 'node:fs';
import { hookState, runAllHooks } from './hooks.js';
import { silentLogger, type Logger } from '../logger.js';
import { addon } from '../sys/addon.js';
import { isAlive } from '../state/status.js';
import { mayKillCgroup, openContainer, privatePidNamespace, type ContainerHandle } from './handle.js';

export interface DeleteOptions {
  root: string;
  id: string;
  /** Kill a running or paused container first (SIGKILL to all its processes). */
  force?: boolean;
  /** Where a failing poststop hook is reported (runtime-spec: "MUST log a warning"). */
  logger?: Logger;
  /** How long to wait for the killed processes to be gone (default 10 s). */
  timeoutMs?: number;
  /** Keep an image-made bundle (its overlay, upper layer, files): the front's restart creates again in it. */
  keepImageRootfs?: boolean;
}

/** SIGKILL through the pidfd, which pins the init: a recycled pid is never hit. */
function killInit(h: ContainerHandle): number | undefined {
  let fd: number;
  try {
    fd = addon().pidfdOpen(h.record.pid);
  } catch {
    return undefined; // gone already
  }
  // Opened after the status check: the fd is of the same init only if it still is (pid reuse).
  if (!isAlive(h.record)) {
    closeSync(fd);
    return undefined;
  }
  try {
    addon().pidfdSendSignal(fd, 9);
  } catch {
    /* exited meanwhile */
  }
  return fd;
}

export async function deleteContainer(o: DeleteOptions): Promise<void> {
  const logger = o.logger ?? silentLogger;
  const h = await openContainer(o.root, o.id, { lock: true });
  try {
    h.assert(o.force ? 'delete --force' : 'delete');
    await removeContainer(h, logger, o.timeoutMs, o.keepImageRootfs);
  } finally {
    h.release();
  }
}

/**
 * Kills what is left of the container and frees what it held; the caller holds the lock and has
 * checked the transition (delete), or knows the container must go (start after a failed poststart
 * hook). runc libcontainer destroy: without a private PID namespace, processes may outlive the
 * init (exec'd ones), so the whole cgroup is killed even when the init has exited already.
 */
export async function removeContainer(h: ContainerHandle, logger: Logger, timeoutMs?: number, keepImageRootfs = false): Promise<void> {
  const status = h.currentStatus();
  const wholeCgroup = mayKillCgroup(h);
  const leftovers = wholeCgroup && !privatePidNamespace(h.record.config) && h.cgroup.populated();
  if ((status !== 'stopped' && status !== 'creating') || leftovers) {
    // A frozen task does not die until thawed (cgroup-v2.rst: SIGKILL wakes a frozen task, but
    // thawing first keeps the kill independent of that kernel detail).
    if (status === 'paused') await h.cgroup.thaw().catch(() => {});
    if (wholeCgroup) h.cgroup.signalAll(9);
    const pidfd = killInit(h);
    if (pidfd !== undefined) {
      // SIGKILL cannot be caught: the wait ends (a zombie counts, its pidfd is readable too).
      try {
        await new Promise<void>((resolve) => addon().pollReadable(pidfd, () => resolve()));
      } finally {
        closeSync(pidfd);
      }
    }
    // The rest of the cgroup (cgroup.kill took them all at once where the kernel has it). A shared
    // cgroup stays populated by the others: nothing to wait for there.
    if (wholeCgroup && !(await h.cgroup.waitEmpty({ timeoutMs }))) logger.warn(`delete ${h.id}: processes still in the cgroup after the kill`);
  }
  await destroy(h, logger, keepImageRootfs);
}

/**
 * Frees what the container held: an image-made rootfs (image-rootfs.ts), its cgroup, then its state
 * directory; then the poststop hooks, whose failure is only logged (runtime-spec: "the runtime MUST
 * log a warning").
 */
async function destroy(h: ContainerHandle, logger: Logger, keepImageRootfs: boolean): Promise<void> {
  const rec = h.record;
  // First, so that a mount that will not go keeps the state and `delete` can be retried.
  // The image code is loaded here, not with this module: start reaches it too (issue 15).
  if (!keepImageRootfs) (await import('../image/image-rootfs.js')).releaseImageRootfs(rec);
  // fs: the directories create made; systemd: StopUnit on the container's scope.
  await h.cgroup.destroy();
  h.store.remove(rec.id);
  const hooks = rec.config.hooks?.poststop;
  // runtime-spec config.md "Poststop": on failure "the runtime MUST log a warning, but the remaining
  // hooks and lifecycle continue": every hook runs, each failure is logged.
  if (hooks?.length) {
    for (const err of await runAllHooks('poststop', hooks, hookState(rec.config, rec.id, rec.bundle, 'stopped'), logger)) logger.warn(err.message);
  }
}
