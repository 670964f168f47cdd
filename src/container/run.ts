// run: create and start in one step. In the foreground tsrun stays the init's parent (and a
// subreaper, as runc), forwards signals, waits through the pidfd, removes the container and
// reports the exit status (128+signal when killed). Detached, it returns once the process runs.
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { addon } from '../native/addon.js';
import { StateStore } from '../state/store.js';
import { createContainer, type CreateOptions } from './create.js';
import { destroy } from './delete.js';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGALRM', 'SIGPIPE'];

export interface RunOptions extends Omit<CreateOptions, 'mode'> {
  detach?: boolean;
  /** --keep: leave the stopped container's state behind. */
  keep?: boolean;
}

export interface RunResult {
  pid: number;
  exitCode: number | null;
  signal: number | null;
  /** What a shell would report: the exit code, or 128 + the signal number. */
  status: number;
}

export async function runContainer(o: RunOptions): Promise<RunResult> {
  const a = addon();
  if (!o.detach) a.setChildSubreaper();
  const { record, child, consoleFd } = createContainer({ ...o, mode: 'run' });
  if (o.detach) {
    closeSync(child.pidfd);
    return { pid: child.pid, exitCode: null, signal: null, status: 0 };
  }
  const forward = (sig: NodeJS.Signals) => {
    try {
      a.pidfdSendSignal(child.pidfd, constants.signals[sig]);
    } catch {
      /* exited */
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  const console = consoleFd !== undefined ? await proxyConsole(consoleFd, record.config.process?.consoleSize) : undefined;
  try {
    const info = await new Promise<{ exitCode: number | null; signal: number | null }>((resolve, reject) => {
      a.watchPidfd(child.pidfd, (r) => (r instanceof Error ? reject(r) : resolve(r)));
    });
    await console?.drained();
    const status = info.signal ? 128 + info.signal : info.exitCode ?? 0;
    return { pid: child.pid, ...info, status };
  } finally {
    console?.close();
    for (const s of FORWARDED) process.off(s, forward);
    closeSync(child.pidfd);
    if (!o.keep) {
      const store = new StateStore(o.root);
      destroy(store, record);
    }
  }
}

/**
 * Foreground run with a terminal: the caller's stdio is proxied to the pty master, the caller's
 * terminal is put in raw mode and its size follows SIGWINCH (as `runc run` does).
 */
async function proxyConsole(master: number, size?: { height: number; width: number }) {
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
