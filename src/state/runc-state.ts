// runc's containerState JSON (list.go): ociVersion, id, pid, status, bundle, rootfs, created,
// annotations (omitted when empty), owner. pid is 0 once the init is gone. `state` prints it
// indented by two spaces (stateText), as runc's json.MarshalIndent.
import type { ContainerStatus, RuncState } from '../spec/types.js';
import type { ContainerRecord } from './store.js';

export function toState(rec: ContainerRecord, status: ContainerStatus): RuncState {
  const hasAnnotations = rec.annotations && Object.keys(rec.annotations).length > 0;
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    ...(hasAnnotations ? { annotations: rec.annotations } : {}),
    owner: rec.owner,
  };
}

/** What `state` prints, without the final newline. */
export function stateText(state: RuncState): string {
  return JSON.stringify(state, null, 2);
}
