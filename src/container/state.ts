// state and list: runc's containerState JSON (list.go): ociVersion, id, pid, status, bundle,
// rootfs, created, annotations (omitted when empty), owner. pid is 0 once the init is gone.
import type { ContainerStatus, RuncState } from '../spec/types.js';
import { containerStatus } from '../state/status.js';
import { StateStore, type ContainerRecord } from '../state/store.js';

export type ContainerState = RuncState;

export function toState(rec: ContainerRecord, status: ContainerStatus): ContainerState {
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

export function containerState(root: string, id: string): ContainerState {
  const store = new StateStore(root);
  const rec = store.load(id);
  return toState(rec, containerStatus(rec, store.dir(id)));
}

export function listContainers(root: string): ContainerState[] {
  const store = new StateStore(root);
  const out: ContainerState[] = [];
  for (const id of store.list()) {
    try {
      out.push(containerState(root, id));
    } catch {
      /* deleted meanwhile */
    }
  }
  return out;
}
