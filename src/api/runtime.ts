// The library's entry point: one state root's containers, as a long-lived service uses them.
// Every verb is the lifecycle function the CLI awaits too (container/*); what differs is only
// around them: the container's stdio are pipes or a pty handed back as Node streams, this process
// stays the init's parent (so wait() gets the real exit status), and events are published. Nothing here prints or exits; failures are TsrunErrors with
// stable codes, and lifecycle events go to events() and to node:diagnostics_channel.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createContainer } from '../container/create.js';
import { deleteContainer } from '../container/delete.js';
import { statsEvent, type ContainerEvent } from '../container/events.js';
import { startExec } from '../container/exec.js';
import { openContainer } from '../container/handle.js';
import { killContainer } from '../container/kill.js';
import { silentLogger, type Logger } from '../logger.js';
import { pauseContainer, resumeContainer } from '../container/pause.js';
import { waitPidExit } from '../container/process-control.js';
import { containerPids } from '../container/ps.js';
import { runContainer } from '../container/run.js';
import { startContainer } from '../container/start.js';
import { containerState, listContainers, type ContainerState } from '../container/state.js';
import { updateContainer } from '../container/update.js';
import { InvalidArgumentError, type TsrunError } from '../errors.js';
import { prepareImageContainer, type ImageRunEvent } from '../container/image-run.js';
import { helperPath, type SpawnMode } from '../process/spawn.js';
import { packageRoot } from '../sys/addon.js';
import type { LinuxResources, Spec } from '../spec/types.js';
import { DEFAULT_ROOT } from '../state/store.js';
import { Container } from './container.js';
import { publish } from './diagnostics.js';
import { EventHub, type EventsOptions, type RuntimeEvent } from './events.js';
import { Images, DEFAULT_IMAGE_ROOT } from './images.js';
import { Networks, ServiceContainers, Volumes } from './services.js';
import { ProcessHandle, abortable, toSignalNumber, type SignalLike } from './process-handle.js';
import {
  applyContainerOptions,
  buildProcess,
  limitsToResources,
  specFromOptions,
  type Limits,
  type ProcessOptions,
  type RootfsOptions,
} from './spec-options.js';
import { normalizeStdio, pipeDir, prepareStdio, ptyStream, type PreparedStdio, type StdioOption } from './stdio.js';

export interface RuntimeOptions {
  /** State directory (runc's --root). Default /run/tsrun. */
  root?: string;
  /** Image store (pull, images, create from an image). Default /var/lib/tsrun. */
  imageRoot?: string;
  logger?: Logger;
  /**
   * How container processes are started: 'helper' (default when build/Release/tsrun-init exists)
   * posix_spawns the static tsrun-init, whose cost does not grow with this process's memory;
   * 'direct' clones this process (slightly cheaper while it is small). Used for create and exec.
   */
  spawn?: SpawnMode;
  /**
   * The service this Runtime's Docker-style containers (rt.containers) belong to: each carries
   * its name and this process's identity as labels, and the containers of an instance of the same
   * service that has died are removed (with their network attachments and anonymous volumes) when
   * a Runtime with this service is made, and by reap().
   */
  service?: string;
}

export interface CommonCreateOptions {
  /** The init's stdin, stdout, stderr: 'pipe' (default: Node streams), 'ignore', 'inherit' or an fd. */
  stdio?: StdioOption;
  /** Abandon the create: the half-made container is killed and removed, the call rejects. */
  signal?: AbortSignal;
}

export interface BundleSource extends CommonCreateOptions {
  /** An OCI bundle directory (config.json + rootfs). */
  bundle: string;
  /** Use this config instead of <bundle>/config.json. */
  spec?: Spec;
}

export interface RootfsSource extends CommonCreateOptions, RootfsOptions {}

export interface ImageSource extends CommonCreateOptions, Omit<RootfsOptions, 'rootfs' | 'args'> {
  /** Image reference, name or ID; pulled when not in the store. */
  image: string;
  /** Replaces the image's Cmd. */
  args?: string[];
  /** Replaces the image's Entrypoint (and drops its Cmd). */
  entrypoint?: string;
  /** Pull and unpack progress. */
  onProgress?: (e: ImageRunEvent) => void;
}

export type CreateContainerOptions = BundleSource | RootfsSource | ImageSource;

export interface ExecOptions extends ProcessOptions {
  stdio?: StdioOption;
  /** Kills the process if it fires before its set-up is over. */
  signal?: AbortSignal;
}

export interface DeleteOptions {
  /** Kill a running or paused container first (SIGKILL to all its processes). */
  force?: boolean;
  /** Resolve instead of throwing TSRUN_NOT_FOUND when the container does not exist. */
  missingOk?: boolean;
}

