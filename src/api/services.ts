// The Docker-style half of the library: detached containers from images with networks, published
// ports, volumes and logs, held by their monitors (not by this process), as `tsrun container run -d`
// makes them. Every verb is the front's own function (front/containers.ts, front/logs.ts,
// net/network.ts, volume/store.ts): the library and the CLI make the same containers, and either
// can list, stop or remove what the other made.
//
// A service's identity: a Runtime given `service: 'name'` labels every container it starts with
// the service's name and its instance (boot id, pid namespace, pid and start time of this
// process). reap() removes the containers of the same service whose instance is dead, with their
// network attachments and anonymous volumes; a Runtime with a service reaps once on its own before
// its first container verb. Instances of one service share a pid namespace: one in another pid
// namespace cannot be judged and is never reaped.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { InvalidArgumentError, InvalidStateError, TsrunError } from '../errors.js';
import {
  createFront,
  frontState,
  inspectFront,
  killFront,
  listFront,
  logFileOf,
  readExit,
  readFront,
  removeFront,
  resolveContainer,
  startFront,
  stopFront,
  volumeInUseError,
  volumesInUse,
  waitFront,
  type FrontCreateOptions,
  type FrontRoots,
  type FrontStatus,
} from '../front/containers.js';
import { followLogs, readAllLogs, type LogEntry } from '../front/logs.js';
import type { FrontRecord } from '../front/store.js';
import { containerDirOf } from '../image/image-rootfs.js';
import type { ImageRunEvent } from '../container/image-run.js';
import {
  createNetwork,
  getAttachment,
  inspectNetwork,
  listNetworks,
  pruneNetworks,
  removeNetwork,
  type CreateNetworkOptions,
  type NetworkInfo,
  type NetworkRecord,
  type PublishedPort,
} from '../net/network.js';
import type { Spec } from '../spec/types.js';
import { VolumeStore, type VolumeRecord } from '../volume/store.js';
import { parseSignal } from '../container/signals.js';
import { ContainerRoot, copyIn, copyOut, type CopyResult } from './copy.js';
import type { RuntimeEvent } from './events.js';

export type { LogEntry, CopyResult, PublishedPort, NetworkInfo, NetworkRecord, VolumeRecord, FrontStatus as ServiceContainerStatus };

/** The label naming the service a container belongs to. */
export const SERVICE_LABEL = 'io.tsrun.service';
/** The label naming the service instance (the process) that started it. */
export const INSTANCE_LABEL = 'io.tsrun.service.instance';

export interface ServiceRunOptions {
  /** Image reference, name or ID (pulled when missing, as `pull` says). */
  image: string;
  /** The command (replaces the image's Cmd). */
  args?: string[];
  /** Replaces the image's Entrypoint. */
  entrypoint?: string;
  /** The container's name (unique per image root); default tsrun_<id12>. */
  name?: string;
  env?: Record<string, string> | readonly string[];
  workdir?: string;
  /** user[:group] as in the image's /etc/passwd, or uid[:gid]. */
  user?: string;
  hostname?: string;
  /**
   * 'none' (only lo), 'host', 'container:<ref>', or network names (the default bridge network is
   * 'bridge'). Default: 'bridge', as Docker.
   */
  network?: string | readonly string[];
  /** Names the others on its user networks resolve it by, besides its name. */
  networkAliases?: readonly string[];
  /**
   * Published ports, Docker's `-p` grammar ('127.0.0.1:8080:80', '8080:80', '80/udp'), or a bare
   * container port number (published on a free ephemeral host port). The host ports chosen are
   * in ServiceContainer.ports and hostPort().
   */
  publish?: readonly (string | number)[];
  /** Publish every EXPOSEd port of the image on an ephemeral host port (`-P`). */
  publishAll?: boolean;
  /** `-v` grammar: 'name:/path' (a named volume, made on first use), '/host:/path[:ro]', '/path' (anonymous). */
  volumes?: readonly string[];
  /** `--mount` grammar. */
  mounts?: readonly string[];
  /** `--tmpfs` grammar. */
  tmpfs?: readonly string[];
  labels?: Record<string, string>;
  /** Remove the container (and its anonymous volumes) when it exits, even if this process is gone. */
  rm?: boolean;
  readOnly?: boolean;
  /** Docker's sizes: '64m'. */
  memory?: string;
  cpus?: string;
  pidsLimit?: number;
  /** The signal stop() sends first (default the image's StopSignal, else SIGTERM). */
  stopSignal?: string;
  /** Seconds stop() waits before SIGKILL (default 10). */
  stopTimeout?: number;
  addHost?: readonly string[];
  dns?: readonly string[];
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
  securityOpt?: readonly string[];
  /** json-file log options: 'max-size=10m', 'max-file=3'. */
  logOpt?: readonly string[];
  pull?: 'always' | 'missing' | 'never';
  onProgress?: (e: ImageRunEvent) => void;
}

