// linux.resources → cgroup v2 files, in runc fs2 Manager.Set's order: pids, memory, io, cpu,
// devices, cpuset, hugetlb, rdma, then `unified` last so it can override any of them. A field
// that needs a controller the cgroup does not have fails with the controller and the cgroup
// named, before anything is written (never silently dropped). linux.resources.network
// (net_cls/net_prio) exists only in cgroup v1 and is ignored, as runc's fs2 ignores it.
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { cpuNeeded, cpusetNeeded, setCpu, setCpuset } from './cpu.js';
import { setDevices } from './devices.js';
import { availableControllers } from './files.js';
import { hugetlbNeeded, setHugetlb } from './hugetlb.js';
import { ioNeeded, setIo } from './io.js';
import { memoryNeeded, setMemory } from './memory.js';
import { pidsNeeded, setPids } from './pids.js';
import { rdmaNeeded, setRdma } from './rdma.js';
import { checkUnifiedKeys, setUnified, unifiedController } from './unified.js';

export interface ControllerNeed {
  /** The spec field, e.g. "linux.resources.memory". */
  field: string;
  controller: string;
}

/** The controllers a resources block needs, one entry per field that sets something. */
export function neededControllers(r: LinuxResources | undefined): ControllerNeed[] {
  if (!r) return [];
  const out: ControllerNeed[] = [];
  const f = (field: string, controller: string) => out.push({ field: `linux.resources.${field}`, controller });
  if (pidsNeeded(r.pids)) f('pids', 'pids');
  if (memoryNeeded(r.memory)) f('memory', 'memory');
  if (ioNeeded(r.blockIO)) f('blockIO', 'io');
  if (cpuNeeded(r.cpu)) f('cpu', 'cpu');
  if (cpusetNeeded(r.cpu)) f('cpu.cpus/mems', 'cpuset');
  if (hugetlbNeeded(r.hugepageLimits)) f('hugepageLimits', 'hugetlb');
  if (rdmaNeeded(r.rdma)) f('rdma', 'rdma');
  for (const key of Object.keys(r.unified ?? {})) {
    const c = unifiedController(key);
    if (c) f(`unified[${JSON.stringify(key)}]`, c);
  }
  return out;
}

/** Problems with the resources against the controllers `available` (names the cgroup `where`). */
export function resourceProblems(r: LinuxResources | undefined, available: readonly string[], where: string): string[] {
  const problems = checkUnifiedKeys(r?.unified);
  for (const n of neededControllers(r)) {
    if (!available.includes(n.controller)) problems.push(`${n.field}: cgroup controller "${n.controller}" is not available in ${where}`);
  }
  return problems;
}

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
