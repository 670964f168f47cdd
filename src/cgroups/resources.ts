// The check create makes before its first side effect: every linux.resources field that needs a
// cgroup v2 controller must find it in the hierarchy, or create fails naming the field, the
// controller and the cgroup (on a hybrid host most controllers are bound to v1, where tsrun
// never goes). The precise check, against the container's own cgroup.controllers, is made again
// when the limits are written (controllers.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LinuxResources } from '../spec/types.js';
import { cpuNeeded, cpusetNeeded } from './cpu.js';
import { availableControllers } from './files.js';
import { hugetlbNeeded } from './hugetlb.js';
import { ioNeeded } from './io.js';
import { memoryNeeded } from './memory.js';
import { pidsNeeded } from './pids.js';
import { rdmaNeeded } from './rdma.js';
import { checkUnifiedKeys, unifiedController } from './unified.js';

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

/** The nearest existing directory at or above dir (a cgroupsPath may name new nested dirs). */
function nearestExisting(dir: string): string {
  let d = dir;
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

/** Problems with the requested limits; parentDir null means no cgroup v2 hierarchy is mounted. */
export function checkResources(resources: LinuxResources | undefined, parentDir: string | null): string[] {
  if (!resources) return [];
  if (!parentDir) {
    return neededControllers(resources).map((n) => `${n.field}: no cgroup v2 hierarchy is mounted (controller "${n.controller}")`);
  }
  const at = nearestExisting(parentDir);
  return resourceProblems(resources, availableControllers(at), at);
}
