// A process the library started (a container's init or an exec'd process), held by its pidfd.
// The exit comes through a uv_poll on the pidfd and waitid(P_PIDFD) (addon watchPidfd): no
// polling, no thread parked, and no race with libuv's SIGCHLD handler, which reaps only the
// children it spawned itself. The pidfd also pins the process, so kill() can never hit a
// recycled pid (pidfd_send_signal(2)). Both processes are children of this one: the plan's FORK
// uses CLONE_PARENT.
import { closeSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type tty from 'node:tty';
import { InvalidStateError, SyscallError } from '../errors.js';
import { addon } from '../sys/addon.js';
import { parseSignal } from '../container/signals.js';
import { resizePty, type StdioStreams } from './stdio.js';

export interface ExitStatus {
  /** The exit code, or null when a signal ended the process. */
  exitCode: number | null;
  /** The signal number that ended it, or null. */
  signal: number | null;
}

export interface WaitOptions {
  /** Stop waiting (the process keeps running); the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface Output extends ExitStatus {
  stdout: string;
  stderr: string;
  /** True when output past maxBuffer was dropped. */
  truncated: boolean;
}

export interface OutputOptions extends WaitOptions {
  /** Bytes kept of stdout and of stderr each (default 1 MiB); the rest is read and dropped. */
  maxBuffer?: number;
  encoding?: BufferEncoding;
}

export type SignalLike = NodeJS.Signals | string | number;

export function toSignalNumber(s: SignalLike): number {
  return typeof s === 'number' ? parseSignal(String(s)) : parseSignal(s);
}

/** Resolves with the value, or rejects with signal.reason when it fires first. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Reads a stream to its end, keeping at most max bytes. */
export function collect(stream: Readable | null, max: number): Promise<{ data: Buffer; truncated: boolean }> {
  if (!stream) return Promise.resolve({ data: Buffer.alloc(0), truncated: false });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    stream.on('data', (d: Buffer) => {
      const room = max - size;
      if (room <= 0) {
        truncated ||= d.length > 0;
        return;
      }
      const part = d.length > room ? d.subarray(0, room) : d;
      truncated ||= part.length < d.length;
      chunks.push(part);
      size += part.length;
    });
    stream.once('end', () => resolve({ data: Buffer.concat(chunks), truncated }));
    stream.once('close', () => resolve({ data: Buffer.concat(chunks), truncated }));
    stream.once('error', reject);
  });
}

export class ProcessHandle implements StdioStreams {
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** The pty master as a duplex stream (terminal: true), else null. */
  readonly pty: tty.ReadStream | null;
  #pidfd: number;
  #masterFd: number | undefined;
  #status: ExitStatus | undefined;
  readonly #exited: Promise<ExitStatus>;

  constructor(pid: number, pidfd: number, streams: StdioStreams & { pty?: tty.ReadStream | null; masterFd?: number }, onExit?: (s: ExitStatus) => void) {
    this.pid = pid;
    this.#pidfd = pidfd;
    this.stdin = streams.stdin;
    this.stdout = streams.stdout;
    this.stderr = streams.stderr;
    this.pty = streams.pty ?? null;
    this.#masterFd = streams.masterFd;
    this.#exited = new Promise<ExitStatus>((resolve, reject) => {
      addon().watchPidfd(pidfd, (r) => {
        closeSync(this.#pidfd);
        this.#pidfd = -1;
        if (r instanceof Error) {
          reject(SyscallError.fromErrnoException(r as NodeJS.ErrnoException, { syscall: 'waitid', context: `wait for process ${pid}` }));
          return;
        }
        this.#status = { exitCode: r.exitCode, signal: r.signal };
        onExit?.(this.#status);
        resolve(this.#status);
      });
    });
    // Nobody may be waiting; a failed wait is reported to whoever calls wait().
    this.#exited.catch(() => {});
  }

  /** The exit status once the process has exited and been reaped, else undefined. */
  get exitStatus(): ExitStatus | undefined {
    return this.#status;
  }

  /** Resolves when the process exits: { exitCode, signal }. */
  wait(o: WaitOptions = {}): Promise<ExitStatus> {
    return abortable(this.#exited, o.signal);
  }

  /** Sends a signal (default SIGTERM) through the pidfd. */
  kill(signal: SignalLike = 'SIGTERM'): void {
    const n = toSignalNumber(signal);
    if (this.#pidfd < 0) throw new InvalidStateError(`process ${this.pid} is not running`);
    try {
      addon().pidfdSendSignal(this.#pidfd, n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new InvalidStateError(`process ${this.pid} is not running`);
      throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'pidfd_send_signal', context: `kill ${this.pid}` });
    }
  }

  /** Resize the pty (terminal: true only). */
  resize(rows: number, cols: number): void {
    if (this.#masterFd === undefined || this.pty?.destroyed) throw new InvalidStateError(`process ${this.pid} has no terminal`);
    resizePty(this.#masterFd, rows, cols);
  }

  /**
   * Collects stdout and stderr (or the pty's output) to their ends and waits for the exit. Call it
   * before the process has written much: a pipe holds 64 KiB, then the writer blocks.
   */
  async output(o: OutputOptions = {}): Promise<Output> {
    const max = o.maxBuffer ?? 1 << 20;
    const enc = o.encoding ?? 'utf8';
    const [out, err, status] = await abortable(
      Promise.all([collect(this.pty ?? this.stdout, max), collect(this.pty ? null : this.stderr, max), this.#exited]),
      o.signal,
    );
    return { ...status, stdout: out.data.toString(enc), stderr: err.data.toString(enc), truncated: out.truncated || err.truncated };
  }

  /** Closes this side's streams (the process keeps running). */
  closeStreams(): void {
    for (const s of [this.stdin, this.stdout, this.stderr, this.pty]) s?.destroy();
  }
}