export interface LogsOptions {
  /** Keep reading what is appended until the container exits (or signal aborts). */
  follow?: boolean;
  /** Only the last N lines of what is there when the call starts. */
  tail?: number;
  signal?: AbortSignal;
}

export interface ReadyOptions {
  /**
   * A TCP port of the container that must accept a connection: tried at the container's address
   * on its first network (127.0.0.1 with network 'host'). Not with network 'none'.
   */
  port?: number;
  /** A log line (stdout or stderr) that must appear: a RegExp, or a string it must contain. */
  log?: RegExp | string;
  /** Give up after this long (default 30 000 ms) with a TSRUN_TIMEOUT error. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface StopOptions {
  /** The signal to send first (default the container's stop signal). */
  signal?: string;
  /** Seconds before SIGKILL (default the container's stop timeout); -1 waits for ever. */
  timeout?: number;
}

export interface RemoveOptions {
  /** Stop a running container first (SIGKILL). */
  force?: boolean;
  /** Remove its anonymous volumes too (named volumes always stay). */
  volumes?: boolean;
}

/** A container as list() reports it. */
export interface ServiceContainerInfo {
  id: string;
  name: string;
  image: string;
  status: FrontStatus;
  /** The init's exit code once it has exited. */
  exitCode?: number;
  labels: Record<string, string>;
  ports: PublishedPort[];
  created: string;
}

/** The service timed out before it was ready (TSRUN_TIMEOUT), or it exited first (TSRUN_INVALID_STATE). */
export class NotReadyError extends TsrunError {
  readonly container: string;
  constructor(code: 'TSRUN_TIMEOUT' | 'TSRUN_INVALID_STATE', container: string, message: string) {
    super(code, message);
    this.container = container;
  }
}

interface Owner {
  service?: string;
  instance: string;
}

