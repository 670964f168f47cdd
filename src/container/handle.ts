// One container handle: every verb opens a container the same way. The id is validated, the
// state lock taken when the verb mutates (on the event loop: a lock held by a create under way is
// waited for, not blocked on), the record loaded, its status computed and its cgroup Manager
// rebuilt from the record (the none driver when it has no cgroup). A verb then asks the
// transition table (transitions.ts) whether it may act, and releases the handle when done.
import type { Manager } from '../cgroups/manager.js';
import { managerFromRecord } from '../cgroups/select.js';
import type { ContainerStatus } from '../spec/types.js';
import { containerStatus } from '../state/status.js';
import { StateStore, validateId, type ContainerRecord } from '../state/store.js';
import { ownsCgroup, privatePidNamespace } from '../state/record-facts.js';
import { assertTransition, type TransitionVerb } from './transitions.js';

export interface OpenOptions {
  /** Hold the container's lock until release(): for verbs that change the container. */
  lock?: boolean;
  /** Stop waiting for the lock. */
  signal?: AbortSignal;
}

export class ContainerHandle implements Disposable {
  readonly store: StateStore;
  readonly id: string;
  /** The container's state directory. */
  readonly dir: string;
  readonly record: ContainerRecord;
  /** The container's cgroup: the only way to it. */
  readonly cgroup: Manager;
  /** The status when the handle was opened (see currentStatus). */
  readonly status: ContainerStatus;
  #release: (() => void) | undefined;

  constructor(store: StateStore, id: string, record: ContainerRecord, release: (() => void) | undefined) {
    this.store = store;
    this.id = id;
    this.dir = store.dir(id);
    this.record = record;
    this.cgroup = managerFromRecord(record.cgroup, id);
    this.#release = release;
    this.status = this.currentStatus();
  }

  /** The status now (an init may have exited since the handle was opened). */
  currentStatus(): ContainerStatus {
    // A locked handle is the create's successor: no create can be under way.
    const locked = this.#release !== undefined;
    return containerStatus(this.record, this.dir, { cgroup: this.cgroup, createUnderWay: locked ? undefined : () => this.store.isLocked(this.id) });
  }

  /** Throws runc's words (InvalidStateError) when the verb is not legal in the opened status. */
  assert(verb: TransitionVerb): ContainerStatus {
    assertTransition(verb, this.status, this.id);
    return this.status;
  }

  /** Writes the record back (a locked handle only). */
  save(): void {
    this.store.save(this.record);
  }

  release(): void {
    const r = this.#release;
    this.#release = undefined;
    r?.();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** Opens a container: id, lock (when asked), record, status, cgroup Manager. */
export async function openContainer(root: string, id: string, o: OpenOptions = {}): Promise<ContainerHandle> {
  validateId(id);
  const store = new StateStore(root);
  const release = o.lock ? await store.lockAsync(id, o.signal) : undefined;
  try {
    return new ContainerHandle(store, id, store.load(id), release);
  } catch (err) {
    release?.();
    throw err;
  }
}

/** Runs fn with an open handle and always releases it. */
export async function withContainer<T>(root: string, id: string, o: OpenOptions, fn: (h: ContainerHandle) => Promise<T> | T): Promise<T> {
  const h = await openContainer(root, id, o);
  try {
    return await fn(h);
  } finally {
    h.release();
  }
}

/** Whether tsrun may kill the whole cgroup: only when it is the container's own (record-facts.ts). */
export function mayKillCgroup(h: ContainerHandle): boolean {
  return ownsCgroup(h.record.cgroup);
}

export { privatePidNamespace };
