// pause/resume: freeze and thaw the container's cgroup through its Manager, which waits until
// cgroup.events says frozen, so `state` reads "paused" as soon as pause returns. runc's rules
// (libcontainer/container_linux.go Pause/Resume) are in transitions.ts: only a running or created
// container can be paused ("container not running", also for one already paused), only a paused
// one resumed ("container not paused"). A container without a cgroup (the none driver) cannot be
// frozen, and says so.
import { withContainer } from './handle.js';

export interface PauseOptions {
  root: string;
  id: string;
}

export async function pauseContainer(o: PauseOptions): Promise<void> {
  await withContainer(o.root, o.id, { lock: true }, async (h) => {
    h.assert('pause');
    await h.cgroup.freeze();
  });
}

export async function resumeContainer(o: PauseOptions): Promise<void> {
  await withContainer(o.root, o.id, { lock: true }, async (h) => {
    h.assert('resume');
    await h.cgroup.thaw();
  });
}
