// tsrun's public API for Node services. Everything a caller may use is exported from here.
import { createContainer } from './container/create.js';
import { deleteContainer } from './container/delete.js';
import { killContainer } from './container/kill.js';
import { silentLogger, type Logger } from './container/logger.js';
import { runContainer, type RunResult } from './container/run.js';
import { parseSignal } from './container/signals.js';
import { startContainer } from './container/start.js';
import { containerState, listContainers, type ContainerState } from './container/state.js';
import { defaultSpec } from './spec/defaults.js';
import { DEFAULT_ROOT } from './state/store.js';

export * from './errors.js';
export type { Spec } from './spec/types.js';
export type { Logger, ContainerState, RunResult };
export { defaultSpec };

export interface RuntimeOptions {
  /** State directory (runc's --root). Default /run/tsrun. */
  root?: string;
  logger?: Logger;
}

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  preserveFds?: number;
}

/** One state root's containers: the same operations as the CLI verbs, without printing. */
export class Runtime {
  readonly root: string;
  private readonly logger: Logger;

  constructor(o: RuntimeOptions = {}) {
    this.root = o.root ?? DEFAULT_ROOT;
    this.logger = o.logger ?? silentLogger;
  }

  /** Creates the container; its process is parked before execve until start(). */
  create(id: string, o: CreateOptions): ContainerState {
    createContainer({ id, root: this.root, mode: 'create', logger: this.logger, ...o });
    return this.state(id);
  }

  start(id: string): void {
    startContainer(this.root, id);
  }

  /** Runs to completion in the foreground and removes the container; resolves with the exit. */
  run(id: string, o: CreateOptions & { keep?: boolean }): Promise<RunResult> {
    return runContainer({ id, root: this.root, logger: this.logger, ...o });
  }

  kill(id: string, signal: string | number = 'SIGTERM', o: { all?: boolean } = {}): void {
    killContainer(this.root, id, typeof signal === 'number' ? signal : parseSignal(signal), o.all);
  }

  delete(id: string, o: { force?: boolean } = {}): void {
    deleteContainer(this.root, id, o.force);
  }

  state(id: string): ContainerState {
    return containerState(this.root, id);
  }

  list(): ContainerState[] {
    return listContainers(this.root);
  }
}