/** This process's identity as a service instance: boot id, pid namespace, pid, start time. */
export function instanceToken(pid = process.pid): string | undefined {
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ns = fs.statSync('/proc/self/ns/pid').ino;
    const start = startTime(pid);
    return start === undefined ? undefined : `${boot}/${ns}/${pid}/${start}`;
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (the process's start time in clock ticks after boot). */
function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether the instance a token names is certainly gone: another boot, or its pid dead or reused
 * (another start time) in this pid namespace. A token of another pid namespace, or one that
 * cannot be read, is never judged dead.
 */
export function instanceIsDead(token: string): boolean {
  const [boot, ns, pid, start] = token.split('/');
  if (!boot || !ns || !pid || !start || !/^\d+$/.test(pid)) return false;
  let myBoot: string;
  let myNs: number;
  try {
    myBoot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    myNs = fs.statSync('/proc/self/ns/pid').ino;
  } catch {
    return false;
  }
  if (boot !== myBoot) return true;
  if (String(myNs) !== ns) return false;
  return startTime(Number(pid)) !== start;
}

function list(v: readonly (string | number)[] | string | undefined): string[] {
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : v.map(String);
}

function envList(env: ServiceRunOptions['env']): string[] {
  if (!env) return [];
  return Array.isArray(env) ? [...(env as readonly string[])] : Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/**
 * The Docker-style containers of one Runtime (`rt.containers`): run, stop, remove, logs,
 * readiness, copy, and the reaper. Made by the Runtime; not constructed by callers.
 */
export class ServiceContainers {
  readonly #roots: FrontRoots;
  readonly #owner: Owner;
  #reaped: Promise<void> | undefined;
  readonly #unreported: string[] = [];

  readonly #emit: (e: Omit<RuntimeEvent, 'time'>) => void;

  /** `emit` publishes the lifecycle events of these containers with the Runtime's own (events(), diagnostics_channel). */
  constructor(roots: FrontRoots, service?: string, emit: (e: Omit<RuntimeEvent, 'time'>) => void = () => {}) {
    this.#emit = emit;
    if (service !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(service)) {
      throw new InvalidArgumentError(`service: "${service}" is not a valid name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)`);
    }
    this.#roots = roots;
    this.#owner = { service, instance: instanceToken() ?? `unknown/${process.pid}` };
  }

  /** The service this Runtime's containers belong to, if it was given one. */
  get service(): string | undefined {
    return this.#owner.service;
  }

  /** Starts the first reap of a service Runtime (once); its failure is logged, not thrown. */
  reapOnce(): Promise<void> {
    const service = this.#owner.service;
    if (service === undefined) return Promise.resolve();
    this.#reaped ??= this.#sweep(service).then(
      (ids) => {
        this.#unreported.push(...ids);
        if (ids.length) this.#roots.logger.info(`service ${service}: removed ${ids.length} container(s) of a dead instance`);
      },
      (err: Error) => this.#roots.logger.warn(`reap service ${service}: ${err.message}`),
    );
    return this.#reaped;
  }

  /** Resolves once the first reap is over: no verb races it. */
  async #ready(): Promise<void> {
    await this.reapOnce();
  }

  /**
   * Creates a container from an image (pulled as `pull` says), connected to its networks with its
   * ports published and its volumes mounted, held by its own monitor; it is not started.
   */
  async create(o: ServiceRunOptions): Promise<ServiceContainer> {
    await this.#ready();
    if (!o || typeof o.image !== 'string' || !o.image) throw new InvalidArgumentError('containers.create: image is required');
    const labels = { ...(o.labels ?? {}) };
    if (this.#owner.service !== undefined) {
      labels[SERVICE_LABEL] = this.#owner.service;
      labels[INSTANCE_LABEL] = this.#owner.instance;
    }
    const fo: FrontCreateOptions = {
      ...this.#roots,
      image: o.image,
      command: [...(o.args ?? [])],
      name: o.name,
      entrypoint: o.entrypoint,
      env: envList(o.env),
      volumes: list(o.volumes),
      mounts: list(o.mounts),
      tmpfs: list(o.tmpfs),
      workdir: o.workdir,
      user: o.user,
      hostname: o.hostname,
      tty: false,
      interactive: false,
      readOnly: !!o.readOnly,
      rm: !!o.rm,
      privileged: !!o.privileged,
      capAdd: list(o.capAdd),
      capDrop: list(o.capDrop),
      securityOpt: list(o.securityOpt),
      stopSignal: o.stopSignal,
      stopTimeout: o.stopTimeout,
      networks: list(o.network),
      networkAliases: list(o.networkAliases),
      publish: list(o.publish),
      publishAll: !!o.publishAll,
      addHost: list(o.addHost),
      dns: list(o.dns),
      dnsSearch: [],
      dnsOptions: [],
      labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`),
      logOpt: list(o.logOpt),
      memory: o.memory,
      cpus: o.cpus,
      pidsLimit: o.pidsLimit,
      pull: o.pull ?? 'missing',
      onEvent: o.onProgress,
      attach: false,
    };
    const c = await createFront(fo);
    // The monitor holds the container from here on: this process may exit at any time.
    c.monitor.release();
    this.#emit({ type: 'create', id: c.rec.id, pid: c.pid });
    return new ServiceContainer(this, c.rec);
  }

  /** create() then start(): resolves once the container's process has exec'd. */
  async run(o: ServiceRunOptions): Promise<ServiceContainer> {
    const c = await this.create(o);
    try {
      await this.start(c.id);
    } catch (err) {
      await removeFront(this.#roots, c.record, { force: true, volumes: true }).catch(() => {});
      throw err;
    }
    return c;
  }

  /** A container by id, name or unique id prefix (TSRUN_NOT_FOUND when there is none). */
  async get(ref: string): Promise<ServiceContainer> {
    await this.#ready();
    return new ServiceContainer(this, resolveContainer(this.#roots.imageRoot, this.#roots.root, ref));
  }

  #rec(ref: string): FrontRecord {
    return resolveContainer(this.#roots.imageRoot, this.#roots.root, ref);
  }

  /** Every Docker-style container of this state root (all states), newest first. */
  async list(o: { service?: string } = {}): Promise<ServiceContainerInfo[]> {
    const out: ServiceContainerInfo[] = [];
    for (const rec of listFront(this.#roots.imageRoot, this.#roots.root)) {
      if (o.service !== undefined && rec.labels[SERVICE_LABEL] !== o.service) continue;
      const st = await frontState(this.#roots, rec).catch(() => ({ status: 'dead' as const, pid: 0, exit: undefined }));
      out.push({
        id: rec.id,
        name: rec.name,
        image: rec.image,
        status: st.status,
        ...(st.exit ? { exitCode: st.exit.exitCode } : {}),
        labels: rec.labels,
        ports: getAttachment(rec.id, { imageRoot: this.#roots.imageRoot })?.ports ?? [],
        created: rec.created,
      });
    }
    return out;
  }

  /** Starts a created container. */
  async start(ref: string): Promise<void> {
    const rec = this.#rec(ref);
    await startFront(this.#roots, rec);
    this.#emit({ type: 'start', id: rec.id });
  }

  /** The stop signal, then SIGKILL after the grace period; resolves once the exit is recorded. */
  async stop(ref: string, o: StopOptions = {}): Promise<void> {
    const rec = this.#rec(ref);
    await stopFront(this.#roots, rec, o);
    this.#emit({ type: 'stop', id: rec.id });
  }

  /** Sends a signal (default SIGKILL, as `docker kill`) to the container's init. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.#rec(ref);
    await killFront(this.#roots, rec, signal);
    this.#emit({ type: 'kill', id: rec.id, sent: parseSignal(signal) });
  }

  /** Resolves with the exit status (code, or 128+signal) once the container has exited. */
  async wait(ref: string, o: { signal?: AbortSignal } = {}): Promise<number> {
    return waitFront(this.#roots, this.#rec(ref), o.signal);
  }

  /** Removes the container with its network attachment (and its anonymous volumes with `volumes`). */
  async remove(ref: string, o: RemoveOptions = {}): Promise<void> {
    const rec = this.#rec(ref);
    await removeFront(this.#roots, rec, { force: o.force, volumes: o.volumes });
    this.#emit({ type: 'delete', id: rec.id });
  }

  /** Docker's inspect document (State, Config, NetworkSettings with the published ports, Mounts). */
  async inspect(ref: string): Promise<Record<string, unknown>> {
    return inspectFront(this.#roots, this.#rec(ref));
  }

  /** The host ports the container's ports are published on. */
  ports(ref: string): PublishedPort[] {
    return getAttachment(this.#rec(ref).id, { imageRoot: this.#roots.imageRoot })?.ports ?? [];
  }

  /**
   * The container's log (stdout and stderr, in order, from its json-file log): what is there, then
   * with `follow` what is appended until the container exits or `signal` aborts.
   */
  async *logs(ref: string, o: LogsOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
    const rec = this.#rec(ref);
    const file = logFileOf(containerDirOf(this.#roots.imageRoot, rec.id), rec.id);
    if (!o.follow) {
      const all = readAllLogs(file);
      yield* o.tail === undefined ? all : all.slice(Math.max(0, all.length - o.tail));
      return;
    }
    const queue: LogEntry[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: unknown;
    const local = new AbortController();
    const abort = () => local.abort();
    o.signal?.addEventListener('abort', abort, { once: true });
    const done = followLogs({
      file,
      tail: o.tail,
      done: () => this.#exited(rec.id),
      onEntry: (e) => {
        queue.push(e);
        wake?.();
      },
      signal: local.signal,
    }).then(
      () => {
        finished = true;
        wake?.();
      },
      (err: unknown) => {
        failure = err;
        finished = true;
        wake?.();
      },
    );
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (failure) throw failure;
    } finally {
      o.signal?.removeEventListener('abort', abort);
      local.abort();
      await done;
    }
  }

  #exited(id: string): boolean {
    return !!readExit(this.#roots.imageRoot, id) || !readFront(this.#roots.imageRoot, id);
  }

  /**
   * Waits until the container is ready: its TCP `port` accepts a connection and/or a log line
   * matches `log`. Rejects with NotReadyError: TSRUN_TIMEOUT after `timeoutMs`, or
   * TSRUN_INVALID_STATE as soon as the container has exited.
   */
  async waitReady(ref: string, o: ReadyOptions): Promise<void> {
    if (o.port === undefined && o.log === undefined) throw new InvalidArgumentError('waitReady: give a port, a log pattern, or both');
    const rec = this.#rec(ref);
    const timeoutMs = o.timeoutMs ?? 30_000;
    let host: string | undefined;
    if (o.port !== undefined) {
      if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new InvalidArgumentError(`waitReady: port ${o.port} is not a TCP port`);
      const att = getAttachment(rec.id, { imageRoot: this.#roots.imageRoot });
      host = att?.ips[0] ?? (rec.network === 'host' ? '127.0.0.1' : undefined);
      if (!host) throw new InvalidArgumentError(`waitReady ${rec.name}: its port ${o.port} cannot be reached from here (network ${rec.network})`);
    }
    const local = new AbortController();
    const onAbort = () => local.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const what = [o.port !== undefined ? `port ${o.port} to accept at ${host}` : '', o.log !== undefined ? `a log line matching ${String(o.log)}` : '']
      .filter(Boolean)
      .join(' and ');
    let lastLine = '';
    const timer = setTimeout(
      () =>
        local.abort(
          new NotReadyError(
            'TSRUN_TIMEOUT',
            rec.name,
            `container ${rec.name} was not ready after ${timeoutMs} ms: waited for ${what}${lastLine ? `; its last log line: ${JSON.stringify(lastLine)}` : ''}`,
          ),
        ),
      timeoutMs,
    );
    const exitedError = () => {
      const exit = readExit(this.#roots.imageRoot, rec.id);
      return new NotReadyError(
        'TSRUN_INVALID_STATE',
        rec.name,
        `container ${rec.name} exited${exit ? ` with status ${exit.status}` : ''} before it was ready (waited for ${what})${lastLine ? `; its last log line: ${JSON.stringify(lastLine)}` : ''}`,
      );
    };
    try {
      const checks: Promise<void>[] = [];
      if (o.log !== undefined) {
        const match = typeof o.log === 'string' ? (s: string) => s.includes(o.log as string) : (s: string) => (o.log as RegExp).test(s);
        checks.push(
          (async () => {
            for await (const e of this.logs(rec.id, { follow: true, signal: local.signal })) {
              lastLine = e.log.replace(/\n$/, '');
              if (match(e.log.replace(/\n$/, ''))) return;
            }
            local.signal.throwIfAborted();
            throw exitedError();
          })(),
        );
      }
      if (host !== undefined) {
        checks.push(
          (async () => {
            for (;;) {
              local.signal.throwIfAborted();
              if (await connects(host, o.port!, local.signal)) return;
              if (this.#exited(rec.id)) throw exitedError();
              await new Promise<void>((resolve) => setTimeout(resolve, 100));
            }
          })(),
        );
      }
      // Either failure ends the wait at once (the other is stopped by the abort below).
      await new Promise<void>((resolve, reject) => {
        let left = checks.length;
        for (const c of checks) c.then(() => --left === 0 && resolve(), reject);
      });
    } catch (err) {
      if (local.signal.aborted && local.signal.reason instanceof Error && err !== local.signal.reason && (err as Error).name === 'AbortError')
        throw local.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      local.abort();
    }
  }

  /**
   * Copies a host file or directory into the container (Docker cp semantics; see copy.ts): a
   * running, paused or created one through its init's root, a stopped one through its rootfs and
   * volumes.
   */
  async copyIn(ref: string, hostSrc: string, containerDest: string): Promise<CopyResult> {
    return this.#withRoot(ref, (root, who) => copyIn(root, hostSrc, containerDest, who));
  }

  /** Copies a file or directory of the container to the host (Docker cp semantics; see copyIn and copy.ts). */
  async copyOut(ref: string, containerSrc: string, hostDest: string): Promise<CopyResult> {
    return this.#withRoot(ref, (root, who) => copyOut(root, containerSrc, hostDest, who));
  }

  async #withRoot<T>(ref: string, fn: (root: ContainerRoot, who: string) => Promise<T>): Promise<T> {
    const rec = this.#rec(ref);
    const root = await this.#copyRoot(rec);
    try {
      return await fn(root, rec.name);
    } finally {
      root.close();
    }
  }

  async #copyRoot(rec: FrontRecord): Promise<ContainerRoot> {
    const st = await frontState(this.#roots, rec);
    if (st.pid > 0 && (st.status === 'running' || st.status === 'paused' || st.status === 'created')) return ContainerRoot.ofProcess(st.pid);
    const dir = containerDirOf(this.#roots.imageRoot, rec.id);
    const rootfs = path.join(dir, 'rootfs');
    // The rootfs is an overlay mounted until the container is removed: a mount point (another
    // device than its parent) or there is no filesystem to copy from.
    const dev = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.dev;
    if (dev(rootfs) === undefined || dev(rootfs) === dev(dir)) {
      throw new InvalidStateError(`copy: container ${rec.name} is ${st.status} and its root filesystem is not mounted`);
    }
    let mounts: Spec['mounts'] = [];
    try {
      mounts = (JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Spec).mounts ?? [];
    } catch {
      /* no config: the rootfs alone */
    }
    return ContainerRoot.ofRootfs(rootfs, mounts);
  }

  /**
   * Removes the containers of this Runtime's service (or of `o.service`) whose instance is dead,
   * with their network attachments and anonymous volumes. Returns the ids removed, with those the
   * Runtime's first reap removed (reported once).
   */
  async reap(o: { service?: string } = {}): Promise<string[]> {
    const service = o.service ?? this.#owner.service;
    if (service === undefined) throw new InvalidArgumentError('reap: this Runtime has no service (new Runtime({ service }))');
    if (service === this.#owner.service) await this.reapOnce();
    const earlier = service === this.#owner.service ? this.#unreported.splice(0) : [];
    return [...earlier, ...(await this.#sweep(service))];
  }

  async #sweep(service: string): Promise<string[]> {
    const out: string[] = [];
    for (const rec of listFront(this.#roots.imageRoot, this.#roots.root)) {
      if (rec.labels[SERVICE_LABEL] !== service) continue;
      const token = rec.labels[INSTANCE_LABEL];
      if (!token || token === this.#owner.instance || !instanceIsDead(token)) continue;
      await removeFront(this.#roots, rec, { force: true, volumes: true });
      this.#emit({ type: 'delete', id: rec.id, reaped: true });
      out.push(rec.id);
    }
    return out;
  }
}

/** One Docker-style container: the verbs of ServiceContainers bound to its id. */
export class ServiceContainer {
  readonly id: string;
  readonly name: string;
  readonly #all: ServiceContainers;
  /** The front record the container was made with. */
  readonly record: FrontRecord;

  constructor(all: ServiceContainers, rec: FrontRecord) {
    this.#all = all;
    this.record = rec;
    this.id = rec.id;
    this.name = rec.name;
  }

  /** The published ports, with the host ports chosen. */
  get ports(): PublishedPort[] {
    return this.#all.ports(this.id);
  }

  /** The host port a container port is published on (the first, if several); undefined when not published. */
  hostPort(containerPort: number, protocol: 'tcp' | 'udp' | 'sctp' = 'tcp'): number | undefined {
    return this.ports.find((p) => p.containerPort === containerPort && p.protocol === protocol)?.hostPort;
  }

  /** The verbs of ServiceContainers, for this container. */
  start(): Promise<void> {
    return this.#all.start(this.id);
  }
  stop(o?: StopOptions): Promise<void> {
    return this.#all.stop(this.id, o);
  }
  kill(signal?: string): Promise<void> {
    return this.#all.kill(this.id, signal);
  }
  wait(o?: { signal?: AbortSignal }): Promise<number> {
    return this.#all.wait(this.id, o);
  }
  remove(o?: RemoveOptions): Promise<void> {
    return this.#all.remove(this.id, o);
  }
  inspect(): Promise<Record<string, unknown>> {
    return this.#all.inspect(this.id);
  }
  logs(o?: LogsOptions): AsyncGenerator<LogEntry, void, undefined> {
    return this.#all.logs(this.id, o);
  }
  waitReady(o: ReadyOptions): Promise<void> {
    return this.#all.waitReady(this.id, o);
  }
  copyIn(hostSrc: string, containerDest: string): Promise<CopyResult> {
    return this.#all.copyIn(this.id, hostSrc, containerDest);
  }
  copyOut(containerSrc: string, hostDest: string): Promise<CopyResult> {
    return this.#all.copyOut(this.id, containerSrc, hostDest);
  }
}

/** Whether a TCP connection to host:port is accepted within a second. */
function connects(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 1000 });
    const end = (ok: boolean) => {
      s.destroy();
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => end(false);
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => end(true));
    s.once('error', () => end(false));
    s.once('timeout', () => end(false));
  });
}

/** Networks (`rt.networks`): CNI bridge networks in the image root's network store. */
export class Networks {
  readonly #imageRoot: string;
  constructor(imageRoot: string) {
    this.#imageRoot = imageRoot;
  }
  /** Makes a user network (its own bridge and subnet; containers on it resolve each other by name). */
  create(name: string, o: Omit<CreateNetworkOptions, 'imageRoot' | 'pluginDirs'> = {}): Promise<NetworkRecord> {
    return createNetwork(name, { ...o, imageRoot: this.#imageRoot });
  }
  /** Every network, the default one included, with the containers on each. */
  list(): Promise<NetworkInfo[]> {
    return listNetworks({ imageRoot: this.#imageRoot });
  }
  /** A network by name or id, with its containers. */
  inspect(ref: string): Promise<NetworkInfo> {
    return inspectNetwork(ref, { imageRoot: this.#imageRoot });
  }
  /** Removes a network no container uses (TSRUN_INVALID_STATE when one does). */
  remove(ref: string): Promise<NetworkRecord> {
    return removeNetwork(ref, { imageRoot: this.#imageRoot });
  }
  /** Removes every user network no container uses; returns their names. */
  prune(): Promise<string[]> {
    return pruneNetworks({ imageRoot: this.#imageRoot });
  }
}

/** Volumes (`rt.volumes`): named and anonymous volumes of the image root (Docker's local driver). */
export class Volumes {
  readonly #store: VolumeStore;
  readonly #imageRoot: string;
  constructor(imageRoot: string) {
    this.#imageRoot = path.resolve(imageRoot);
    this.#store = new VolumeStore(imageRoot);
  }
  /** Makes the volume, or returns the existing one of that name. */
  create(name: string, o: { labels?: Record<string, string> } = {}): VolumeRecord {
    return this.#store.ensure(name, o).volume;
  }
  /** Every volume, named and anonymous. */
  list(): VolumeRecord[] {
    return this.#store.list();
  }
  /** A volume's record (TSRUN_NOT_FOUND when there is none). */
  inspect(name: string): VolumeRecord {
    return this.#store.inspect(name);
  }
  /** Removes a volume and its data; refused (TSRUN_INVALID_STATE) while a container uses it. */
  remove(name: string): void {
    this.#store.inspect(name);
    const users = volumesInUse(this.#imageRoot).get(name);
    if (users?.length) throw volumeInUseError(name, users);
    this.#store.remove(name);
  }
}
