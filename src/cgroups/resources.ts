// linux.resources on this build: placement only. Limits are applied by the cgroup issue's
// controllers; until then a limit is refused with the controller named, never silently dropped.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';

const CONTROLLER_OF: Record<string, string> = {
  memory: 'memory',
  cpu: 'cpu',
  pids: 'pids',
  blockIO: 'io',
  hugepageLimits: 'hugetlb',
  rdma: 'rdma',
};

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v as object).every(isEmpty);
  return false;
}

/** Problems with the requested limits; device rules are reported separately (not enforced). */
export function checkResources(resources: LinuxResources | undefined, parentDir: string | null): string[] {
  const problems: string[] = [];
  if (!resources) return problems;
  let available: string[] = [];
  if (parentDir) {
    try {
      available = readFileSync(path.join(parentDir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch {
      available = [];
    }
  }
  for (const [field, controller] of Object.entries(CONTROLLER_OF)) {
    const v = (resources as Record<string, unknown>)[field];
    if (isEmpty(v)) continue;
    if (!parentDir) problems.push(`linux.resources.${field}: no cgroup v2 hierarchy is mounted`);
    else if (!available.includes(controller)) {
      problems.push(`linux.resources.${field}: cgroup controller "${controller}" is not available in ${parentDir}`);
    } else {
      problems.push(`linux.resources.${field}: applying "${controller}" limits is not implemented yet`);
    }
  }
  if (!isEmpty(resources.unified)) problems.push('linux.resources.unified: not implemented yet');
  return problems;
}
