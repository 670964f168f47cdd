// The Docker-style container lifecycle, daemonless: create (image → bundle, volumes, then the
// monitor, which runs the create step and holds the container), start, stop, kill, wait, rm, prune
// and what ps/inspect show. The CLI (cli/verbs/container.ts) reads argv into FrontCreateOptions
// and prints; everything that decides is here.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, InvalidStateError, NotFoundError } from '../errors.js';
import { pidAlive } from '../image/content-store.js';
import { containerDirOf, IMAGE_MARKER, mountsBelow, readImageMarker, removeContainerDir } from '../image/image-rootfs.js';
import { DOCKER_CAPS } from '../image/bundle.js';
import type { Logger } from '../logger.js';
import { prepareImageContainer, type BundleEdit, type ImageRunEvent } from '../container/image-run.js';
import type { PullOptions } from '../image/pull.js';
import { createContainer } from '../container/create.js';
import { deleteContainer } from '../container/delete.js';
import { killContainer } from '../container/kill.js';
import { waitPidExit } from '../container/process-control.js';
import { parseSignal } from '../container/signals.js';
import { startContainer } from '../container/start.js';
import { containerState } from '../container/state.js';
import { createLoopbackNetns } from '../net/netns.js';
import type { Spec } from '../spec/types.js';
import { writeAtomic } from '../state/store.js';
import { VolumeStore } from '../volume/store.js';
import {
  connectContainer,
  containerResolvConf,
  disconnectContainer,
  formatPorts,
  getAttachment,
  hostResolvConf,
  hostsFileContent,
  parseAddHost,
  parseNetworkMode,
  parsePublish,
  publishAll,
  type NetworkMode,
  type PortMapping,
} from '../net/network.js';
import { storedForPlatform } from './platform.js';
import { MonitorCreateError, monitorPath, startMonitor, selfCommand, type MonitorHandle } from './monitor.js';
import {
  applyCaps,
  applyPrivileged,
  bindMount,
  effectiveCaps,
  extraHosts,
  parseLabels,
  parseLogOpts,
  parseMountFlag,
  parseSecurityOpts,
  parseTmpfsFlag,
  parseVolumeFlag,
  resolvWithDns,
  resourcesFrom,
  tmpfsMount,
  type MountRequest,
} from './options.js';
import {
  claimName,
  createExclusive,
  diskUsage,
  listFront,
  logFileOf,
  monitorPid,
  readExit,
  readFront,
  releaseName,
  resolveContainer,
  writeFront,
  type ExitRecord,
  type FrontRecord,
  type FrontVolume,
} from './store.js';

export interface FrontRoots {
  root: string;
  imageRoot: string;
  systemdCgroup?: boolean;
  logger: Logger;
  /** How the monitor runs tsrun (its create and cleanup steps); default selfCommand(): a library caller passes bin/tsrun. */
  self?: string[];
}

export interface FrontCreateOptions extends FrontRoots {
  image: string;
  command: string[];
  name?: string;
  entrypoint?: string;
  env: string[];
  volumes: string[];
  mounts: string[];
  tmpfs: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  tty: boolean;
  interactive: boolean;
  readOnly: boolean;
  rm: boolean;
  /** --init: tsrun's init (the monitor's --init mode) as PID 1, the command its child. */
  init?: boolean;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  stopSignal?: string;
  stopTimeout?: number;
  /** --network values (none, host, container:ID, network names); none given: the default bridge. */
  networks: string[];
  networkAliases: string[];
  publish: string[];
  publishAll: boolean;
  addHost: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  labels: string[];
  logOpt: string[];
  memory?: string;
  cpus?: string;
  pidsLimit?: number;
  pull: 'always' | 'missing' | 'never';
  pullOptions?: Omit<PullOptions, 'imageRoot' | 'ifMissing' | 'onProgress'>;
  onEvent?: (e: ImageRunEvent) => void;
  /** Attached: the output goes to this process's stdio (foreground run); else to the log. */
  attach: boolean;
  /** The global flags to hand to the monitor's create and cleanup steps. */
  cliGlobals?: string[];
}

export interface FrontCreated {
  rec: FrontRecord;
  monitor: MonitorHandle;
  pid: number;
}

