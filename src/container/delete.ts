// delete: remove a stopped (or never started) container; --force kills a running one first.
// runc's rules: a created container is killed without --force; running or paused needs --force.
import { setTimeout as sleep } from 'node:timers/promises';
import { closeSync, writeFileSync } from 'node:fs';
import { InvalidStateError } from '../errors.js';
import { hookState, runHooks } from './hooks.js';
import { silentLogger, type Logger } from '../logger.js';
import { managerFromRecord } from '../cgroups/select.js';
import { killAll } from '../cgroups/v2.js';
import { addon } from '../sys/addon.js';
import { containerStatus, isAlive } from '../state/status.js';
import { StateStore, type ContainerRecord } from '../state/store.js';
import { releaseImageRootfs } from '../image/image-rootfs.js';

async function waitGone(rec: ContainerRecord, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (isAlive(rec) && Date.now() < until) await sleep(2);
}

function killInit(rec: ContainerRecord): void {
  if (rec.cgroup && killAll(rec.cgroup.dir)) return;
  try {
    const fd = addon().pidfdOpen(rec.pid);
    try {
      addon().pidfdSendSignal(fd, 9);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* gone already */
  }
}

export async function deleteContainer(root: string, id: string, force = false, logger: Logger = silentLogger): Promise<void> {
  const store = new StateStore(root);
  const release = store.lock(id);
  try {
    const rec = store.load(id);
    const status = containerStatus(rec, store.dir(id));
    if ((status === 'running' || status === 'paused') && !force) {
      throw new InvalidStateError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    if (status !== 'stopped') {
      if (status === 'paused' && rec.cgroup) thaw(rec.cgroup.dir);
      killInit(rec);
      await waitGone(rec);
    }
    await destroy(store, rec, logger);
  } finally {
    release();
  }
}

function thaw(dir: string): void {
  try {
    writeFileSync(`${dir}/cgroup.freeze`, '0');
  } catch {
    /* not frozen */
  }
}

/**
 * Frees what the container held: an image-made rootfs (image-rootfs.ts), its cgroup, then its state directory; then the poststop hooks,
 * whose failure is only logged (runtime-spec: "the runtime MUST log a warning").
 */
export async function destroy(store: StateStore, rec: ContainerRecord, logger: Logger = silentLogger): Promise<void> {
  // First, so that a mount that will not go keeps the state and `delete` can be retried.
  releaseImageRootfs(rec);
  // fs: the directories create made; systemd: StopUnit on the container's scope.
  if (rec.cgroup) await managerFromRecord(rec.cgroup).destroy();
  store.remove(rec.id);
  const hooks = rec.config.hooks?.poststop;
  if (hooks?.length) {
    try {
      await runHooks('poststop', hooks, hookState(rec.config, rec.id, rec.bundle, 'stopped'));
    } catch (err) {
      logger.warn((err as Error).message);
    }
  }
}
