// linux.resources → cgroup v2 files, in runc fs2 Manager.Set's order: pids, memory, io, cpu,
// devices, cpuset, hugetlb, rdma, then `unified` last so it can override any of them. A field
// that needs a controller the cgroup does not have fails with the controller and the cgroup
// named, before anything is written (never silently dropped). linux.resources.network
// (net_cls/net_prio) exists only in cgroup v1 and is ignored, as runc's fs2 ignores it.
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { setCpu, setCpuset } from './cpu.js';
import { setDevices } from './devices.js';
import { availableControllers } from './files.js';
import { setHugetlb } from './hugetlb.js';
import { setIo } from './io.js';
import { setMemory } from './memory.js';
import { setPids } from './pids.js';
import { setRdma } from './rdma.js';
import { resourceProblems } from './resources.js';
import { setUnified } from './unified.js';

// What a resources block needs lives in resources.ts: the check loads no writer and no device
// filter code, so a verb that never sets limits never loads this module (issue 15).
export { neededControllers, type ControllerNeed } from './resources.js';

export interface ApplyOptions {
  /** Install the eBPF device filter (always on create; on update only when devices changed). */
  devices?: boolean;
  /** Receives the id of each device program attached, for the caller's rollback. */
  attached?: number[];
}

export function applyResources(dir: string, r: LinuxResources | undefined, o: ApplyOptions = {}): void {
  const problems = resourceProblems(r, availableControllers(dir), `cgroup ${dir}`);
  if (problems.length) throw new CgroupError(problems.join('; '));
  if (r) {
    setPids(dir, r.pids);
    setMemory(dir, r.memory);
    setIo(dir, r.blockIO);
    setCpu(dir, r.cpu);
  }
  if (o.devices) {
    const id = setDevices(dir, r?.devices);
    if (id !== undefined) o.attached?.push(id);
  }
  if (!r) return;
  setCpuset(dir, r.cpu);
  setHugetlb(dir, r.hugepageLimits);
  setRdma(dir, r.rdma);
  setUnified(dir, r.unified);
}