export class Runtime {
  readonly root: string;
  readonly imageRoot: string;
  readonly spawn: SpawnMode;
  readonly images: Images;
  /** Docker-style containers from images: networks, published ports, volumes, logs, copy, readiness. */
  readonly containers: ServiceContainers;
  /** CNI bridge networks for rt.containers. */
  readonly networks: Networks;
  /** Named and anonymous volumes for rt.containers. */
  readonly volumes: Volumes;
  readonly #logger: Logger;
  readonly #own = new Map<string, Container>();
  readonly #hub = new EventHub();
  #turn: Promise<void> = Promise.resolve();
  readonly #pipeDir: string;

  constructor(o: RuntimeOptions = {}) {
    if (o.spawn !== undefined && o.spawn !== 'direct' && o.spawn !== 'helper') {
      throw new InvalidArgumentError(`spawn: "${String(o.spawn)}" is not 'direct' or 'helper'`);
    }
    this.root = path.resolve(o.root ?? DEFAULT_ROOT);
    this.imageRoot = path.resolve(o.imageRoot ?? DEFAULT_IMAGE_ROOT);
    this.#logger = o.logger ?? silentLogger;
    // The helper's cost does not grow with this process's heap (a clone copies its page tables:
    // measured 26 ms at 60 MiB, 362 ms at 2 GiB, and the event loop is blocked meanwhile).
    this.spawn = o.spawn ?? (existsSync(helperPath()) ? 'helper' : 'direct');
    this.#pipeDir = pipeDir(this.root);
    this.images = new Images(this.imageRoot, (name, msg) => publish(name, msg), this.root);
    // The monitor runs this package's CLI for a container's create and cleanup steps.
    const roots = { root: this.root, imageRoot: this.imageRoot, logger: this.#logger, self: [path.join(packageRoot(), 'bin', 'tsrun')] };
    this.containers = new ServiceContainers(roots, o.service, (e) => this.#emit(e));
    this.networks = new Networks(this.imageRoot);
    this.volumes = new Volumes(this.imageRoot);
    // Never rejects: a failure is logged, and the first container verb waits for it.
    if (o.service !== undefined) void this.containers.reapOnce();
  }

  /**
   * Removes the Docker-style containers of this Runtime's service whose instance (process) is
   * dead, with their network attachments and anonymous volumes; returns their ids.
   */
  reap(): Promise<string[]> {
    return this.containers.reap();
  }

  /** Creates the container; its init is parked before execve until start(). */
  create(id: string, o: CreateContainerOptions): Promise<Container> {
    return this.#make(id, o, 'create');
  }

  /** Creates and starts: resolves once the process has exec'd. */
  run(id: string, o: CreateContainerOptions): Promise<Container> {
    return this.#make(id, o, 'run');
  }

  /** The handle of a container this Runtime made (for its streams and exit), if it has one. */
  get(id: string): Container | undefined {
    return this.#own.get(id);
  }

  async start(id: string): Promise<void> {
    const rec = await this.#do(id, 'start', () => startContainer({ root: this.root, id, logger: this.#logger }));
    this.#emit({ type: 'start', id, pid: rec.pid });
  }

  async kill(id: string, signal: SignalLike = 'SIGTERM', o: { all?: boolean } = {}): Promise<void> {
    const n = toSignalNumber(signal);
    await this.#do(id, 'kill', () => killContainer({ root: this.root, id, signal: n, all: !!o.all }));
    this.#emit({ type: 'kill', id, sent: n });
  }

  /**
   * Resolves with the init's { exitCode, signal } when it exits. For a container made by another
   * process (the CLI), this process is not the parent: the exit is seen, its status is not
   * (both fields null).
   */
  async wait(id: string, o: { signal?: AbortSignal } = {}) {
    const own = this.#own.get(id);
    if (own) return own.wait(o);
    const st = await this.state(id);
    if (st.status === 'stopped') return { exitCode: null, signal: null };
    await abortable(waitPidExit(st.pid), o.signal);
    return { exitCode: null, signal: null };
  }

  async exec(id: string, o: ExecOptions): Promise<ProcessHandle> {
    const h = await this.#do(id, 'exec', () => openContainer(this.root, id));
    h.release();
    const rec = h.record;
    const proc = buildProcess(o, rec.config.process ?? { user: { uid: 0, gid: 0 }, cwd: '/' });
    await this.#nextTurn();
    const stdio = proc.terminal ? null : prepareStdio(normalizeStdio(o.stdio), this.#pipeDir);
    let started;
    try {
      started = await startExec({
        root: this.root,
        id,
        process: proc,
        logger: this.#logger,
        stdio: stdio?.childFds,
        signal: o.signal,
        spawnMode: this.spawn,
      });
    } catch (err) {
      stdio?.destroy();
      throw this.#failed(id, 'exec', err);
    } finally {
      stdio?.closeChildEnds();
    }
    const pty = started.consoleFd !== undefined ? ptyStream(started.consoleFd) : null;
    const handle = new ProcessHandle(
      started.pid,
      started.pidfd,
      { stdin: stdio?.stdin ?? null, stdout: stdio?.stdout ?? null, stderr: stdio?.stderr ?? null, pty, masterFd: started.consoleFd },
      (s) => this.#emit({ type: 'exec-exit', id, pid: started.pid, exitCode: s.exitCode, signal: s.signal }),
    );
    this.#emit({ type: 'exec', id, pid: started.pid }, { args: proc.args });
    return handle;
  }

  async state(id: string): Promise<ContainerState> {
    return this.#do(id, 'state', () => containerState({ root: this.root, id }));
  }

  async list(): Promise<ContainerState[]> {
    return listContainers({ root: this.root });
  }

  /** Host pids of the container's processes (from its cgroup). */
  async pids(id: string): Promise<number[]> {
    return this.#do(id, 'pids', () => containerPids({ root: this.root, id }));
  }

  /** cgroup statistics (memory, cpu, pids, io). */
  async stats(id: string): Promise<ContainerEvent['data']> {
    return (await this.#do(id, 'stats', () => statsEvent({ root: this.root, id }))).data;
  }

  async pause(id: string): Promise<void> {
    await this.#do(id, 'pause', () => pauseContainer({ root: this.root, id }));
    this.#emit({ type: 'pause', id });
  }

  async resume(id: string): Promise<void> {
    await this.#do(id, 'resume', () => resumeContainer({ root: this.root, id }));
    this.#emit({ type: 'resume', id });
  }

  /** Changes cgroup limits: { memory, cpus, pids } or raw linux.resources. Returns the merged resources. */
  async update(id: string, r: Limits | LinuxResources): Promise<LinuxResources> {
    const isLimits = Object.keys(r).every((k) => k === 'memory' || k === 'cpus' || k === 'pids') && !Object.values(r).some((v) => typeof v === 'object');
    const resources = isLimits ? limitsToResources(r as Limits) : (r as LinuxResources);
    const merged = await this.#do(id, 'update', () => updateContainer({ root: this.root, id, resources }));
    this.#emit({ type: 'update', id });
    return merged;
  }

  /**
   * Removes the container: container/delete.ts, the one the CLI's `delete` awaits. A created
   * container is killed first; a running or paused one only with force. The waits (the init's
   * pidfd, the cgroup emptying) are on the event loop.
   */
  async delete(id: string, o: DeleteOptions = {}): Promise<void> {
    const own = this.#own.get(id);
    await this.#nextTurn();
    try {
      await deleteContainer({ root: this.root, id, force: o.force, logger: this.#logger });
    } catch (err) {
      if (!(o.missingOk && (err as TsrunError).code === 'TSRUN_NOT_FOUND')) throw this.#failed(id, 'delete', err);
      if (this.#own.get(id) === own) this.#own.delete(id);
      return;
    }
    // Ours is reaped by its pidfd watcher: wait for that, so no zombie outlives the delete.
    if (own && !own.exitStatus) await own.wait().catch(() => {});
    if (this.#own.get(id) === own) this.#own.delete(id);
    this.#emit({ type: 'delete', id });
  }

  /** Lifecycle events of the containers this Runtime handles, until signal aborts. */
  events(o: EventsOptions = {}): AsyncGenerator<RuntimeEvent, void, undefined> {
    return this.#hub.iterate(o);
  }

  /** Pulls an image into imageRoot. */
  pull(ref: string, o: Parameters<Images['pull']>[1] = {}) {
    return this.images.pull(ref, o);
  }

  async #make(id: string, o: CreateContainerOptions, mode: 'create' | 'run'): Promise<Container> {
    const t0 = performance.now();
    if (!o || typeof o !== 'object') throw new InvalidArgumentError('create: options are required ({ bundle } | { rootfs, args } | { image })');
    const sources = ['bundle', 'rootfs', 'image'].filter((k) => (o as unknown as Record<string, unknown>)[k] !== undefined);
    if (sources.length !== 1) throw new InvalidArgumentError(`create ${id}: give exactly one of bundle, rootfs or image (got ${sources.join(', ') || 'none'})`);
    o.signal?.throwIfAborted();

    let bundle: string;
    let spec: Spec | undefined;
    let prepared: Awaited<ReturnType<typeof prepareImageContainer>> | undefined;
    if ('bundle' in o && o.bundle !== undefined) {
      bundle = path.resolve(o.bundle);
      spec = o.spec;
    } else if ('rootfs' in o && o.rootfs !== undefined) {
      spec = specFromOptions(o);
      bundle = path.dirname(path.resolve(o.rootfs));
    } else {
      const io = o as ImageSource;
      prepared = await this.#do(id, 'create', () =>
        prepareImageContainer({
          image: io.image,
          id,
          root: this.root,
          imageRoot: this.imageRoot,
          command: io.args,
          entrypoint: io.entrypoint,
          env: envArray(io.env),
          workdir: io.cwd,
          tty: io.terminal,
          readOnly: io.readonlyRootfs,
          network: io.network,
          hostname: io.hostname,
          pull: { signal: io.signal },
          onEvent: io.onProgress,
        }),
      );
      bundle = prepared.dir;
      spec = prepared.spec;
      spec.process = buildProcess({ ...io, args: spec.process!.args!, env: undefined, cwd: undefined }, spec.process!);
      applyContainerOptions(spec, io);
      writeFileSync(path.join(bundle, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
    }

    const terminal = spec ? !!spec.process?.terminal : readTerminal(bundle);
    let stdio: PreparedStdio | null = null;
    await this.#nextTurn();
    try {
      stdio = terminal ? null : prepareStdio(normalizeStdio(o.stdio), this.#pipeDir);
      let created;
      try {
        const common = {
          id,
          bundle,
          root: this.root,
          logger: this.#logger,
          spec,
          spawnMode: this.spawn,
          stdio: stdio?.childFds,
          holdConsole: true,
          signal: o.signal,
          // An image container's state dir was claimed by prepareImageContainer (its intent).
          claimed: prepared !== undefined,
        };
        // run: container/run.ts, as the CLI's `run` (create, then the poststart hooks).
        created = mode === 'run' ? await runContainer(common) : await createContainer({ ...common, mode });
      } finally {
        stdio?.closeChildEnds();
      }
      const { child, consoleFd } = created;
      const pty = consoleFd !== undefined ? ptyStream(consoleFd) : null;
      const init = new ProcessHandle(
        child.pid,
        child.pidfd,
        { stdin: stdio?.stdin ?? null, stdout: stdio?.stdout ?? null, stderr: stdio?.stderr ?? null, pty, masterFd: consoleFd },
        (s) => this.#emit({ type: 'exit', id, pid: child.pid, exitCode: s.exitCode, signal: s.signal }),
      );
      const c = new Container(this, id, init);
      this.#own.set(id, c);
      this.#emit({ type: 'create', id, pid: child.pid }, { bundle, durationMs: performance.now() - t0 });
      if (mode === 'run') this.#emit({ type: 'start', id, pid: child.pid });
      return c;
    } catch (err) {
      stdio?.destroy();
      if (prepared) {
        try {
          prepared.abandon();
        } catch (e) {
          this.#logger.warn(`create ${id}: cleanup of the image bundle: ${(e as Error).message}`);
        }
      }
      throw this.#failed(id, 'create', err);
    } finally {
      prepared?.closeNetns();
    }
  }

  /**
   * Resolves on a later turn of the event loop than any earlier caller: the synchronous part of a
   * create, exec or delete (spawn, cgroup set-up, state writes: a few ms each) then runs one per
   * turn, with timers and I/O in between, instead of twenty back to back when twenty requests
   * arrive in one poll phase. (Immediates queued while the check phase runs wait for the next
   * turn: Node's event-loop guide, "setImmediate() vs setTimeout()".)
   */
  #nextTurn(): Promise<void> {
    const mine = this.#turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    this.#turn = mine;
    return mine;
  }

  #emit(e: Omit<RuntimeEvent, 'time'>, extra: object = {}): void {
    const full = this.#hub.emit(e);
    publish(e.type, { ...full, ...extra });
  }

  #failed(id: string, op: string, err: unknown): unknown {
    publish('error', { id, op, error: err });
    return err;
  }

  /** Runs a step, publishing its failure on tsrun:container:error. */
  #do<T>(id: string, op: string, fn: () => T): T {
    try {
      const r = fn();
      if (r instanceof Promise) return r.catch((err) => Promise.reject(this.#failed(id, op, err))) as T;
      return r;
    } catch (err) {
      throw this.#failed(id, op, err);
    }
  }
}

function envArray(env: ProcessOptions['env']): string[] | undefined {
  if (!env) return undefined;
  return Array.isArray(env) ? [...(env as readonly string[])] : Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

function readTerminal(bundle: string): boolean {
  try {
    return !!(JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Spec).process?.terminal;
  } catch {
    return false; // create reports the unreadable config.json with its own words
  }
}
