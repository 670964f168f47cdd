// Hands a seccomp notify fd to the agent at linux.seccomp.listenerPath (runtime-spec config-linux.md
// "Seccomp": AF_UNIX SOCK_STREAM, one container process state per connection, the fds in
// SCM_RIGHTS named by `fds`). The state is runtime.md's "container process state"
// (specs-go ContainerProcessState): { ociVersion, fds: ["seccompFd"], pid, metadata?, state }.
import fs from 'node:fs';
import { SyscallError, TsrunError } from '../errors.js';
import { addon } from '../sys/addon.js';
import type { State } from '../spec/types.js';

/** runtime-spec state.go SeccompFdName. */
export const SECCOMP_FD_NAME = 'seccompFd';

export interface ContainerProcessState {
  ociVersion: string;
  fds: string[];
  pid: number;
  metadata?: string;
  state: State;
}

/** The JSON the agent receives; `pid` is the process the fd belongs to (init, or an exec'd process). */
export function containerProcessState(state: State, metadata?: string, pid = state.pid): ContainerProcessState {
  if (pid === undefined) throw new TsrunError('TSRUN_INVALID_ARGUMENT', 'seccomp listener: the container state has no pid');
  return {
    ociVersion: state.ociVersion,
    fds: [SECCOMP_FD_NAME],
    pid,
    ...(metadata ? { metadata } : {}),
    state,
  };
}

/**
 * Connects to listenerPath and sends the state JSON with `fd` attached. The caller still owns `fd`
 * (close it afterwards: the agent has its own copy). Errors name the path, in runc's words.
 */
export function sendSeccompListener(listenerPath: string, fd: number, state: State, metadata?: string, pid?: number): void {
  const body = JSON.stringify(containerProcessState(state, metadata, pid));
  const native = addon();
  let sock: number;
  try {
    sock = native.connectUnix(listenerPath);
  } catch (err) {
    // runc's words; the addon's error names connect (or socket) and the path.
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, {
      syscall: 'connect',
      path: listenerPath,
      context: 'failed to connect with seccomp agent specified in the seccomp profile',
    });
  }
  try {
    native.sendFd(sock, fd, body);
  } catch (err) {
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'sendmsg', context: `cannot send seccomp fd to ${listenerPath}` });
  } finally {
    fs.closeSync(sock);
  }
}
