// config-linux.md "Namespaces": which namespaces the clone makes, which are joined by path, and
// whether the child must fork once more. Joining a pid namespace (setns) and a new time
// namespace (unshare) both apply only to children (pid_namespaces(7), time_namespaces(7)), and
// timens offsets can be written only before a process is inside, so those cases fork again.
import type { LinuxNamespace, NamespaceType } from '../spec/types.js';
import { CLONE } from './opcodes.js';

export const NS_FLAG: Record<NamespaceType, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** The order namespaces are joined in: user first, so the others are entered with its rights. */
export const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

export interface NamespacePlan {
  /** Namespaces created, as CLONE_NEW* flags. */
  newFlags: number;
  /** Namespaces joined, in JOIN_ORDER. */
  joins: { type: NamespaceType; path: string }[];
  has(type: NamespaceType): boolean;
  isNew(type: NamespaceType): boolean;
  /** True when every new namespace can be made by clone3 itself. */
  viaClone: boolean;
  /** True when the child must fork again before the rest of the set-up. */
  needFork: boolean;
}

/**
 * forceUnshare: the process running the plan makes its namespaces itself (the static helper is
 * spawned with posix_spawn, which takes no clone flags).
 */
export function planNamespaces(list: readonly LinuxNamespace[] | undefined, forceUnshare = false): NamespacePlan {
  const byType = new Map<NamespaceType, LinuxNamespace>();
  for (const ns of list ?? []) byType.set(ns.type, ns);
  let newFlags = 0;
  const joins: { type: NamespaceType; path: string }[] = [];
  for (const type of JOIN_ORDER) {
    const ns = byType.get(type);
    if (!ns) continue;
    if (ns.path) joins.push({ type, path: ns.path });
    else newFlags |= NS_FLAG[type];
  }
  const newTime = (newFlags & CLONE.NEWTIME) !== 0;
  const viaClone = !forceUnshare && joins.length === 0 && !newTime;
  const pidJoined = joins.some((j) => j.type === 'pid');
  const needFork = !viaClone && (pidJoined || (newFlags & CLONE.NEWPID) !== 0 || newTime);
  return {
    newFlags,
    joins,
    has: (t) => byType.has(t),
    isNew: (t) => byType.has(t) && !byType.get(t)!.path,
    viaClone,
    needFork,
  };
}
