// pause/resume: freeze and thaw the container's cgroup (cgroup.freeze), waiting until
// cgroup.events says frozen, so `state` reads "paused" as soon as pause returns. runc's rules
// (libcontainer/container_linux.go Pause/Resume): only a running or created container can be
// paused ("container not running", also for one already paused), only a paused one resumed
// ("container not paused").
import { CgroupError, InvalidStateError } from '../errors.js';
import type { Manager } from '../cgroups/manager.js';
import { managerFromRecord } from '../cgroups/select.js';
import { containerStatus } from '../state/status.js';
import { StateStore, type ContainerRecord } from '../state/store.js';

export function cgroupManagerOf(rec: ContainerRecord): Manager {
  if (!rec.cgroup) throw new CgroupError(`container ${rec.id} has no cgroup (no cgroup v2 hierarchy was mounted when it was created)`);
  return managerFromRecord(rec.cgroup);
}

export async function pauseContainer(root: string, id: string): Promise<void> {
  const store = new StateStore(root);
  const release = store.lock(id);
  try {
    const rec = store.load(id);
    const status = containerStatus(rec, store.dir(id));
    if (status !== 'running' && status !== 'created') throw new InvalidStateError('container not running');
    await cgroupManagerOf(rec).freeze();
  } finally {
    release();
  }
}

export async function resumeContainer(root: string, id: string): Promise<void> {
  const store = new StateStore(root);
  const release = store.lock(id);
  try {
    const rec = store.load(id);
    const status = containerStatus(rec, store.dir(id));
    if (status !== 'paused') throw new InvalidStateError('container not paused');
    await cgroupManagerOf(rec).thaw();
  } finally {
    release();
  }
}