/** The exit code Docker gives a failed create: 127 command not found, 126 not invocable, else 125. */
export function createExitCode(err: unknown): number {
  const e = err as { code?: string; errno?: number; message?: string };
  if (e?.code !== 'TSRUN_CHILD_SETUP' || !/^exec[: ]/.test(e.message ?? '')) return 125;
  if (/executable file not found|no such file or directory/.test(e.message ?? '') || e.errno === 2) return 127;
  if (/permission denied|exec format error|is a directory/.test(e.message ?? '') || e.errno === 13 || e.errno === 8) return 126;
  return 125;
}

function cliBase(o: FrontRoots & { cliGlobals?: string[] }): string[] {
  return [
    ...(o.self ?? selfCommand()),
    '--root',
    path.resolve(o.root),
    '--image-root',
    path.resolve(o.imageRoot),
    ...(o.systemdCgroup ? ['--systemd-cgroup'] : []),
    ...(o.cliGlobals ?? []),
  ];
}

/**
 * Removes what the front made for a container beyond its runtime state: its name, and with
 * `volumes` its anonymous volumes (named ones are never removed with a container).
 */
async function releaseFront(o: FrontRoots, rec: FrontRecord, volumes: boolean): Promise<void> {
  // Idempotent, and a no-op for a container on none/host: veth, lease, NAT and port rules go.
  await disconnectContainer(rec.id, { imageRoot: o.imageRoot });
  releaseName(o.imageRoot, rec.name, rec.id);
  if (!volumes) return;
  const store = new VolumeStore(o.imageRoot);
  for (const v of rec.volumes) {
    if (!v.anonymous) continue;
    try {
      store.remove(v.name);
    } catch {
      /* removed already */
    }
  }
}

/** Mounts for the -v/--mount/--tmpfs requests; volumes made (and copied up) as needed. */
function mountVolumes(o: FrontCreateOptions, b: BundleEdit, made: FrontVolume[]): void {
  const store = new VolumeStore(o.imageRoot);
  const reqs: MountRequest[] = [...o.volumes.map(parseVolumeFlag), ...o.mounts.map(parseMountFlag), ...o.tmpfs.map(parseTmpfsFlag)];
  const mounts = b.spec.mounts!;
  // Image VOLUMEs: bundle.ts mounted a fresh directory of the bundle at each; here each becomes
  // an anonymous volume (listed, kept until rm -v / --rm), unless a request covers its path.
  const anonDir = `${b.dir}/volumes/`;
  const requested = new Set(reqs.map((r) => r.target));
  for (let i = mounts.length - 1; i >= 0; i--) {
    const m = mounts[i];
    if (m.type !== 'bind' || !m.source?.startsWith(anonDir)) continue;
    if (requested.has(m.destination)) {
      mounts.splice(i, 1);
      continue;
    }
    reqs.unshift({ kind: 'volume', target: m.destination, readonly: false });
    mounts.splice(i, 1);
  }
  for (const r of reqs) {
    for (let i = mounts.length - 1; i >= 0; i--) if (mounts[i].destination === r.target) mounts.splice(i, 1);
    if (r.kind === 'tmpfs') {
      mounts.push(tmpfsMount(r));
      continue;
    }
    if (r.kind === 'bind') {
      if (!existsSync(r.source)) throw new InvalidArgumentError(`invalid mount config for type "bind": bind source path does not exist: ${r.source}`);
      mounts.push(bindMount(r.source, r.target, r.readonly));
      continue;
    }
    let name = r.name;
    if (name) {
      // Recorded whether made here or before: `volume rm` and prune read the records for use.
      store.ensure(name);
      made.push({ name, destination: r.target, anonymous: false });
    } else {
      name = store.createAnonymous().Name;
      made.push({ name, destination: r.target, anonymous: true });
    }
    // Docker's copy-up: an empty volume takes the image's content at its path on first mount.
    store.copyUp(name, b.rootfs, r.target);
    mounts.push(bindMount(store.dataDir(name), r.target, r.readonly));
  }
}

/**
 * docker create: the image is pulled as the policy says, the bundle made, the name taken, the
 * volumes made, and the monitor started; resolves once the container exists (status created).
 */
