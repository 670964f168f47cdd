// The CLI's foreground `run` and `exec` (runc utils_linux.go runProcess, signals.go): this
// process's signals are forwarded to the container's process, a terminal is proxied to the
// caller's stdio, and the exit comes through the pidfd on the event loop. The library never does
// any of this: it hands out streams and a ProcessHandle instead.
import { write } from 'node:fs';
import { constants } from 'node:os';
import { waitPidfd, setTerminalSize, signalPidfd, type ExitStatus } from '../container/process-control.js';
import type { Box } from '../spec/types.js';

export type { ExitStatus };

export const FORWARDED: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGCONT',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGALRM',
  'SIGPIPE',
];

/**
 * Node ignores SIGPIPE at start-up, but removing a signal's last listener resets it to SIG_DFL:
 * after forwarding SIGPIPE, a write to a closed pipe would kill tsrun (exit 141). This listener
 * is added once and never removed, so SIGPIPE stays caught (and does nothing).
 */
function keepSigpipeCaught(): void {}

/** Forwards each of FORWARDED to send until the returned function is called. */
export function forwardSignals(send: (signal: number) => void): () => void {
  if (!process.listeners('SIGPIPE').includes(keepSigpipeCaught)) process.on('SIGPIPE', keepSigpipeCaught);
  const forward = (sig: NodeJS.Signals) => send(constants.signals[sig]);
  for (const s of FORWARDED) process.on(s, forward);
  return () => {
    for (const s of FORWARDED) process.off(s, forward);
  };
}

/** Waits for a foreground process (a child of this one): signals forwarded, terminal proxied. */
export async function waitForeground(pidfd: number, consoleFd?: number, consoleSize?: Box): Promise<ExitStatus> {
  const stop = forwardSignals((sig) => {
    try {
      signalPidfd(pidfd, sig);
    } catch {
      /* exited */
    }
  });
  const console = consoleFd !== undefined ? await proxyConsole(consoleFd, consoleSize) : undefined;
  try {
    const r = await waitPidfd(pidfd);
    await console?.drained();
    return r;
  } finally {
    console?.close();
    stop();
  }
}

/**
 * A foreground terminal: the caller's stdio is proxied to the pty master, the caller's terminal is
 * put in raw mode and its size follows SIGWINCH (as `runc run` does).
 */
async function proxyConsole(master: number, size?: Box) {
  const tty = await import('node:tty');
  const stream = new tty.ReadStream(master);
  const stdin = process.stdin as NodeJS.ReadStream;
  const resize = () => {
    if (process.stdout.isTTY) setTerminalSize(master, process.stdout.rows, process.stdout.columns);
  };
  if (!size) resize();
  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  process.on('SIGWINCH', resize);
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    // EIO is how a pty master reports that the last slave fd closed.
    stream.on('error', () => resolve());
  });
  stream.pipe(process.stdout, { end: false });
  // Input goes to the master through a writer of its own (Bun's tty.ReadStream drops what is
  // written to it), one write at a time; none is started once closed, and the master is closed
  // only after the one in flight, so a write never lands on a reused fd number. Not ended with
  // stdin: the container's side ends with the container anyway.
  let closed = false;
  let inFlight: Promise<void> = Promise.resolve();
  // node:stream here, with a terminal only: loading it costs Bun about 5 ms, and run and exec
  // load this module for every container (issue 15).
  const { Writable } = process.getBuiltinModule('node:stream');
  const input = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (closed) return cb();
      // A pty takes what its buffer holds: the rest of a long paste follows in further writes.
      inFlight = new Promise<void>((resolve) => {
        const rest = (buf: Buffer) =>
          write(master, buf, (err, n) => {
            if (!err && !closed && n < buf.length) return rest(buf.subarray(n));
            resolve();
            cb(closed ? null : err);
          });
        rest(chunk);
      });
    },
  });
  input.on('error', () => {});
  stdin.pipe(input, { end: false });
  return {
    // Output still buffered in the pty after the exit: read it, but not forever (a grandchild
    // may hold the slave open).
    drained: () => Promise.race([ended, new Promise<void>((r) => setTimeout(r, 2000).unref())]),
    close: () => {
      process.off('SIGWINCH', resize);
      stdin.unpipe(input);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      closed = true;
      void inFlight.then(() => stream.destroy());
    },
  };
}
