// create: validate, claim the id, place the cgroup, compile the plan, spawn, drive the handshake,
// record the state. Returns once the init is parked before execve (create) or has exec'd (run).
// Each resource made pushes an undo step; on error they run in reverse, so a failed create leaves
// no directory, cgroup or process behind.
import { closeSync, constants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { CgroupError, InvalidSpecError, TsrunError } from '../errors.js';
import { newManager } from '../cgroups/select.js';
import type { Manager } from '../cgroups/manager.js';
import { ambientWarnings } from './capabilities.js';
import { closeFd, unifiedMount } from '../cgroups/v2.js';
import { addon } from '../sys/addon.js';
import { hookState, runHooks } from './hooks.js';
import { assertHostSupport } from './host-support.js';
import { compilePlan } from '../plan/compile.js';
import { spawnModeFor, spawnPlan, type SpawnMode } from '../process/spawn.js';
import { killAndReap, runHandshake, setupStepBound, type ChildHandle, type HandshakeOptions } from '../process/protocol.js';
import { loadSpec, resolveRootfs } from '../spec/load.js';
import { validateSpec } from '../spec/validate.js';
import type { NamespaceType, Spec } from '../spec/types.js';
import { readProcStat } from '../state/status.js';
import { FIFO_FILE, StateStore, writeAtomic, type ContainerRecord } from '../state/store.js';
import type { Logger } from '../logger.js';
import { forwardListener, loadSeccomp } from './seccomp.js';
import { makeNotifyDir, notifySocketPath, notifySpec, NotifyListener } from './notify.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  root: string;
  /** 'create' parks the init on exec.fifo; 'run' lets it exec at once. */
  mode: 'create' | 'run';
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  logger: Logger;
  /** Use this config instead of reading <bundle>/config.json. */
  spec?: Spec;
  /** run -d: nobody stays to hold a pty master. */
  detach?: boolean;
  /** Pass systemd socket activation fds (LISTEN_FDS for this process) on, as runc does. */
  passListenFds?: boolean;
  /** --pidfd-socket: receives a pidfd of the init (SCM_RIGHTS) once it exists. */
  pidfdSocket?: string;
  /** direct (clone3 from this process) or helper (posix_spawn of tsrun-init; flat in RSS). */
  spawnMode?: SpawnMode;
  /** --systemd-cgroup: the cgroup is a transient systemd scope (cgroupsPath "slice:prefix:name"). */
  systemdCgroup?: boolean;
  /** Library: the init's fds 0-2 (pipes), instead of this process's own. */
  stdio?: readonly [number, number, number];
  /** Library: the caller keeps the pty master (Created.consoleFd) even for create. */
  holdConsole?: boolean;
  /** NOTIFY_SOCKET of the runtime's environment: sd_notify is proxied to it (container/notify.ts). */
  notifySocket?: string;
  /**
   * The state dir is claimed already (run --image records its intent before mounting anything):
   * use it instead of claiming the id. The caller removes it if create fails before this point.
   */
  claimed?: boolean;
  /**
   * The longest one wait for the init's next set-up message may take (default SETUP_STEP_MS plus
   * the timeouts of the hooks the init runs itself): a stuck init is killed and the create undone.
   */
  setupStepTimeoutMs?: number;
}

export interface Created {
  record: ContainerRecord;
  child: ChildHandle;
  /** The pty master, when the container has a terminal and no console socket took it. */
  consoleFd?: number;
  /** run with notifySocket: the bound socket the container's READY= arrives on. */
  notify?: NotifyListener;
}

/**
 * LISTEN_FDS from socket activation are passed on as runc does (runc utils_linux.go), but only
 * when LISTEN_PID names this process (sd_listen_fds(3), go-systemd activation.Files): otherwise
 * the variables were meant for an ancestor and fds 3.. are not ours to hand to a container.
 */
/**
 * The user name of this process's uid, as runc's state shows it: from the passwd file (Bun's
 * userInfo() says "unknown" where Node reads getpwuid), else userInfo(), else "#<uid>" (runc list.go).
 */
export function ownerName(uid: number = process.getuid?.() ?? 0): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && f[2] === String(uid) && f[0]) return f[0];
    }
  } catch {
    /* no passwd file */
  }
  try {
    const name = userInfo().username;
    if (name && name !== 'unknown') return name;
  } catch {
    /* no entry */
  }
  return `#${uid}`;
}