export async function createFront(o: FrontCreateOptions): Promise<FrontCreated> {
  const mode: NetworkMode = parseNetworkMode(o.networks);
  const ports: PortMapping[] = o.publish.flatMap((p) => parsePublish(p));
  if ((ports.length || o.publishAll) && mode.kind !== 'networks') {
    throw new InvalidArgumentError(`conflicting options: port publishing and the container type network mode (--network ${o.networks[0]})`);
  }
  if (o.networkAliases.length && mode.kind !== 'networks')
    throw new InvalidArgumentError('network-scoped aliases are only supported for user-defined networks');
  let joinNetns: string | undefined;
  if (mode.kind === 'container') {
    const other = resolveContainer(o.imageRoot, o.root, mode.id);
    const st = await frontState(o, other);
    if (st.status !== 'running') throw new InvalidStateError(`cannot join network namespace of a non running container: ${mode.id}`);
    joinNetns = `/proc/${st.pid}/ns/net`;
  }
  const hostEntries = o.addHost.map(parseAddHost);
  const sec = parseSecurityOpts(o.securityOpt);
  const logOpts = parseLogOpts(o.logOpt);
  const stopSignal = o.stopSignal ?? undefined;
  if (stopSignal) parseSignal(stopSignal);
  const resources = resourcesFrom({ memory: o.memory, cpus: o.cpus, pidsLimit: o.pidsLimit });
  const caps = effectiveCaps(DOCKER_CAPS, o.capAdd, o.capDrop, o.privileged);
  const hostsExtra = mode.kind === 'networks' ? '' : extraHosts(o.addHost);
  for (const v of o.volumes) parseVolumeFlag(v);
  for (const m of o.mounts) parseMountFlag(m);
  for (const t of o.tmpfs) parseTmpfsFlag(t);
  // --platform with a stored image: that image if it is of the platform (or its index's record
  // that is), Docker's error if not; `--pull always` pulls for the platform instead.
  let imageRef = o.image;
  const platform = o.pullOptions?.platform;
  if (typeof platform === 'string' && o.pull !== 'always') imageRef = (await storedForPlatform(o.imageRoot, o.image, platform))?.id ?? o.image;

  const id = randomBytes(32).toString('hex');
  const name = (o.name ?? `tsrun_${id.slice(0, 12)}`).replace(/^\//, '');
  claimName(o.imageRoot, name, id);
  const madeVolumes: FrontVolume[] = [];
  let imageStopSignal: string | undefined;
  let connected = false;
  let published = '';
  let rec: FrontRecord | undefined;
  let prepared: Awaited<ReturnType<typeof prepareImageContainer>> | undefined;
  try {
    prepared = await prepareImageContainer({
      image: imageRef,
      id,
      root: o.root,
      imageRoot: o.imageRoot,
      command: o.command,
      entrypoint: o.entrypoint,
      env: o.env,
      workdir: o.workdir,
      user: o.user,
      tty: o.tty,
      readOnly: o.readOnly,
      network: mode.kind === 'host' ? 'host' : mode.kind === 'none' ? 'none' : 'joined',
      netnsPath: joinNetns,
      hostname: o.hostname,
      seccomp: o.privileged ? 'unconfined' : sec.seccomp,
      pullPolicy: o.pull,
      pull: o.pullOptions,
      onEvent: o.onEvent,
      editBundle: async (b) => {
        applyCaps(b.spec, caps);
        if (o.privileged) applyPrivileged(b.spec);
        if (sec.noNewPrivileges !== undefined) b.spec.process!.noNewPrivileges = sec.noNewPrivileges;
        if (resources) b.spec.linux!.resources = { ...(b.spec.linux!.resources ?? {}), ...resources };
        if (hostsExtra) b.files.hosts += hostsExtra;
        if (mode.kind === 'networks') {
          // The network's own namespace (made and pinned by connectContainer), hosts file kept up
          // to date by it, and Docker's resolv.conf for a bridged container.
          const hostsPath = path.join(b.dir, 'hosts');
          writeFileSync(hostsPath, b.files.hosts, { mode: 0o644, flag: 'wx' });
          const all = [...ports, ...(o.publishAll ? publishAll(b.config.config?.ExposedPorts ?? undefined) : [])];
          connected = true;
          const att = await connectContainer({
            id,
            name,
            hostname: b.spec.hostname,
            networks: mode.names.map((n) => ({ name: n, aliases: o.networkAliases })),
            ports: all,
            extraHosts: hostEntries,
            hostsPath,
            owner: path.join(path.resolve(o.root), id),
            imageRoot: o.imageRoot,
          });
          for (const ns of b.spec.linux!.namespaces ?? []) if (ns.type === 'network') ns.path = att.netnsPath;
          b.files.hosts = hostsFileContent(id, { imageRoot: o.imageRoot });
          b.files['resolv.conf'] = containerResolvConf(hostResolvConf(), { dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions });
          published = formatPorts(att.ports);
        } else if (o.dns.length) b.files['resolv.conf'] = resolvWithDns(b.files['resolv.conf'], o.dns);
        imageStopSignal = b.config.config?.StopSignal;
        mountVolumes(o, b, madeVolumes);
        const command = b.spec.process!.args ?? [];
        if (o.init) addInit(b);
        const labels = parseLabels(o.labels);
        b.spec.annotations = { ...(b.spec.annotations ?? {}), ...labels, 'io.tsrun.front.name': name };
        rec = {
          id,
          name,
          image: o.image,
          imageId: b.image.id,
          command,
          created: new Date().toISOString(),
          stateRoot: path.resolve(o.root),
          rm: o.rm,
          tty: o.tty,
          interactive: o.interactive,
          stopSignal: stopSignal ?? imageStopSignal ?? 'SIGTERM',
          stopTimeout: o.stopTimeout ?? 10,
          logMaxSize: logOpts.maxSize,
          logMaxFiles: logOpts.maxFiles,
          init: o.init === true,
          volumes: madeVolumes,
          labels,
          ports: published ? published.split(', ') : [],
          network: o.networks.join(',') || 'bridge',
        };
      },
    });
  } catch (err) {
    if (connected) await disconnectContainer(id, { imageRoot: o.imageRoot }).catch((e: Error) => o.logger.warn(`release the network of ${id}: ${e.message}`));
    releaseName(o.imageRoot, name, id);
    const store = new VolumeStore(o.imageRoot);
    for (const v of madeVolumes) {
      if (!v.anonymous) continue; // a named volume made here stays, as Docker leaves it
      try {
        store.remove(v.name);
      } catch {
        /* not made after all */
      }
    }
    throw err;
  }
  const p = prepared;
  const r = rec!;
  writeFront(o.imageRoot, r);
  let monitor: MonitorHandle;
  try {
    monitor = launchMonitor(o, r, o.attach, false);
  } catch (err) {
    p.closeNetns();
    await removeFront(o, r, { force: true, volumes: true }).catch(() => {});
    throw err;
  }
  // The create step opens the network namespace by this process's fd (/proc/<pid>/fd/N): it
  // stays open until the container has joined it. A failed create step removed the container
  // itself (see createStep).
  try {
    const pid = await monitor.created;
    return { rec: r, monitor, pid };
  } catch (err) {
    // The monitor itself failed (not its create step, which cleans up after itself): nothing
    // holds the container, so it is removed here.
    if (!(err instanceof MonitorCreateError)) await removeFront(o, r, { force: true, volumes: true }).catch(() => {});
    throw err;
  } finally {
    p.closeNetns();
  }
}

/** The monitor of a container whose bundle is ready: its create step makes the runtime container. */
function launchMonitor(o: FrontRoots & { cliGlobals?: string[] }, r: FrontRecord, attach: boolean, again: boolean): MonitorHandle {
  const dir = containerDirOf(o.imageRoot, r.id);
  const base = cliBase(o);
  const create = [...base, 'container', '__create', '--bundle', dir, '--pid-file', path.join(dir, 'init.pid')];
  if (r.tty) create.push('--tty', '--console-socket', 'console.sock');
  if (again) create.push('--again');
  create.push(r.id);
  const defaults = parseLogOpts([]);
  return startMonitor({
    dir,
    create,
    log: { file: logFileOf(dir, r.id), maxSize: r.logMaxSize ?? defaults.maxSize, maxFiles: r.logMaxFiles ?? defaults.maxFiles },
    attach,
    tty: r.tty,
    interactive: r.interactive,
    ...(r.rm ? { cleanup: [...base, 'container', 'rm', '--volumes', r.id] } : {}),
  });
}

/** Where --init's binary is bound in the container (Podman's place: /dev is the container's own tmpfs). */
export const INIT_PATH = '/dev/init';

/**
 * --init: the static monitor binary, copied into the bundle (never bound from the host's build dir:
 * a container must not reach a host binary, CVE-2019-5736) and bound read-only at /dev/init, runs
 * as PID 1 in its --init mode with the command as its child.
 */
function addInit(b: BundleEdit): void {
  const copy = path.join(b.dir, 'init');
  copyFileSync(monitorPath(), copy, constants.COPYFILE_EXCL);
  b.spec.mounts!.push({ destination: INIT_PATH, type: 'bind', source: copy, options: ['bind', 'ro', 'nosuid', 'nodev'] });
  b.spec.process!.args = [INIT_PATH, '--init', '--', ...(b.spec.process!.args ?? [])];
}

/**
 * The monitor's create step (`container __create`): create with fds 3-5 as the container's stdio.
 * `again`: a start of an exited container; a failure leaves it exited (its front record, bundle
 * and volumes stay), where a first create's failure removes what createFront made.
 */
export async function createStep(
  o: FrontRoots & { id: string; bundle: string; pidFile: string; consoleSocket?: string; tty: boolean; again?: boolean },
): Promise<void> {
  try {
    const c = await createContainer({
      id: o.id,
      bundle: o.bundle,
      root: o.root,
      mode: 'create',
      pidFile: o.pidFile,
      consoleSocket: o.consoleSocket,
      logger: o.logger,
      systemdCgroup: o.systemdCgroup,
      ...(o.tty ? {} : { stdio: [3, 4, 5] as const }),
      claimed: !o.again,
    });
    c.notify?.close();
  } catch (err) {
    if (o.again) throw err;
    const rec = readFront(o.imageRoot, o.id);
    if (rec) await removeFront(o, rec, { force: true, volumes: true }).catch((e: Error) => o.logger.warn(`cleanup after a failed create: ${e.message}`));
    throw err;
  }
}

/**
 * docker start: a created container is started; an exited one is created again in its own bundle
 * (same id, name, writable layer, volumes, network attachment and hosts file; the log appended)
 * and started. A running one is left as it is. Records when it started.
 */
export async function startFront(o: FrontRoots & { cliGlobals?: string[] }, rec: FrontRecord, beforeStart?: () => Promise<void>): Promise<void> {
  // Removed meanwhile (a --rm container's monitor removes it once it has exited: restart).
  if (!readFront(o.imageRoot, rec.id)) throw new NotFoundError(`No such container: ${rec.id}`);
  const st = await frontState(o, rec);
  if (st.status === 'running' || st.status === 'paused') return;
  if (st.status === 'created') {
    await beforeStart?.();
    await startContainer({ root: o.root, id: rec.id, logger: o.logger });
    const now = readFront(o.imageRoot, rec.id);
    if (now) writeFront(o.imageRoot, { ...now, startedAt: new Date().toISOString() });
    return;
  }
  await startAgain(o, rec, beforeStart);
}

/** docker restart: stop (the stop signal, SIGKILL after the timeout) if running, then start. */
export async function restartFront(
  o: FrontRoots & { cliGlobals?: string[] },
  rec: FrontRecord,
  opt: { signal?: string; timeout?: number } = {},
): Promise<void> {
  await stopFront(o, rec, opt);
  await startFront(o, rec);
}

/** The Spec's network namespace entry for a start again: a fresh lo-only one for none, the peer's for container:ID. */
async function renewNetns(o: FrontRoots, rec: FrontRecord, spec: Spec): Promise<{ fd: number; path: string } | undefined> {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'network');
  if (!ns?.path) return undefined;
  const mode = parseNetworkMode(rec.network === 'bridge' ? [] : rec.network.split(','));
  if (mode.kind === 'none') {
    const made = createLoopbackNetns();
    ns.path = made.path;
    return made;
  }
  if (mode.kind === 'container') {
    const other = resolveContainer(o.imageRoot, o.root, mode.id);
    const st = await frontState(o, other);
    if (st.status !== 'running') throw new InvalidStateError(`cannot join network namespace of a non running container: ${mode.id}`);
    ns.path = `/proc/${st.pid}/ns/net`;
  }
  return undefined;
}

