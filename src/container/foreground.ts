// Waiting for a foreground process (run, exec): signals are forwarded, a terminal is proxied, and
// the exit comes through the pidfd on the event loop (no polling; libuv's SIGCHLD handler waits
// only for its own children).
import { constants } from 'node:os';
import { addon } from '../sys/addon.js';
import type { Box } from '../spec/types.js';

const FORWARDED: NodeJS.Signals[] = [
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

export interface ExitStatus {
  exitCode: number | null;
  signal: number | null;
  /** What a shell would report: the exit code, or 128 + the signal number. */
  status: number;
}

export function waitPidfd(pidfd: number): Promise<ExitStatus> {
  return new Promise((resolve, reject) => {
    addon().watchPidfd(pidfd, (r) => {
      if (r instanceof Error) reject(r);
      else resolve({ exitCode: r.exitCode, signal: r.signal, status: r.signal ? 128 + r.signal : (r.exitCode ?? 0) });
    });
  });
}

export async function waitForeground(pidfd: number, consoleFd?: number, consoleSize?: Box): Promise<ExitStatus> {
  const a = addon();
  const forward = (sig: NodeJS.Signals) => {
    try {
      a.pidfdSendSignal(pidfd, constants.signals[sig]);
    } catch {
      /* exited */
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  const console = consoleFd !== undefined ? await proxyConsole(consoleFd, consoleSize) : undefined;
  try {
    const r = await waitPidfd(pidfd);
    await console?.drained();
    return r;
  } finally {
    console?.close();
    for (const s of FORWARDED) process.off(s, forward);
  }
}

/**
 * A foreground terminal: the caller's stdio is proxied to the pty master, the caller's terminal is
 * put in raw mode and its size follows SIGWINCH (as `runc run` does).
 */
async function proxyConsole(master: number, size?: Box) {
  const tty = await import('node:tty');
  const a = addon();
  const stream = new tty.ReadStream(master);
  const stdin = process.stdin as NodeJS.ReadStream;
  const resize = () => {
    if (process.stdout.isTTY) a.setWinsize(master, process.stdout.rows, process.stdout.columns);
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
  stdin.pipe(stream);
  return {
    drained: () => Promise.race([ended, new Promise<void>((r) => setTimeout(r, 2000).unref())]),
    close: () => {
      process.off('SIGWINCH', resize);
      stdin.unpipe(stream);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      stream.destroy();
    },
  };
}
