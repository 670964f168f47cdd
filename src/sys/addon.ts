// The addon's typed surface. Loaded once, lazily, from build/Release next to the package root
// (the bundle lives in dist/, the sources in src/sys/).
// node:module and node:url are loaded at the first addon() (process.getBuiltinModule), not with
// this module: every CLI verb imports it, and node:url alone costs Bun about half a millisecond.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SyscallError, TsrunError } from '../errors.js';

export interface SpawnRequest {
  ops: Uint32Array;
  strings: Buffer;
  lists: Uint32Array;
  cloneFlags: number;
  cgroupFd?: number;
  /** fds the child keeps open through its set-up; all others are closed at once in the child. */
  keepFds: number[];
}

export interface SpawnResult {
  pid: number;
  pidfd: number;
  syncFd: number;
  /** False when CLONE_INTO_CGROUP was refused and the caller must write cgroup.procs. */
  intoCgroup: boolean;
}

export interface ExitInfo {
  pid: number;
  exitCode: number | null;
  signal: number | null;
}

export interface Addon {
  spawn(req: SpawnRequest): SpawnResult;
  spawnHelper(path: string, plan: Buffer, fdMap: [number, number][], syncFd: number, planFd: number, cgroupFd: number): SpawnResult;
  flock(fd: number, op: number): boolean;
  mkfifo(path: string, mode: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  waitPid(pid: number, nohang?: boolean): ExitInfo | null;
  /**
   * Calls back once when the process exits (reaped by its pidfd). Returns a watch id for
   * cancelWatch. Watches are served by the addon's epoll thread (native/watch.cc): a pending
   * watch keeps the event loop alive, an idle watcher does not.
   */
  watchPidfd(pidfd: number, cb: (r: ExitInfo | Error) => void): number;
  setChildSubreaper(): void;
  /** Calls back once with null when fd is readable, hung up or in error. Returns a watch id. */
  pollReadable(fd: number, cb: (err: Error | null) => void): number;
  /** Ends a watch without calling back (call it before closing a watched fd); false if it had ended. */
  cancelWatch(id: number): boolean;
  sendFd(socketFd: number, fd: number, data?: string): void;
  recvFd(socketFd: number): { fd: number; data: Buffer };
  connectUnix(path: string): number;
  setWinsize(fd: number, rows: number, cols: number): void;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

let cached: Addon | undefined;
let root: string | undefined;

/** The package root: the nearest ancestor of this module holding package.json (looked up once). */
export function packageRoot(): string {
  if (root === undefined) {
    // import.meta.dirname, not a URL: node:url costs Bun about 2 ms to load (a CPU profile of `run`).
    let dir = import.meta.dirname;
    while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    root = dir;
  }
  return root;
}

export function addon(): Addon {
  if (!cached) {
    const require = process.getBuiltinModule('node:module').createRequire(import.meta.filename);
    const file = path.join(packageRoot(), 'build', 'Release', 'tsrun.node');
    let raw: Addon;
    try {
      raw = require(file) as Addon;
    } catch (err) {
      // The package ships the addon built for linux-x64 and glibc ≥ 2.33 and has no install
      // script to build another: say so, and how to build one, instead of a bare dlopen error.
      throw new TsrunError(
        'TSRUN_UNSUPPORTED',
        `cannot load the addon ${file}: ${(err as Error).message} (the package ships it built for linux-x64 with glibc 2.33 or newer; on another host build tsrun from source: README.md, "Install")`,
        { cause: err },
      );
    }
    // Spawning fails for reasons of the host (fd table full, RLIMIT_NPROC, a missing helper): the
    // addon throws a Node-style errno Error, turned here into a SyscallError naming the call. The
    // other functions keep Node's errno shape, which their callers test (ESRCH, EAGAIN …).
    cached = {
      ...raw,
      spawn: (req) => asSyscallError(() => raw.spawn(req)),
      spawnHelper: (...args) => asSyscallError(() => raw.spawnHelper(...args)),
    };
  }
  return cached;
}

function asSyscallError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.syscall === 'string' && (e.errno !== undefined || e.code !== undefined)) {
      throw SyscallError.fromErrnoException(e, { path: e.path });
    }
    throw err;
  }
}