/**
 * Starts an exited container again. Its runtime state (cgroup, state dir) is removed, its overlay
 * and bundle kept; a new monitor creates it in the same bundle, then it is started. On any failure
 * the container is left as it was, exited with its last exit record: the new runtime state and
 * cgroup are removed (the create step's own rollback, or here), the monitor has ended, no netns fd
 * is held.
 */
/**
 * One start again at a time: DIR/starting, made O_EXCL with the starter's pid; one left by a
 * starter that died is taken over. Returns its release.
 */
function claimStart(dir: string, id: string): () => void {
  const file = path.join(dir, 'starting');
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createExclusive(file, String(process.pid))) return () => rmSync(file, { force: true });
    const pid = Number(readFileSync(file, 'utf8'));
    if (pid > 0 && pidAlive(pid)) throw new InvalidStateError(`container ${id} is being started by process ${pid}`);
    rmSync(file, { force: true }); // its starter died
  }
  throw new InvalidStateError(`container ${id} is being started by another process`);
}

async function startAgain(o: FrontRoots & { cliGlobals?: string[] }, rec: FrontRecord, beforeStart?: () => Promise<void>): Promise<void> {
  const release = claimStart(containerDirOf(o.imageRoot, rec.id), rec.id);
  try {
    // Another start may have run between the status check and the claim.
    const st = await frontState(o, rec);
    if (st.status === 'exited' || st.status === 'dead') await startAgainClaimed(o, rec, beforeStart);
  } finally {
    release();
  }
}

