// Freezing (cgroup-v2.rst "Core Interface Files": cgroup.freeze, and "frozen" in cgroup.events).
// Writing 1 starts the freeze; the cgroup is frozen only when cgroup.events says so, which can
// take a while for tasks in uninterruptible sleep. `pause` returns only once it is frozen, and
// undoes the freeze if that never happens, so a container is never left half-frozen (runc fs2).
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupError } from '../errors.js';
import { parseKeyValues, readCgroupFile, readOptional, writeCgroupFile } from './files.js';

export type FreezerState = 'frozen' | 'thawed' | 'freezing';

export function freezerState(dir: string): FreezerState {
  const want = readOptional(dir, 'cgroup.freeze')?.trim();
  if (want === undefined) return 'thawed';
  const frozen = parseKeyValues(readOptional(dir, 'cgroup.events')).frozen === 1;
  if (want === '1') return frozen ? 'frozen' : 'freezing';
  return 'thawed';
}

/** Writes cgroup.freeze and waits until cgroup.events agrees (or times out). */
export async function setFrozen(dir: string, frozen: boolean, timeoutMs = 10_000): Promise<void> {
  writeCgroupFile(dir, 'cgroup.freeze', frozen ? '1' : '0');
  const until = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const events = parseKeyValues(readCgroupFile(dir, 'cgroup.events'));
    if ((events.frozen === 1) === frozen) return;
    // An empty cgroup is frozen at once; a populated one needs every task to reach the signal path.
    if (Date.now() > until) break;
    await sleep(i < 10 ? 1 : 10);
  }
  if (frozen) {
    try {
      writeCgroupFile(dir, 'cgroup.freeze', '0');
    } catch {
      /* report the first problem */
    }
  }
  throw new CgroupError(`cgroup ${dir}: not ${frozen ? 'frozen' : 'thawed'} after ${timeoutMs} ms (cgroup.events)`);
}
