// The check create makes before its first side effect: every linux.resources field that needs a
// cgroup v2 controller must find it in the hierarchy, or create fails naming the field, the
// controller and the cgroup (on a hybrid host most controllers are bound to v1, where tsrun
// never goes). The precise check, against the container's own cgroup.controllers, is made again
// when the limits are written (controllers.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LinuxResources } from '../spec/types.js';
import { neededControllers, resourceProblems } from './controllers.js';
import { availableControllers } from './files.js';

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