async function startAgainClaimed(o: FrontRoots & { cliGlobals?: string[] }, rec: FrontRecord, beforeStart?: () => Promise<void>): Promise<void> {
  const dir = containerDirOf(o.imageRoot, rec.id);
  const old = monitorPid(o.imageRoot, rec.id);
  if (old) await waitPidExit(old); // it has recorded the exit; it ends right after
  if (!mountsBelow(path.join(dir, 'rootfs')).length)
    throw new InvalidStateError(`cannot start container ${rec.id}: its root filesystem is no longer mounted; remove it and create a new one`);
  const configFile = path.join(dir, 'config.json');
  const spec = JSON.parse(readFileSync(configFile, 'utf8')) as Spec;
  // Checked (container:ID running) before anything changes; a lo-only netns for none is made here.
  const netns = await renewNetns(o, rec, spec);
  try {
    await recreateAndStart(o, rec, dir, spec, beforeStart);
  } finally {
    if (netns) closeSync(netns.fd);
  }
}

/** startAgain's steps once the network namespace is settled: the runtime state renewed, the container started. */
async function recreateAndStart(
  o: FrontRoots & { cliGlobals?: string[] },
  rec: FrontRecord,
  dir: string,
  spec: Spec,
  beforeStart?: () => Promise<void>,
): Promise<void> {
  // Without its runtime state (from here on, and for good after a failed start), the bundle of a
  // dead maker would look half-made to `image prune` (image/gc.ts), which removes such dirs: pid 0
  // says the front holds it (only `container rm` and `container prune` remove it).
  const marker = readImageMarker(dir, rec.id);
  if (marker && marker.pid !== 0) writeAtomic(path.join(dir, IMAGE_MARKER), `${JSON.stringify({ ...marker, pid: 0 }, null, 2)}\n`, 0o644);
  try {
    await deleteContainer({ root: o.root, id: rec.id, logger: o.logger, keepImageRootfs: true });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  const exitFile = path.join(dir, 'exit.json');
  let lastExit: string | undefined;
  try {
    lastExit = readFileSync(exitFile, 'utf8');
  } catch {
    /* dead: no exit recorded */
  }
  const configFile = path.join(dir, 'config.json');
  const undoRuntime = async () => {
    try {
      await deleteContainer({ root: o.root, id: rec.id, force: true, logger: o.logger, keepImageRootfs: true });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  };
  let monitor: MonitorHandle | undefined;
  try {
    writeAtomic(configFile, `${JSON.stringify(spec, null, 2)}\n`, 0o644);
    monitor = launchMonitor(o, rec, false, true);
    await monitor.created;
  } catch (err) {
    if (monitor) await monitor.closed;
    if (!(err instanceof MonitorCreateError)) await undoRuntime();
    throw err;
  }
  rmSync(exitFile, { force: true });
  try {
    await beforeStart?.();
    await startContainer({ root: o.root, id: rec.id, logger: o.logger });
  } catch (err) {
    await undoRuntime();
    await monitor.closed;
    if (lastExit) writeAtomic(exitFile, lastExit);
    throw err;
  } finally {
    monitor.release();
  }
  const now = readFront(o.imageRoot, rec.id);
  if (now) writeFront(o.imageRoot, { ...now, startedAt: new Date().toISOString() });
}

export type FrontStatus = 'created' | 'running' | 'paused' | 'exited' | 'dead';

export interface FrontState {
  status: FrontStatus;
  pid: number;
  exit?: ExitRecord;
}

export async function frontState(o: FrontRoots, rec: FrontRecord): Promise<FrontState> {
  const exit = readExit(o.imageRoot, rec.id);
  try {
    const s = await containerState({ root: o.root, id: rec.id });
    if (s.status === 'stopped') return { status: exit ? 'exited' : 'dead', pid: 0, ...(exit ? { exit } : {}) };
    if (s.status === 'creating') return { status: 'created', pid: 0 };
    return { status: s.status, pid: s.pid };
  } catch (err) {
    if (err instanceof NotFoundError) return { status: exit ? 'exited' : 'dead', pid: 0, ...(exit ? { exit } : {}) };
    throw err;
  }
}

/** Waits until the container's exit is recorded (or it is gone); returns its status. */
export async function waitFront(o: FrontRoots, rec: FrontRecord, signal?: AbortSignal): Promise<number> {
  for (;;) {
    signal?.throwIfAborted();
    const exit = readExit(o.imageRoot, rec.id);
    if (exit) return exit.status;
    const st = await frontState(o, rec).catch(() => undefined);
    if (!st || st.status === 'dead') {
      // The monitor records the exit right after it reaps the init: give it that moment.
      const mon = monitorPid(o.imageRoot, rec.id);
      if (mon) {
        await waitPidExit(mon);
        continue;
      }
      const last = readExit(o.imageRoot, rec.id);
      if (last) return last.status;
      if (!readFront(o.imageRoot, rec.id)) throw new NotFoundError(`No such container: ${rec.id}`);
      return -1;
    }
    if (st.status === 'created') {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    await waitPidExit(st.pid);
    const mon = monitorPid(o.imageRoot, rec.id);
    if (mon && !readExit(o.imageRoot, rec.id))
      await Promise.race([waitPidExit(mon), pollFor(() => !!readExit(o.imageRoot, rec.id) || !readFront(o.imageRoot, rec.id))]);
  }
}

async function pollFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 25));
}

