// cpu and cpuset controllers (cgroup-v2.rst "CPU", "Cpuset"), as runc fs2 setCPU/setCpuset:
// shares → cpu.weight (convert.ts), quota/period → cpu.max "$QUOTA $PERIOD" (quota ≤ 0 is "max",
// period 0 is the kernel's 100000), burst → cpu.max.burst, idle → cpu.idle, cpus/mems →
// cpuset.cpus/cpuset.mems. realtimeRuntime/realtimePeriod have no v2 interface (the v2 cpu
// controller does not support realtime groups): runc's fs2 ignores them, so does tsrun.
import type { LinuxCPU } from '../spec/types.js';
import { sharesToWeight } from './convert.js';
import { isErrno, writeCgroupFile } from './files.js';

export function cpuNeeded(c: LinuxCPU | undefined): boolean {
  return !!c && !!(c.shares || c.quota || c.period || c.idle !== undefined || c.burst !== undefined);
}

export function cpusetNeeded(c: LinuxCPU | undefined): boolean {
  return !!c && !!(c.cpus || c.mems);
}

export function setCpu(dir: string, c: LinuxCPU | undefined): void {
  if (!c || !cpuNeeded(c)) return;
  if (c.idle !== undefined && c.idle !== null) writeCgroupFile(dir, 'cpu.idle', String(c.idle));
  const weight = sharesToWeight(c.shares ?? 0);
  if (weight) writeCgroupFile(dir, 'cpu.weight', String(weight));
  let burst: string | undefined;
  if (c.burst !== undefined && c.burst !== null) {
    burst = String(c.burst);
    try {
      writeCgroupFile(dir, 'cpu.max.burst', burst);
      burst = undefined;
    } catch (err) {
      // A burst larger than the current quota allows is EINVAL until the new quota is in:
      // retry after cpu.max when a quota is being set (runc does the same).
      if (!isErrno(err, 'EINVAL') || !c.quota) throw err;
    }
  }
  if (c.quota || c.period) {
    const quota = c.quota && c.quota > 0 ? String(c.quota) : 'max';
    writeCgroupFile(dir, 'cpu.max', `${quota} ${c.period || 100000}`);
    if (burst !== undefined) writeCgroupFile(dir, 'cpu.max.burst', burst);
  }
}

export function setCpuset(dir: string, c: LinuxCPU | undefined): void {
  if (!c) return;
  if (c.cpus) writeCgroupFile(dir, 'cpuset.cpus', c.cpus);
  if (c.mems) writeCgroupFile(dir, 'cpuset.mems', c.mems);
}
