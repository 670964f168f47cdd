// Processes held by a pidfd, waited for on the event loop: a pidfd turns readable when its
// process exits (pidfd_open(2)), and watchPidfd also reaps a child (waitid P_PIDFD). No polling,
// no thread parked, and no race with libuv's SIGCHLD handler, which reaps only its own children.
// The CLI's foreground run and exec (cli/foreground.ts) use these: cli/ loads no native code.
import { closeSync } from 'node:fs';
import { SyscallError } from '../errors.js';
import { addon } from '../sys/addon.js';

export interface ExitStatus {
  exitCode: number | null;
  signal: number | null;
  /** What a shell would report: the exit code, or 128 + the signal number. */
  status: number;
}

/** Waits for a child of this process to exit and reaps it. */
export function waitPidfd(pidfd: number): Promise<ExitStatus> {
  return new Promise((resolve, reject) => {
    addon().watchPidfd(pidfd, (r) => {
      if (r instanceof Error) reject(r);
      else resolve({ exitCode: r.exitCode, signal: r.signal, status: r.signal ? 128 + r.signal : (r.exitCode ?? 0) });
    });
  });
}

/** Waits for any process (not necessarily a child) to exit; no status, only the parent may reap. */
export async function waitPidExit(pid: number): Promise<void> {
  if (!pid) return;
  let pidfd: number;
  try {
    pidfd = addon().pidfdOpen(pid);
  } catch {
    return; // ESRCH: gone already
  }
  try {
    await new Promise<void>((resolve, reject) => addon().pollReadable(pidfd, (err) => (err ? reject(err) : resolve())));
  } finally {
    closeSync(pidfd);
  }
}

/** pidfd_send_signal(2); false when the process is gone (ESRCH). */
export function signalPidfd(pidfd: number, signal: number): boolean {
  try {
    addon().pidfdSendSignal(pidfd, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'pidfd_send_signal' });
  }
}

/** close(2), ignoring an fd closed already. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* closed */
  }
}

/** PR_SET_CHILD_SUBREAPER: the foreground `run` reaps what the container's init leaves (as runc). */
export function becomeSubreaper(): void {
  addon().setChildSubreaper();
}

/** TIOCSWINSZ on a pty master; the container gets SIGWINCH. */
export function setTerminalSize(master: number, rows: number, cols: number): void {
  addon().setWinsize(master, rows, cols);
}