/** docker kill: a signal to the init. */
export async function killFront(o: FrontRoots, rec: FrontRecord, signal: string): Promise<void> {
  const st = await frontState(o, rec);
  if (st.status !== 'running' && st.status !== 'paused') throw new InvalidStateError(`cannot kill container: ${rec.id}: container ${rec.id} is not running`);
  await killContainer({ root: o.root, id: rec.id, signal: parseSignal(signal) });
}

/**
 * docker stop: the stop signal, then SIGKILL when the grace period is over; resolves once the
 * monitor has recorded the exit (and, for --rm, removed the container).
 */
export async function stopFront(o: FrontRoots, rec: FrontRecord, opt: { signal?: string; timeout?: number } = {}): Promise<void> {
  const st = await frontState(o, rec);
  if (st.status === 'created') {
    // Never started: Docker leaves it as it is; the exec fifo's init is ended by rm.
    return;
  }
  if (st.status !== 'running' && st.status !== 'paused') return;
  const sig = parseSignal(opt.signal ?? rec.stopSignal);
  const timeoutMs = (opt.timeout ?? rec.stopTimeout) * 1000;
  // Looked up first: with --rm the monitor removes the container dir, its pid file with it.
  const mon = monitorPid(o.imageRoot, rec.id);
  try {
    await killContainer({ root: o.root, id: rec.id, signal: sig });
  } catch (err) {
    if (!(err instanceof InvalidStateError)) throw err;
  }
  const gone = waitPidExit(st.pid).then(() => true);
  const late = timeoutMs < 0 ? new Promise<boolean>(() => {}) : new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref());
  if (!(await Promise.race([gone, late]))) {
    try {
      await killContainer({ root: o.root, id: rec.id, signal: 9, all: true });
    } catch (err) {
      if (!(err instanceof InvalidStateError)) throw err;
    }
    await gone;
  }
  if (mon) await waitPidExit(mon);
}

