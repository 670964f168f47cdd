// `run --image`: image → layers (unpacked once, shared) → overlay rootfs → bundle → container.
// Everything made here lives in <imageRoot>/containers/<id>/, which is also the bundle:
//   tsrun-image.json  marker (image, layers, maker pid) — see container/image-rootfs.ts
//   upper/ work/      the container's writable layer
//   rootfs/           the overlay mount (host mount namespace)
//   hosts hostname resolv.conf volumes/N config.json
// Any failure before the container exists unmounts and removes it; afterwards `delete`
// (destroy → releaseImageRootfs) does.
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExistsError, ImageError, ImageNotFoundError, InvalidArgumentError } from '../errors.js';
import { containerDirOf, IMAGE_MARKER, removeContainerDir, type ImageContainerMarker } from '../image/image-rootfs.js';
import type { Logger } from '../logger.js';
import { ownerName, type Created } from './create.js';
import { runContainer } from './run.js';
import { isCgroup2UnifiedMode } from '../spec/defaults.js';
import type { Spec } from '../spec/types.js';
import { StateStore } from '../state/store.js';
import { buildImageBundle, type ImageConfigFile } from '../image/bundle.js';
import { applyImageSeccomp, loadSeccompChoice } from '../seccomp/docker-profile.js';
import { ImageStore, type ImageRecord } from '../image/image-store.js';
import { chainIDs } from '../image/layers.js';
import { unpackImage } from '../image/unpack.js';
import { createLoopbackNetns } from '../net/netns.js';
import { mountOverlay } from '../image/overlay.js';
import type { PullProgress, UnpackEvent } from '../image/progress.js';
import { pull, type PullOptions } from '../image/pull.js';
import { mkdirInRoot, readAccounts, resolveUser } from '../image/user.js';
import { callerEnv } from '../process/caller-env.js';

export type { UnpackEvent };
export type ImageRunEvent = PullProgress | UnpackEvent;

export interface ImageContainerOptions {
  /** Reference, name or ID of the image; pulled when not in the store. */
  image: string;
  /** Container id (default: 12 random hex digits). */
  id?: string;
  /** The state root (--root). */
  root: string;
  imageRoot: string;
  command?: string[];
  entrypoint?: string;
  env?: string[];
  volumes?: string[];
  workdir?: string;
  user?: string;
  tty?: boolean;
  readOnly?: boolean;
  /**
   * none: a new namespace with lo up; host: the host's; joined: a namespace made by someone else
   * (netnsPath, or set on the spec by editBundle: a CNI-made one).
   */
  network?: 'none' | 'host' | 'joined';
  netnsPath?: string;
  hostname?: string;
  pull?: Omit<PullOptions, 'imageRoot' | 'ifMissing' | 'onProgress'>;
  onEvent?: (e: ImageRunEvent) => void;
  overlayApi?: 'auto' | 'fsconfig' | 'legacy';
  /**
   * Where `env`'s bare names (`-e NAME`) take their values. Default: callerEnv(), the environment
   * this process's caller gave it. Under bin/tsrun that is the user's, without what the launcher
   * set for its JS engine (TSRUN_NOFILE, BUN_*: listed in TSRUN_ADDED); in a library caller's own
   * process neither of the launcher's variables is set and it is process.env itself.
   */
  hostEnv?: NodeJS.ProcessEnv;
  /** `--security-opt seccomp=…`: "unconfined" or a Docker-format profile file (default: Docker's). */
  seccomp?: string;
  /** docker run --pull: always pull, pull when missing (the default), or never pull. */
  pullPolicy?: 'always' | 'missing' | 'never';
  /**
   * The Docker-style front's additions (src/front/): called with the built spec and the files of
   * the bundle once the rootfs is mounted, before the seccomp profile (which follows the
   * capabilities) is chosen and before anything is written. Undone with the rest on failure.
   */
  editBundle?: (b: BundleEdit) => void | Promise<void>;
}

export interface BundleEdit {
  id: string;
  dir: string;
  rootfs: string;
  spec: Spec;
  /** Bundle files (hosts, hostname, resolv.conf) by name, still editable. */
  files: Record<string, string>;
  config: ImageConfigFile;
  image: ImageRecord;
}

export interface PreparedContainer {
  id: string;
  /** The bundle: <imageRoot>/containers/<id>. */
  dir: string;
  spec: Spec;
  image: ImageRecord;
  /** Close the network namespace fd (once the container has joined it). */
  closeNetns(): void;
  /** Undo everything (before the container exists), the state dir of intent included. */
  discard(): void;
  /** After a failed create: discard() unless a container with an init was made after all. */
  abandon(): void;
}

