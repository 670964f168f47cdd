// A container's standard streams as Node streams. The child keeps fds 0-2 of whoever spawns it,
// so the library makes a pipe per stream and the plan dup2's the child's ends onto 0-2
// (CreateOptions.stdio). Node has no pipe(2); a FIFO opened twice is one (fifo(7): "a FIFO
// special file ... is identical to a pipe" once open). Opening O_RDWR first never blocks on
// Linux (fifo(7)), so neither of the two real opens that follow does; the FIFO is unlinked at
// once. The parent's ends are wrapped in net.Socket (a libuv pipe handle on epoll): an
// fs.ReadStream would park a threadpool thread per stream and starve every other fs call.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, rmdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import tty from 'node:tty';
import { InvalidArgumentError } from '../errors.js';
import { addon } from '../sys/addon.js';

/** 'pipe': a Node stream; 'ignore': /dev/null; 'inherit': this process's fd; a number: that fd. */
export type StdioEntry = 'pipe' | 'ignore' | 'inherit' | number;
export type StdioOption = StdioEntry | readonly [StdioEntry, StdioEntry, StdioEntry];

export interface StdioStreams {
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
}

/** The child's fds 0-2 for the spawn, the parent's streams, and what to close once spawned. */
export interface PreparedStdio extends StdioStreams {
  childFds: [number, number, number];
  /** Close the child's ends in this process (after the spawn, success or not). */
  closeChildEnds(): void;
  /** Destroy the parent's streams (after a failed create). */
  destroy(): void;
}

const dirReady = new Set<string>();

/** Where FIFOs are made and at once unlinked: a tmpfs when there is one (no disk metadata writes). */
export function pipeDir(fallback: string): string {
  return existsSync('/dev/shm') ? '/dev/shm' : fallback;
}

export function normalizeStdio(o: StdioOption | undefined): [StdioEntry, StdioEntry, StdioEntry] {
  const v = o ?? 'pipe';
  const list = typeof v === 'string' || typeof v === 'number' ? [v, v, v] : [...v];
  if (list.length !== 3) throw new InvalidArgumentError(`stdio: expected 3 entries, got ${list.length}`);
  for (const [i, e] of list.entries()) {
    // An fd below 3 other than the stream's own would be overwritten by an earlier dup2.
    const ok = e === 'pipe' || e === 'ignore' || e === 'inherit' || (typeof e === 'number' && Number.isInteger(e) && (e >= 3 || e === i));
    if (!ok) throw new InvalidArgumentError(`stdio[${i}]: ${JSON.stringify(e)} is not 'pipe', 'ignore', 'inherit' or an fd`);
  }
  return list as [StdioEntry, StdioEntry, StdioEntry];
}

/**
 * Two fds on one new pipe: [read end, write end], both close-on-exec (libuv opens O_CLOEXEC). The
 * FIFO lives, for the few syscalls it exists, in a directory of its own made by mkdtemp (0700, a
 * random name) inside dir (/dev/shm, shared with every user): nobody can plant a file where it
 * goes, nor open it meanwhile.
 */
export function makePipe(dir: string): [number, number] {
  if (!dirReady.has(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    dirReady.add(dir);
  }
  const priv = mkdtempSync(path.join(dir, '.tsrun-pipe-'));
  const fifo = path.join(priv, randomBytes(6).toString('hex'));
  try {
    addon().mkfifo(fifo, 0o600);
  } catch (err) {
    rmdirSync(priv);
    throw err;
  }
  let hold = -1;
  let r = -1;
  try {
    hold = openSync(fifo, constants.O_RDWR);
    r = openSync(fifo, constants.O_RDONLY);
    const w = openSync(fifo, constants.O_WRONLY);
    return [r, w];
  } catch (err) {
    if (r >= 0) closeSync(r);
    throw err;
  } finally {
    if (hold >= 0) closeSync(hold);
    unlinkSync(fifo);
    rmdirSync(priv);
  }
}

/**
 * Pipes for the 'pipe' entries (made in dir, a private directory), /dev/null for 'ignore'. The
 * child's ends go into the spawn; the caller closes them with closeChildEnds() right after.
 */
export function prepareStdio(entries: readonly StdioEntry[], dir: string): PreparedStdio {
  const childFds: number[] = [];
  const childEnds: number[] = [];
  const streams: (net.Socket | null)[] = [null, null, null];
  const destroy = () => streams.forEach((s) => s?.destroy());
  const closeChildEnds = () => {
    for (const fd of childEnds.splice(0)) closeSync(fd);
  };
  try {
    for (const [i, e] of entries.entries()) {
      if (e === 'inherit') childFds.push(i);
      else if (typeof e === 'number') childFds.push(e);
      else if (e === 'ignore') {
        const fd = openSync('/dev/null', i === 0 ? constants.O_RDONLY : constants.O_WRONLY);
        childEnds.push(fd);
        childFds.push(fd);
      } else {
        const [r, w] = makePipe(dir);
        const [mine, theirs] = i === 0 ? [w, r] : [r, w];
        childEnds.push(theirs);
        childFds.push(theirs);
        streams[i] = new net.Socket({ fd: mine, readable: i !== 0, writable: i === 0 });
      }
    }
  } catch (err) {
    destroy();
    closeChildEnds();
    throw err;
  }
  return {
    childFds: childFds as [number, number, number],
    stdin: streams[0],
    stdout: streams[1],
    stderr: streams[2],
    closeChildEnds,
    destroy,
  };
}

/**
 * The pty master as a duplex stream. Reading ends with EIO once the last slave fd closes
 * (pty(7)); that is reported as the end of the stream, not as an error.
 */
export function ptyStream(master: number): tty.ReadStream {
  const s = new tty.ReadStream(master);
  const emit = s.emit.bind(s);
  s.emit = ((event: string, ...args: unknown[]) => {
    if (event === 'error' && (args[0] as NodeJS.ErrnoException)?.code === 'EIO') {
      s.push(null);
      return true;
    }
    return emit(event, ...args);
  }) as typeof s.emit;
  return s;
}

/** Resize the pty (TIOCSWINSZ); the container gets SIGWINCH. */
export function resizePty(master: number, rows: number, cols: number): void {
  addon().setWinsize(master, rows, cols);
}