/** docker rm: a running container only with force; anonymous volumes with `volumes`. */
export async function removeFront(o: FrontRoots, rec: FrontRecord, opt: { force?: boolean; volumes?: boolean }): Promise<void> {
  const st = await frontState(o, rec).catch(() => ({ status: 'dead' as const, pid: 0 }));
  if ((st.status === 'running' || st.status === 'paused') && !opt.force) {
    throw new InvalidStateError(`cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`);
  }
  const live = st.status === 'running' || st.status === 'paused';
  // Killing a live container ends its monitor too: wait for it to record the exit. (Not for a
  // stopped one: the monitor may be the caller, removing its container for --rm.)
  const mon = live ? monitorPid(o.imageRoot, rec.id) : undefined;
  try {
    await deleteContainer({ root: o.root, id: rec.id, force: true, logger: o.logger });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    // No runtime state (lost with a tmpfs root, or never made): the bundle is removed here.
    const dir = containerDirOf(o.imageRoot, rec.id);
    if (existsSync(dir)) removeContainerDir(dir);
  }
  // The monitor saw its init die; it ends once it has recorded that (its cleanup finds nothing).
  if (mon) await waitPidExit(mon);
  await releaseFront(o, rec, opt.volumes === true);
}

/** docker container prune: every container not running (exited, dead, or created and never started). */
export async function pruneFront(o: FrontRoots): Promise<{ ids: string[]; bytes: number }> {
  const out: string[] = [];
  let bytes = 0;
  for (const rec of listFront(o.imageRoot, o.root)) {
    const st = await frontState(o, rec).catch(() => undefined);
    if (!st || st.status === 'running' || st.status === 'paused') continue;
    const upper = diskUsage(path.join(containerDirOf(o.imageRoot, rec.id), 'upper'));
    await removeFront(o, rec, { force: true, volumes: false });
    out.push(rec.id);
    bytes += upper;
  }
  return { ids: out, bytes };
}

