// pids controller (cgroup-v2.rst "PID"): pids.max. runtime-spec 1.3.0 made 0 a real limit (no
// new processes); a negative limit means "max"; unset leaves the file alone (runc 1.4).
import type { LinuxPids } from '../spec/types.js';
import { writeCgroupFile } from './files.js';

export function pidsNeeded(p: LinuxPids | undefined): boolean {
  return p?.limit !== undefined && p.limit !== null;
}

export function pidsMaxValue(limit: number): string {
  return limit < 0 ? 'max' : String(limit);
}

export function setPids(dir: string, p: LinuxPids | undefined): void {
  if (!p || !pidsNeeded(p)) return;
  writeCgroupFile(dir, 'pids.max', pidsMaxValue(p.limit!));
}
