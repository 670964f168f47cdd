// state and list: runc's containerState JSON (list.go): ociVersion, id, pid, status, bundle,
// rootfs, created, annotations (omitted when empty), owner. pid is 0 once the init is gone.
import type { ContainerStatus, RuncState } from '../spec/types.js';
import { StateStore, type ContainerRecord } from '../state/store.js';
import { withContainer } from './handle.js';

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

export interface StateOptions {
  root: string;
  id: string;
}

export async function containerState(o: StateOptions): Promise<ContainerState> {
  return withContainer(o.root, o.id, {}, (h) => toState(h.record, h.assert('state')));
}

export async function listContainers(o: { root: string }): Promise<ContainerState[]> {
  const out: ContainerState[] = [];
  for (const id of new StateStore(o.root).list()) {
    try {
      out.push(await containerState({ root: o.root, id }));
    } catch {
      /* deleted meanwhile */
    }
  }
  return out;
}