export function listenFds(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number {
  if (env.LISTEN_PID !== String(pid)) return 0;
  const n = Number(env.LISTEN_FDS ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** A connection to the AF_UNIX socket at path (the caller closes it). */
export function connectSocket(socketPath: string): number {
  try {
    return addon().connectUnix(socketPath);
  } catch (err) {
    throw new TsrunError('TSRUN_INVALID_ARGUMENT', `connect to ${socketPath}: ${(err as Error).message}`, { cause: err });
  }
}

/** Hands an fd to the AF_UNIX socket at path (SCM_RIGHTS), as runc's utils.SendFile. */
export function sendToSocket(socketPath: string, fd: number, name = '/dev/ptmx'): void {
  const sock = connectSocket(socketPath);
  try {
    addon().sendFd(sock, fd, name);
  } finally {
    closeFd(sock);
  }
}

/**
 * The --console-socket connection, made before anything else (runc hands its init the connected
 * socket): whatever fails later closes it, so the receiver (recvtty, conmon) sees EOF instead of
 * waiting for a master that never comes. A connect that fails is reported only where the socket
 * is needed (sock() throws it), after the checks of the arguments, whose words come first in runc.
 */
export async function withConsoleSocket<T>(socketPath: string | undefined, fn: (sock: () => number) => Promise<T>): Promise<T> {
  let fd: number | undefined;
  let failed: unknown;
  if (socketPath) {
    try {
      fd = connectSocket(socketPath);
    } catch (err) {
      failed = err;
    }
  }
  const sock = () => {
    if (fd === undefined) throw failed ?? new TypeError('no --console-socket was given');
    return fd;
  };
  try {
    return await fn(sock);
  } finally {
    if (fd !== undefined) closeFd(fd);
  }
}

/** runc libcontainer Create's words (engines and runc's own tests match them). */
const FROZEN = "container's cgroup unexpectedly frozen";

/**
 * runc libcontainer Create, before the cgroup is made: the init must not be placed in a frozen
 * cgroup (it would never answer) nor in one that holds processes already (runc HEAD refuses; 1.1.5
 * warned). A cgroupsPath that names an existing cgroup by its absolute path is a cgroup shared by
 * design (an engine placing several containers; issue 13's shared cgroup, which tsrun never kills
 * whole): there the processes only get runc 1.1.5's warning.
 */
function assertVacant(cgm: Manager, spec: Spec, logger: Logger): void {
  const { pids, frozen } = cgm.occupancy();
  if (pids.length) {
    const words = `container's cgroup is not empty: ${pids.length} process(es) found`;
    const shared = cgm.driver === 'fs' && !!spec.linux?.cgroupsPath?.startsWith('/');
    if (!shared) throw new CgroupError(words);
    logger.warn(words);
  }
  if (frozen) throw new CgroupError(FROZEN);
}

/**
 * Creates the container. The CLI and the library both call this; every wait (the handshake with
 * the init, D-Bus, hooks) happens on the event loop. Aborting kills the half-made init: the
 * handshake then fails and the create is undone as for any other error.
 */
export async function createContainer(o: CreateOptions & { signal?: AbortSignal }): Promise<Created> {
  o.signal?.throwIfAborted();
  return withConsoleSocket(o.consoleSocket, (sock) => create(o, sock));
}

async function create(o: CreateOptions & { signal?: AbortSignal }, consoleSock: () => number): Promise<Created> {
  const store = new StateStore(o.root);
  store.dir(o.id); // validates the id before anything else
  const bundle = path.resolve(o.bundle);
  // Every spec, read from config.json or handed in as an object, is validated before the first
  // side effect; where runc only warns, the warning goes to the logger.
  const warnings: string[] = [];
  const spec = o.spec ? validateSpec(o.spec, { warnings }) : loadSpec(bundle, { warnings });
  for (const w of warnings) o.logger.warn(w);
  // runc HEAD warns from its init (ApplyCaps) for run and create as for exec.
  for (const w of ambientWarnings(spec.process?.capabilities)) o.logger.warn(w);
  const rootfs = resolveRootfs(bundle, spec);
  // runc utils_linux.go: a terminal needs someone to hold the master.
  if (spec.process?.terminal && !o.consoleSocket && !o.holdConsole && (o.mode === 'create' || o.detach)) {
    throw new TsrunError('TSRUN_INVALID_ARGUMENT', 'cannot allocate tty if tsrun will detach without setting console socket');
  }
  if (!spec.process?.terminal && o.consoleSocket) {
    throw new TsrunError('TSRUN_INVALID_ARGUMENT', 'cannot use console socket if tsrun will not detach or allocate tty');
  }
  if (o.consoleSocket) consoleSock(); // connected, or its error now

  assertHostSupport(spec);
  const seccomp = loadSeccomp(spec, o.logger, o.root);
  const undo: (() => void | Promise<void>)[] = [];
  const rollback = async () => {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (err) {
        o.logger.warn(`cleanup after failed create: ${(err as Error).message}`);
      }
    }
  };

  const dir = o.claimed ? store.dir(o.id) : store.claim(o.id);
  undo.push(() => store.remove(o.id));
  try {
    const release = store.lock(o.id);
    undo.push(release);

    const record: ContainerRecord = {
      ociVersion: spec.ociVersion,
      id: o.id,
      pid: 0,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      annotations: spec.annotations,
      owner: ownerName(),
      config: spec,
      creating: true,
    };

    // cgroup: placement in the unified hierarchy when one is mounted (the none driver otherwise),
    // limits applied before the init exists (the runtime itself is never in the container's
    // cgroup: CLONE_INTO_CGROUP).
    const cgm = newManager({ id: o.id, cgroupsPath: spec.linux?.cgroupsPath, systemd: o.systemdCgroup });
    const problems = cgm.check(spec.linux?.resources);
    if (problems.length) {
      if (cgm.driver === 'none') throw new InvalidSpecError(problems);
      throw new CgroupError(`cgroup ${cgm.dir}: ${problems.join('; ')}`);
    }
    const unified = unifiedMount();
    if (cgm.driver === 'fs' && unified) {
      // Named in state.json before the directories exist: a create killed between the mkdir and
      // the first write of the state would leave a cgroup `delete --force` cannot know about.
      const planned: string[] = [];
      for (let d = cgm.dir; d.startsWith(unified + '/') && !existsSync(d); d = path.dirname(d)) planned.unshift(d);
      record.cgroup = { dir: cgm.dir, created: planned };
      store.save(record);
    }
    assertVacant(cgm, spec, o.logger);
    const placed = await cgm.create();
    record.cgroup = cgm.record();
    undo.push(() => cgm.destroy());
    // A new cgroup below a frozen one is born frozen (cgroup-v2.rst "cgroup.freeze").
    if (cgm.occupancy().frozen) throw new CgroupError(FROZEN);
    const cgroupFd = placed.fd >= 0 ? placed.fd : undefined;
    if (cgroupFd !== undefined) undo.push(() => closeFd(cgroupFd));
    await cgm.set(spec.linux?.resources, { devices: true });
    store.save(record);

    let fifoFd: number | undefined;
    if (o.mode === 'create') {
      const fifo = path.join(dir, FIFO_FILE);
      addon().mkfifo(fifo, 0o622);
      // Held open for reading by the init: `start` opens it for writing and sends one byte.
      fifoFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      undo.push(() => closeFd(fifoFd!));
      undo.push(() => rmSync(fifo, { force: true }));
    }

    const nsFds = new Map<NamespaceType, number>();
    for (const ns of spec.linux?.namespaces ?? []) {
      if (!ns.path) continue;
      try {
        nsFds.set(ns.type, openSync(ns.path, constants.O_RDONLY));
      } catch (err) {
        throw new InvalidSpecError([`linux.namespaces (${ns.type}): open ${ns.path}: ${(err as NodeJS.ErrnoException).code}`]);
      }
    }
    undo.push(() => nsFds.forEach((fd) => closeFd(fd)));

    // Only the CLI passes socket activation on: a service's own LISTEN_FDS are not its containers'.
    const listening = o.passListenFds ? listenFds() : 0;
    const preserveFds = (o.preserveFds ?? 0) + listening;
    // The container's init is told about them as pid 1 (runc: LISTEN_FDS=n, LISTEN_PID=1).
    const initSpec =
      listening && spec.process
        ? { ...spec, process: { ...spec.process, env: [...(spec.process.env ?? []), `LISTEN_FDS=${listening}`, 'LISTEN_PID=1'] } }
        : spec;
    // runc utils_linux.go: the notify dir exists (and is bound in) from create; `run` listens
    // before the init can send, `create` leaves the socket to `start`.
    let notify: NotifyListener | undefined;
    if (o.notifySocket) {
      makeNotifyDir(dir);
      record.notifySocket = notifySocketPath(dir);
      if (o.mode === 'run') {
        notify = NotifyListener.bind(dir);
        undo.push(() => notify!.close());
      }
    }
    const spawned = spawnPlan({
      mode: spawnModeFor(spec, o.spawnMode),
      preserveFds,
      fifoFd,
      nsFds,
      cgroupFd,
      stdio: o.stdio,
      compile: (fds) =>
        compilePlan({
          spec: o.notifySocket ? notifySpec(initSpec, dir) : initSpec,
          bundle,
          rootfs,
          mode: o.mode,
          fifoFd: fds.fifoFd,
          preserveFds,
          noPivot: !!o.noPivot,
          nsFds: fds.nsFds,
          cgroupDir: record.cgroup?.dir,
          seccomp,
          forceUnshare: fds.forceUnshare,
          stdio: fds.stdio,
        }),
    });
    const { plan, child } = spawned;
    // Moves the init in if CLONE_INTO_CGROUP was refused; systemd: tsrun leaves the scope, limits.
    undo.push(() => killAndReap(child));
    await cgm.placed(child.pid, cgroupFd !== undefined && spawned.intoCgroup);

    let consoleFd: number | undefined;
    undo.push(() => {
      if (consoleFd !== undefined) closeFd(consoleFd);
    });
    const handshake: HandshakeOptions = {
      spec,
      plan,
      mode: o.mode,
      onCreateRuntime: async (c) => {
        const state = hookState(spec, o.id, bundle, 'creating', c.pid);
        await runHooks('prestart', spec.hooks?.prestart, state);
        await runHooks('createRuntime', spec.hooks?.createRuntime, state);
      },
      stateFor: (status, c) => JSON.stringify(hookState(spec, o.id, bundle, status, c.pid)),
      stepTimeoutMs: o.setupStepTimeoutMs === undefined ? undefined : setupStepBound(spec, o.setupStepTimeoutMs),
      // A cgroup frozen after the check (or by an ancestor meanwhile) holds the init: say so.
      describeTimeout: () => (cgm.occupancy().frozen ? new CgroupError(FROZEN) : undefined),
      onSeccompListener: (fd, c) => forwardListener(spec, fd, hookState(spec, o.id, bundle, 'creating', c.pid)),
      onConsole: (master) => {
        if (!o.consoleSocket) {
          consoleFd = master;
          return;
        }
        try {
          addon().sendFd(consoleSock(), master, '/dev/ptmx');
        } finally {
          closeFd(master);
        }
      },
      onReady: (c) => {
        record.pid = c.pid;
        record.pidStartTime = readProcStat(c.pid)?.startTime;
        delete record.creating;
        store.save(record);
        if (o.pidfdSocket) sendToSocket(o.pidfdSocket, c.pidfd, 'pidfd');
        if (o.pidFile) {
          writeAtomic(path.resolve(o.pidFile), String(c.pid), 0o644);
          undo.push(() => rmSync(path.resolve(o.pidFile!), { force: true }));
        }
      },
    };
    // Aborting kills the child: the handshake then fails and the create is undone. The listener
    // goes the moment the handshake settles (the first reaction to it, before this function
    // resumes): an abort after that never touches a container that is reported as made. An abort
    // that killed the child after its last message was already on the socket lets the handshake
    // succeed with a dead child: that create is undone too, never reported as made.
    let settled = false;
    let killed = false;
    const abort = () => {
      if (settled) return;
      killed = true;
      try {
        addon().pidfdSendSignal(child.pidfd, 9);
      } catch {
        /* gone already */
      }
    };
    const stopListening = () => {
      settled = true;
      o.signal?.removeEventListener('abort', abort);
    };
    o.signal?.addEventListener('abort', abort, { once: true });
    const shaken = runHandshake(child, handshake);
    shaken.then(stopListening, stopListening);
    try {
      await shaken;
    } catch (err) {
      throw o.signal?.aborted ? o.signal.reason : err;
    } finally {
      stopListening();
    }
    if (killed) throw o.signal?.reason;
    for (const fd of nsFds.values()) closeFd(fd);
    if (fifoFd !== undefined) closeSync(fifoFd);
    if (cgroupFd !== undefined) closeFd(cgroupFd);
    release();
    return { record, child, consoleFd, notify };
  } catch (err) {
    await rollback();
    throw err;
  }
}
