// Starting the process that runs a plan, two ways:
//  - direct: clone3 from this process (fork-like). Cheapest for the CLI, whose RSS is small.
//  - helper: posix_spawn (vfork) of the static build/Release/tsrun-init, which runs the same
//    interpreter. Its cost does not grow with the caller's RSS (a fork-like clone copies page
//    tables: 1.2 ms at 40 MiB, 69 ms at 2 GiB), so services with large heaps use it.
// Both hand back the same ChildHandle; the handshake does not know which was used.
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { NamespaceType, Spec } from '../spec/types.js';
import { addon, packageRoot } from '../sys/addon.js';
import type { CompiledPlan } from '../plan/plan-builder.js';
import { serializePlan } from '../plan/plan-builder.js';
import type { ChildHandle } from './protocol.js';

export type SpawnMode = 'direct' | 'helper';

/** fd numbers as the plan will see them, and whether namespaces must be made by unshare. */
export interface PlanFds {
  fifoFd?: number;
  nsFds: Map<NamespaceType, number>;
  forceUnshare: boolean;
  /** fds the plan must dup2 onto 0-2 (direct mode; the helper gets them as 0-2 already). */
  stdio?: readonly number[];
}

export interface SpawnPlanOptions {
  mode: SpawnMode;
  preserveFds: number;
  fifoFd?: number;
  nsFds: Map<NamespaceType, number>;
  cgroupFd?: number;
  /** The child's fds 0-2 (library pipes), instead of this process's own 0-2. */
  stdio?: readonly [number, number, number];
  compile: (fds: PlanFds) => { plan: CompiledPlan; cloneFlags: number };
}

export interface SpawnedPlan {
  child: ChildHandle;
  plan: CompiledPlan;
  /** True when the child was placed in the cgroup at birth (CLONE_INTO_CGROUP, or the helper joined it). */
  intoCgroup: boolean;
}

export function helperPath(): string {
  return path.join(packageRoot(), 'build', 'Release', 'tsrun-init');
}

/**
 * The mode a container's processes must be started in. Until its execve, a process running the
 * plan is a copy of this Node process: /proc/<pid>/exe is the host's node binary. Non-dumpable
 * keeps every process of the container away from it, except one with CAP_SYS_PTRACE over the
 * initial user namespace (ptrace_may_access), which could then rewrite node (CVE-2019-5736).
 * That is possible when the container has no user namespace of its own and either holds
 * CAP_SYS_PTRACE itself or joins a pid namespace whose other processes may. Such containers
 * are started through the helper, which runs from a sealed in-memory copy (native/spawn.cc).
 * For `exec`, execBounding is the new process's own set: it may be the one that can ptrace a
 * later exec.
 */
export function spawnModeFor(spec: Spec, wanted: SpawnMode | undefined, execBounding: readonly string[] = []): SpawnMode {
  const ns = spec.linux?.namespaces ?? [];
  const bounding = [...(spec.process?.capabilities?.bounding ?? []), ...execBounding];
  const exposed = !ns.some((n) => n.type === 'user') && (bounding.includes('CAP_SYS_PTRACE') || ns.some((n) => n.type === 'pid' && n.path));
  if (exposed && existsSync(helperPath())) return 'helper';
  return wanted ?? 'direct';
}

export function spawnPlan(o: SpawnPlanOptions): SpawnedPlan {
  const a = addon();
  const stdio = [...Array(3 + o.preserveFds).keys()];
  if (o.mode === 'direct') {
    const { plan, cloneFlags } = o.compile({ fifoFd: o.fifoFd, nsFds: o.nsFds, forceUnshare: false, stdio: o.stdio });
    const keepFds = [...stdio, ...o.nsFds.values(), ...(o.stdio ?? [])];
    if (o.fifoFd !== undefined) keepFds.push(o.fifoFd);
    const s = a.spawn({ ops: plan.ops, strings: plan.strings, lists: plan.lists, cloneFlags, cgroupFd: o.cgroupFd, keepFds });
    return { child: { pid: s.pid, pidfd: s.pidfd, syncFd: s.syncFd }, plan, intoCgroup: s.intoCgroup };
  }
  // The helper's fds: stdio and preserved fds keep their numbers, the rest are renumbered above.
  const base = stdio.length;
  const sync = base;
  const planFd = base + 1;
  const cgroup = o.cgroupFd !== undefined ? base + 2 : -1;
  // Node marks 0-2 close-on-exec: stdio and preserved fds are passed explicitly.
  const fdMap: [number, number][] = stdio.map((fd) => [fd < 3 ? (o.stdio?.[fd] ?? fd) : fd, fd]);
  if (o.cgroupFd !== undefined) fdMap.push([o.cgroupFd, cgroup]);
  let next = base + 3;
  let fifoFd: number | undefined;
  if (o.fifoFd !== undefined) {
    fifoFd = next++;
    fdMap.push([o.fifoFd, fifoFd]);
  }
  const nsFds = new Map<NamespaceType, number>();
  for (const [type, fd] of o.nsFds) {
    nsFds.set(type, next);
    fdMap.push([fd, next++]);
  }
  const { plan } = o.compile({ fifoFd, nsFds, forceUnshare: true });
  const keep = [...stdio, sync, ...nsFds.values()];
  if (fifoFd !== undefined) keep.push(fifoFd);
  const s = a.spawnHelper(helperPath(), serializePlan(plan, keep), fdMap, sync, planFd, cgroup);
  return { child: { pid: s.pid, pidfd: s.pidfd, syncFd: s.syncFd }, plan, intoCgroup: s.intoCgroup };
}