/** Docker's refusal of `volume rm` for a volume that containers (users: their ids) mount. */
export function volumeInUseError(name: string, users: string[]): InvalidStateError {
  return new InvalidStateError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
}

/** Volume names in use by any container of any state root of this image root. */
export function volumesInUse(imageRoot: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let ids: string[];
  try {
    ids = readdirSync(path.join(path.resolve(imageRoot), 'containers'));
  } catch {
    return out;
  }
  for (const id of ids) {
    const r = readFront(imageRoot, id);
    for (const v of r?.volumes ?? []) out.set(v.name, [...(out.get(v.name) ?? []), id]);
  }
  return out;
}

export { resolveContainer, listFront, readFront, readExit, logFileOf };

function networkSettings(o: FrontRoots, rec: FrontRecord): Record<string, unknown> {
  const att = getAttachment(rec.id, { imageRoot: o.imageRoot });
  const networks: Record<string, unknown> = {};
  for (const i of att?.interfaces ?? []) {
    networks[i.network] = {
      NetworkID: i.networkId,
      IPAddress: i.ip,
      IPPrefixLen: Number(i.cidr.split('/')[1] ?? 0),
      Gateway: i.gateway ?? '',
      MacAddress: i.mac ?? '',
      Aliases: i.aliases,
    };
  }
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of att?.ports ?? []) (ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
  return { Ports: ports, Networks: networks, SandboxKey: att?.netnsPath ?? '' };
}

/** What `container inspect` shows: Docker's main fields, from the records. */
export async function inspectFront(o: FrontRoots, rec: FrontRecord): Promise<Record<string, unknown>> {
  const st = await frontState(o, rec);
  const dir = containerDirOf(o.imageRoot, rec.id);
  let config: {
    process?: { env?: string[]; cwd?: string; terminal?: boolean };
    hostname?: string;
    mounts?: { destination: string; source?: string; type?: string; options?: string[] }[];
  } = {};
  try {
    config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  } catch {
    /* removed meanwhile */
  }
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.command[0] ?? '',
    Args: rec.command.slice(1),
    State: {
      Status: st.status,
      Running: st.status === 'running',
      Paused: st.status === 'paused',
      Dead: st.status === 'dead',
      Pid: st.pid,
      ExitCode: st.exit?.exitCode ?? 0,
      StartedAt: rec.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: st.exit?.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: rec.imageId,
    Name: `/${rec.name}`,
    LogPath: logFileOf(dir, rec.id),
    Mounts: rec.volumes.map((v) => ({ Type: 'volume', Name: v.name, Destination: v.destination, Driver: 'local' })),
    Config: {
      Hostname: config.hostname ?? '',
      Env: config.process?.env ?? [],
      Cmd: rec.command,
      Image: rec.image,
      WorkingDir: config.process?.cwd ?? '/',
      Tty: rec.tty,
      OpenStdin: rec.interactive,
      Labels: rec.labels,
      StopSignal: rec.stopSignal,
      StopTimeout: rec.stopTimeout,
    },
    HostConfig: { AutoRemove: rec.rm, NetworkMode: rec.network, Init: rec.init === true },
    NetworkSettings: networkSettings(o, rec),
  };
}