/** The stored image for ref, pulling it when missing. */
export async function resolveImage(o: Pick<ImageContainerOptions, 'image' | 'imageRoot' | 'pull' | 'onEvent' | 'pullPolicy'>): Promise<ImageRecord> {
  const policy = o.pullPolicy ?? 'missing';
  if (policy === 'always') return pull(o.image, { ...o.pull, imageRoot: o.imageRoot, onProgress: o.onEvent });
  // An ambiguous ID prefix or an unreadable store is an error here, not a reason to pull.
  const have = await new ImageStore(o.imageRoot).find(o.image);
  if (have) return have;
  if (policy === 'never') throw new ImageNotFoundError(`No such image: ${o.image}`);
  return pull(o.image, { ...o.pull, imageRoot: o.imageRoot, ifMissing: true, onProgress: o.onEvent });
}

export async function readImageConfig(store: ImageStore, rec: ImageRecord): Promise<ImageConfigFile> {
  try {
    return JSON.parse((await store.content.read(rec.configDigest)).toString('utf8')) as ImageConfigFile;
  } catch (cause) {
    throw new ImageError('TSRUN_IMAGE', `image ${rec.names[0] ?? rec.id}: config ${rec.configDigest} unreadable`, { cause });
  }
}

/** Unpack (once) every layer of rec, with progress per layer; returns their diff dirs, bottom first. */
export async function ensureImageLayers(imageRoot: string, rec: ImageRecord, onEvent?: (e: ImageRunEvent) => void, signal?: AbortSignal): Promise<string[]> {
  return unpackImage(imageRoot, rec, { onEvent, signal });
}

export function randomId(): string {
  return randomBytes(6).toString('hex');
}

