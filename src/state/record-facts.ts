// What a container's record says about how it may be ended: read by the JS verbs (container/
// kill.ts, delete.ts through handle.ts) and written into the fast record for the static front
// (fast-record.ts), so both decide from one definition.
import type { CgroupRecord } from '../cgroups/manager.js';
import type { Spec } from '../spec/types.js';

/**
 * Whether tsrun may kill the whole cgroup: only when it is the container's own (made by tsrun, or
 * its systemd scope). A cgroupsPath naming a cgroup tsrun did not make may hold other processes
 * (issue 13): there only the init is killed.
 */
export function ownsCgroup(cg: CgroupRecord | undefined): boolean {
  return !!cg && (!!cg.systemdUnit || cg.created.includes(cg.dir));
}

/**
 * runc configs.Namespaces.IsPrivate(NEWPID): a PID namespace of the container's own (not joined
 * by path). Only then does the init's death take every other process of the container with it
 * (pid_namespaces(7)); otherwise runc HEAD kills the whole cgroup (Signal, destroy).
 */
export function privatePidNamespace(spec: Spec): boolean {
  return !!spec.linux?.namespaces?.some((n) => n.type === 'pid' && !n.path);
}
