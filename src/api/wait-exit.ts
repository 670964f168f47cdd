// Waits on the event loop for things the library does not own: a process that is not its child
// (a pidfd turns readable when the process exits, pidfd_open(2) — no status, since only the parent
// may reap), and a cgroup emptying (cgroup.events "populated 0", cgroup-v2.rst) before it is
// removed, so removal never has to retry while blocking the loop.
import { closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { addon } from '../sys/addon.js';

export async function waitPidExit(pid: number): Promise<void> {
  if (!pid) return;
  let pidfd: number;
  try {
    pidfd = addon().pidfdOpen(pid);
  } catch {
    return; // ESRCH: gone already
  }
  try {
    await new Promise<void>((resolve, reject) => addon().pollReadable(pidfd, (err) => (err ? reject(err) : resolve())));
  } finally {
    closeSync(pidfd);
  }
}

function populated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(`${dir}/cgroup.events`, 'utf8'));
  } catch {
    return false; // gone, or not a v2 cgroup
  }
}

/** Polls cgroup.events every few ms (up to timeoutMs); resolves either way. */
export async function waitCgroupEmpty(dir: string, timeoutMs = 5000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let delay = 1; populated(dir); delay = Math.min(delay * 2, 50)) {
    if (Date.now() > until) return false;
    await sleep(delay);
  }
  return true;
}
