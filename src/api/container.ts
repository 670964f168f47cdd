// A container made through a Runtime: its init's streams and exit, and the lifecycle verbs bound
// to its id. `await using c = await rt.run(…)` (or `await c[Symbol.asyncDispose]()`) kills what
// is still running, waits for it, removes the container and closes the streams, so a request
// handler that throws leaves nothing behind.
import type { Readable, Writable } from 'node:stream';
import type tty from 'node:tty';
import type { ContainerState } from '../container/state.js';
import type { ContainerEvent } from '../container/events.js';
import type { LinuxResources } from '../spec/types.js';
import type { ExitStatus, Output, OutputOptions, ProcessHandle, SignalLike, WaitOptions } from './process-handle.js';
import type { ExecOptions, Runtime } from './runtime.js';
import type { Limits } from './spec-options.js';

export class Container implements AsyncDisposable {
  readonly id: string;
  readonly runtime: Runtime;
  /** The init process (pid in this pid namespace; the container sees it as 1). */
  readonly init: ProcessHandle;

  constructor(runtime: Runtime, id: string, init: ProcessHandle) {
    this.runtime = runtime;
    this.id = id;
    this.init = init;
  }

  get pid(): number {
    return this.init.pid;
  }
  get stdin(): Writable | null {
    return this.init.stdin;
  }
  get stdout(): Readable | null {
    return this.init.stdout;
  }
  get stderr(): Readable | null {
    return this.init.stderr;
  }
  get pty(): tty.ReadStream | null {
    return this.init.pty;
  }
  /** Set once the init has exited and been reaped. */
  get exitStatus(): ExitStatus | undefined {
    return this.init.exitStatus;
  }

  /** Releases a created container's init (it execs the process). */
  start(): Promise<void> {
    return this.runtime.start(this.id);
  }

  /** Resolves with the init's { exitCode, signal } when it exits. */
  wait(o?: WaitOptions): Promise<ExitStatus> {
    return this.init.wait(o);
  }

  /** Collects stdout/stderr (or the pty) and waits for the exit. */
  output(o?: OutputOptions): Promise<Output> {
    return this.init.output(o);
  }

  kill(signal: SignalLike = 'SIGTERM', o: { all?: boolean } = {}): Promise<void> {
    return this.runtime.kill(this.id, signal, o);
  }

  exec(o: ExecOptions): Promise<ProcessHandle> {
    return this.runtime.exec(this.id, o);
  }

  state(): Promise<ContainerState> {
    return this.runtime.state(this.id);
  }

  stats(): Promise<ContainerEvent['data']> {
    return this.runtime.stats(this.id);
  }

  pause(): Promise<void> {
    return this.runtime.pause(this.id);
  }

  resume(): Promise<void> {
    return this.runtime.resume(this.id);
  }

  update(r: Limits | LinuxResources): Promise<LinuxResources> {
    return this.runtime.update(this.id, r);
  }

  resize(rows: number, cols: number): void {
    this.init.resize(rows, cols);
  }

  delete(o: { force?: boolean } = {}): Promise<void> {
    return this.runtime.delete(this.id, o);
  }

  /** Kill (SIGKILL), wait, delete, close the streams; never throws for a container already gone. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.runtime.delete(this.id, { force: true, missingOk: true });
    } finally {
      this.init.closeStreams();
    }
  }
}