export async function prepareImageContainer(o: ImageContainerOptions): Promise<PreparedContainer> {
  const id = o.id ?? randomId();
  const state = new StateStore(o.root);
  const stateDir = state.dir(id); // validates the id
  if (existsSync(stateDir)) throw new ExistsError('container with id exists');
  const network = o.network ?? 'none';
  if (network !== 'none' && network !== 'host' && network !== 'joined') throw new InvalidArgumentError(`--network ${network}: want none or host`);
  const seccomp = loadSeccompChoice(o.seccomp); // a bad profile file fails before anything is made
  const store = new ImageStore(o.imageRoot);
  const image = await resolveImage(o);
  const config = await readImageConfig(store, image);

  const dir = containerDirOf(o.imageRoot, id);
  // Intent first: the state dir is claimed (the id taken) and names the bundle before the first
  // side effect here, and is locked while this runs. A maker killed at any later point (the overlay
  // mounted, no container yet) leaves a stopped container whose `delete --force` unmounts and
  // removes the bundle (destroy → releaseImageRootfs), and that `image prune` recognises.
  state.claim(id);
  let unlock: (() => void) | undefined = state.lock(id);
  const releaseLock = () => {
    unlock?.();
    unlock = undefined;
  };
  let netns: { fd: number; path: string } | undefined;
  const closeNetns = () => {
    if (netns) closeSync(netns.fd);
    netns = undefined;
  };
  const ourIntent = () => {
    try {
      const rec = state.load(id);
      return !rec.pid && (rec.bundle === dir || rec.bundle === '');
    } catch {
      return false; // gone (the create's rollback removed it)
    }
  };
  let dirMade = false;
  const discard = () => {
    closeNetns();
    if (dirMade) removeContainerDir(dir);
    if (ourIntent()) state.remove(id);
    releaseLock();
  };
  const abandon = () => {
    let rec;
    try {
      rec = state.load(id);
    } catch {
      rec = undefined;
    }
    if (!rec?.pid) discard();
  };
  try {
    state.save({
      ociVersion: '1.3.0',
      id,
      pid: 0,
      bundle: dir,
      rootfs: path.join(dir, 'rootfs'),
      created: new Date().toISOString(),
      owner: ownerName(),
      config: { ociVersion: '1.3.0' },
      creating: true,
    });
    mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ExistsError(`container with id exists (its image dir ${dir} is still there)`);
      throw err;
    }
    dirMade = true;
    const marker: ImageContainerMarker = {
      id,
      imageRoot: path.resolve(o.imageRoot),
      image: { id: image.id, manifestDigest: image.manifestDigest, ...(image.names[0] ? { name: image.names[0] } : {}) },
      chainIDs: chainIDs(image.diffIds),
      pid: process.pid,
      created: new Date().toISOString(),
      stateRoot: path.resolve(o.root),
    };
    // Written before the layers are ensured, so a concurrent prune sees them in use.
    writeFileSync(path.join(dir, IMAGE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    const layerDirs = await ensureImageLayers(o.imageRoot, image, o.onEvent, o.pull?.signal);
    const lowers = layerDirs.reverse();
    if (lowers.length === 0) {
      mkdirSync(path.join(dir, 'empty'), { mode: 0o755 });
      lowers.push(path.join(dir, 'empty'));
    }
    // The merged root takes the upper dir's owner and mode: match the image's / (0755, not 0700).
    const top = statSync(lowers[0]);
    const upper = path.join(dir, 'upper');
    mkdirSync(upper, { mode: top.mode & 0o7777 });
    chownSync(upper, top.uid, top.gid);
    mkdirSync(path.join(dir, 'work'), { mode: 0o700 });
    const rootfs = path.join(dir, 'rootfs');
    mkdirSync(rootfs, { mode: 0o755 });
    mountOverlay({ lowers, upper, work: path.join(dir, 'work'), target: rootfs, source: 'overlay', api: o.overlayApi });

    const cfg = config.config ?? {};
    const accounts = readAccounts(rootfs);
    const user = resolveUser(o.user ?? cfg.User ?? '', accounts.passwd, accounts.group);
    const cwd = o.workdir || cfg.WorkingDir;
    if (cwd) {
      if (!cwd.startsWith('/')) throw new InvalidArgumentError(`working directory "${cwd}" must be an absolute path`);
      mkdirInRoot(rootfs, cwd);
    }
    if (network === 'none') netns = createLoopbackNetns();
    let hostResolv = '';
    try {
      hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* no resolver configured on the host */
    }
    const made = buildImageBundle(
      config,
      user,
      {
        id,
        hostname: o.hostname,
        command: o.command,
        entrypoint: o.entrypoint,
        env: o.env,
        hostEnv: o.hostEnv ?? callerEnv(),
        workdir: o.workdir,
        tty: o.tty,
        readOnly: o.readOnly,
        network: network === 'host' ? 'host' : 'none',
        netnsPath: netns?.path ?? o.netnsPath,
        volumes: o.volumes,
        containerDir: dir,
        cgroupNamespace: isCgroup2UnifiedMode(),
        annotations: { 'org.opencontainers.image.ref.name': image.names[0] ?? image.id, 'io.tsrun.image.id': image.id },
      },
      hostResolv,
    );
    await o.editBundle?.({ id, dir, rootfs, spec: made.spec, files: made.files, config, image });
    applyImageSeccomp(made.spec, seccomp);
    for (const [name, text] of Object.entries(made.files)) writeFileSync(path.join(dir, name), text, { mode: 0o644 });
    for (const v of made.volumeDirs) mkdirSync(path.join(dir, v), { recursive: true, mode: 0o755 });
    for (const m of made.spec.mounts ?? []) {
      if (m.type === 'bind' && m.source && !m.source.startsWith(dir) && !existsSync(m.source)) {
        throw new InvalidArgumentError(`volume source ${m.source} does not exist`);
      }
    }
    writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(made.spec, null, 2)}\n`);
    // create takes the lock itself (flock: a second open of the dir in this process would wait).
    releaseLock();
    return { id, dir, spec: made.spec, image, closeNetns, discard, abandon };
  } catch (err) {
    try {
      discard();
    } catch {
      /* reported with the original error below */
    }
    throw err;
  }
}

export interface ImageRunOptions extends ImageContainerOptions {
  logger: Logger;
  /** Remove the container when it exits (foreground only; the caller removes it). */
  rm?: boolean;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  /** The global --systemd-cgroup: place the container through systemd. */
  systemdCgroup?: boolean;
  /** Become a child subreaper first (the CLI's foreground run). */
  subreaper?: boolean;
}

export interface ImageRunResult extends Created {
  id: string;
}

/**
 * docker run: prepare, create and start. Resolves with the running container; waiting for it in
 * the foreground (and --rm) is the caller's (cli/verbs/run-image.ts).
 */
export async function runImage(o: ImageRunOptions): Promise<ImageRunResult> {
  if (o.rm && o.detach) throw new InvalidArgumentError('--rm with -d is not supported: nobody stays to remove the container');
  const p = await prepareImageContainer(o);
  try {
    const r = await runContainer({
      id: p.id,
      bundle: p.dir,
      root: o.root,
      spec: p.spec,
      logger: o.logger,
      detach: o.detach,
      subreaper: o.subreaper,
      pidFile: o.pidFile,
      consoleSocket: o.consoleSocket,
      systemdCgroup: o.systemdCgroup,
      claimed: true,
    });
    return { ...r, id: p.id };
  } catch (err) {
    // No init: create failed (its rollback knows nothing of our dir) or the cleanup ran already.
    p.abandon();
    throw err;
  } finally {
    p.closeNetns();
  }
}
