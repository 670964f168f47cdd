// exec: run another process in a running container. It joins every namespace of the init
// (through /proc/<pid>/ns/*, pinned by checking the init's start time after opening), is cloned
// straight into the container's cgroup (CLONE_INTO_CGROUP, runc#4782), and gets the process
// set-up of the init: rlimits, seccomp, user, capabilities, no host fd.
import { constants, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, InvalidStateError } from '../errors.js';
import { closeDirFd as closeFd } from '../cgroups/directory.js';
import { addon } from '../sys/addon.js';
import { compileExecPlan } from '../plan/compile.js';
import { runHandshake } from '../process/protocol.js';
import { spawnModeFor, spawnPlan, type SpawnMode } from '../process/spawn.js';
import { validateSpec } from '../spec/validate.js';
import type { NamespaceType, Process } from '../spec/types.js';
import { isAlive } from '../state/status.js';
import { writeAtomic } from '../state/store.js';
import { sendToSocket, withConsoleSocket } from './create.js';
import { openContainer } from './handle.js';
import { forwardListener, loadSeccomp } from './seccomp.js';
import { assertHostSupport } from './host-support.js';
import type { Logger } from '../logger.js';

const NS_FILE: Record<NamespaceType, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

export interface ExecOptions {
  root: string;
  id: string;
  process: Process;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  /** --pidfd-socket: receives a pidfd of the process once it exists. */
  pidfdSocket?: string;
  preserveFds?: number;
  /** --cgroup: a sub-cgroup of the container's (v2: the path relative to it). */
  subCgroup?: string;
  ignorePaused?: boolean;
  logger: Logger;
  /** Library: the process's fds 0-2 (pipes), instead of this process's own. */
  stdio?: readonly [number, number, number];
  /** Library: kills the process if it fires before the set-up is over. */
  signal?: AbortSignal;
  /** direct (clone3 of this process) or helper (posix_spawn of tsrun-init; flat in RSS). */
  spawnMode?: SpawnMode;
}

/** A process past its execve: the caller owns pidfd and consoleFd. */
export interface StartedExec {
  pid: number;
  pidfd: number;
  consoleFd?: number;
}

/** Reads a --process file: a runtime-spec Process object, validated as the config's would be. */
export function loadProcessFile(file: string): Process {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`process file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const spec = validateSpec({ ociVersion: '1.3.0', process: raw, root: { path: 'rootfs' } });
  return spec.process!;
}

/** Spawns the process and drives its set-up on the event loop; resolves once it has exec'd. */
export async function startExec(o: ExecOptions): Promise<StartedExec> {
  o.signal?.throwIfAborted();
  return withConsoleSocket(o.consoleSocket, (sock) => exec(o, sock));
}

async function exec(o: ExecOptions, consoleSock: () => number): Promise<StartedExec> {
  const h = await openContainer(o.root, o.id);
  const rec = h.record;
  h.assert(o.ignorePaused ? 'exec --ignore-paused' : 'exec');
  if (o.process.terminal && o.detach && !o.consoleSocket) {
    throw new InvalidArgumentError('cannot allocate tty if tsrun will detach without setting console socket');
  }
  if (!o.process.args?.length) throw new InvalidArgumentError('exec: the process has no args');
  if (o.consoleSocket) consoleSock(); // connected, or its error now
  assertHostSupport({ ociVersion: rec.ociVersion }, o.process);

  const nsFds = new Map<NamespaceType, number>();
  let cgroupFd = -1;
  try {
    for (const ns of rec.config.linux?.namespaces ?? []) {
      nsFds.set(ns.type, openSync(`/proc/${rec.pid}/ns/${NS_FILE[ns.type]}`, constants.O_RDONLY));
    }
    // The fds are of the right process only if it is still the same init (pid reuse).
    if (!isAlive(rec)) throw new InvalidStateError('cannot exec in a stopped container');
    // Straight into the container's cgroup, or the --cgroup sub-cgroup (the Manager refuses one
    // that leaves it); -1 for a container without a cgroup.
    cgroupFd = h.cgroup.openDir(o.subCgroup);
    const seccomp = loadSeccomp(rec.config, o.logger, o.root);
    const preserveFds = o.preserveFds ?? 0;
    // The helper path renumbers the fds it passes; the plan is compiled for the numbers it gets.
    const spawned = spawnPlan({
      mode: spawnModeFor(rec.config, o.spawnMode, o.process.capabilities?.bounding),
      preserveFds,
      nsFds,
      cgroupFd: cgroupFd >= 0 ? cgroupFd : undefined,
      stdio: o.stdio,
      compile: (fds) => ({
        plan: compileExecPlan({
          process: o.process,
          nsFds: fds.nsFds,
          preserveFds,
          seccomp,
          stdio: fds.stdio,
          personality: rec.config.linux?.personality,
          memoryPolicy: rec.config.linux?.memoryPolicy,
        }),
        cloneFlags: 0,
      }),
    });
    const { plan, child } = spawned;
    if (!spawned.intoCgroup && cgroupFd >= 0) h.cgroup.apply(child.pid, o.subCgroup);
    let consoleFd: number | undefined;
    let settled = false;
    const abort = () => {
      if (settled) return; // the exec is reported as started: the signal no longer touches it
      try {
        addon().pidfdSendSignal(child.pidfd, 9);
      } catch {
        /* gone already */
      }
    };
    o.signal?.addEventListener('abort', abort, { once: true });
    const handshake = runHandshake(child, {
      spec: rec.config,
      plan,
      mode: 'run',
      // runc exec --ignore-paused: the process waits in the frozen cgroup until the resume.
      stepTimeoutMs: o.ignorePaused ? Infinity : undefined,
      onSeccompListener: (fd, c) =>
        forwardListener(rec.config, fd, { ociVersion: rec.ociVersion, id: rec.id, status: 'running', pid: c.pid, bundle: rec.bundle }),
      onConsole: (master) => {
        if (!o.consoleSocket) consoleFd = master;
        else {
          try {
            addon().sendFd(consoleSock(), master, '/dev/ptmx');
          } finally {
            closeFd(master);
          }
        }
      },
      onReady: (c) => {
        if (o.pidfdSocket) sendToSocket(o.pidfdSocket, c.pidfd, 'pidfd');
        if (o.pidFile) writeAtomic(path.resolve(o.pidFile), String(c.pid), 0o644);
      },
    });
    const stopListening = () => {
      settled = true;
      o.signal?.removeEventListener('abort', abort);
    };
    handshake.then(stopListening, stopListening);
    try {
      await handshake;
    } catch (err) {
      if (consoleFd !== undefined) closeFd(consoleFd);
      throw o.signal?.aborted ? o.signal.reason : err;
    } finally {
      stopListening();
    }
    return { pid: child.pid, pidfd: child.pidfd, consoleFd };
  } finally {
    for (const fd of nsFds.values()) closeFd(fd);
    closeFd(cgroupFd);
  }
}
