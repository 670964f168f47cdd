// A container's status comes from its init process, not only from the file: an init that died
// (or whose pid was reused) is stopped; a parked init with exec.fifo present is created.
// runtime-spec runtime.md "State": creating, created, running, stopped (+ runc's paused). Paused
// is asked of the container's cgroup Manager (the only way to a cgroup), never read from a path.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Manager } from '../cgroups/manager.js';
import type { ContainerStatus } from '../spec/types.js';
import { FIFO_FILE, type ContainerRecord } from './store.js';

export interface ProcStat {
  state: string;
  startTime: string;
}

/** /proc/<pid>/stat: the state letter and field 22 (starttime). */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: the fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], startTime: rest[19] };
}

export function isAlive(rec: Pick<ContainerRecord, 'pid' | 'pidStartTime'>): boolean {
  if (!rec.pid) return false;
  const st = readProcStat(rec.pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return rec.pidStartTime === undefined || st.startTime === rec.pidStartTime;
}

export interface StatusProbes {
  /** The container's cgroup: a freeze asked for (frozen or freezing) reads as paused. */
  cgroup: Pick<Manager, 'freezerState'>;
  /** Whether the create that wrote a `creating` record still runs (it holds the state lock). */
  createUnderWay?: () => boolean;
}

export function containerStatus(rec: ContainerRecord, dir: string, probes: StatusProbes): ContainerStatus {
  // A create in progress has no init recorded yet; one that died half-way is stopped (delete cleans it).
  if (!isAlive(rec)) return rec.creating && probes.createUnderWay?.() ? 'creating' : 'stopped';
  if (probes.cgroup.freezerState() !== 'thawed') return 'paused';
  if (existsSync(path.join(dir, FIFO_FILE))) return 'created';
  return 'running';
}
