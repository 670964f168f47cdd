// state and list: runc's containerState JSON (list.go): ociVersion, id, pid, status, bundle,
// rootfs, created, annotations (omitted when empty), owner. pid is 0 once the init is gone.
import type { RuncState } from '../spec/types.js';
import { StateStore } from '../state/store.js';
import { toState } from '../state/runc-state.js';
import { withContainer } from './handle.js';

export type ContainerState = RuncState;
export { toState };

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
