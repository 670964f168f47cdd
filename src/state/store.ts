// The state root (--root, default /run/tsrun): one directory per container holding state.json
// and, until `start`, exec.fifo. Writes are atomic (temp file + rename in the same directory);
// mutations hold a per-container flock so concurrent engine calls serialise (runc does the same
// with its own lock). A directory without state.json is a create that died half-way: it reads as
// a stopped container so that `delete` can clean it up.
import {
  chmodSync,
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
  constants,
} from 'node:fs';
import path from 'node:path';
import { ExistsError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { addon, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from '../sys/addon.js';
import type { CgroupRecord } from '../cgroups/manager.js';
import type { Spec } from '../spec/types.js';
import { randomHex } from '../sys/random.js';
import { saveFastRecord } from './fast-record.js';

export const DEFAULT_ROOT = '/run/tsrun';
export const STATE_FILE = 'state.json';
export const FIFO_FILE = 'exec.fifo';

export interface ContainerRecord {
  ociVersion: string;
  id: string;
  /** Host pid of the init; 0 before it exists. */
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the init was made: guards against pid reuse. */
  pidStartTime?: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
  /** The config the container was made from (exec, hooks and delete need it). */
  config: Spec;
  /** The container's cgroup directory on the host, and the directories tsrun created for it. */
  cgroup?: CgroupRecord;
  /** Set while create is under way. */
  creating?: boolean;
  /** Host path of the socket the container's NOTIFY_SOCKET leads to (container/notify.ts). */
  notifySocket?: string;
}

// runc's rule (libcontainer/container_linux.go validateID): letters, digits and _+-. only.
const ID_RE = /^[\w+\-.]+$/;

export function validateId(id: unknown): string {
  if (id !== undefined && id !== null && typeof id !== 'string') {
    // A library caller's number or object: named (cut short) instead of a TypeError from path.join.
    let shown: string;
    try {
      shown = String(id as string).slice(0, 64);
    } catch {
      shown = Object.prototype.toString.call(id);
    }
    throw new InvalidArgumentError(`container id must be a string, got ${typeof id} ${shown}`);
  }
  if (!id) throw new InvalidArgumentError('container id cannot be empty');
  if (!ID_RE.test(id) || id === '.' || id === '..') throw new InvalidArgumentError(`invalid id format: ${id}`);
  return id;
}

export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  dir(id: string): string {
    return path.join(this.root, validateId(id));
  }

  /** Makes the container's directory; fails with runc's words if the id is taken. */
  claim(id: string): string {
    this.#ensureRoot();
    const dir = this.dir(id);
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ExistsError(`container with id exists: ${id}`);
      throw err;
    }
    return dir;
  }

  /**
   * state.json holds the whole config, environment included: it is 0600, and the root is 0700, as
   * runc's (libcontainer: MkdirAll(root, 0o700)). A user-namespaced init does not walk the root: a
   * bind source it cannot reach (its notify dir, <root>/<id>/notify) is opened by the parent as the
   * host's root (process/mount-source.ts). A root made with more than 0700 is tightened.
   */
  #ensureRoot(): void {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const st = statSync(this.root);
    if (st.mode & 0o077 && st.uid === process.geteuid?.()) chmodSync(this.root, st.mode & 0o7700);
  }

  exists(id: string): boolean {
    try {
      readdirSync(this.dir(id));
      return true;
    } catch {
      return false;
    }
  }

  /** Holds an exclusive lock on the container's directory until the returned function is called. */
  lock(id: string): () => void {
    const fd = this.#openDir(id);
    addon().flock(fd, LOCK_EX);
    return () => closeSync(fd);
  }

  /**
   * lock() on the event loop: a lock held by another process (a create under way, a delete waiting
   * for exits) is retried with a short back-off instead of blocking this thread in flock(2).
   */
  async lockAsync(id: string, signal?: AbortSignal): Promise<() => void> {
    const fd = this.#openDir(id);
    try {
      for (let delay = 1; !addon().flock(fd, LOCK_EX | LOCK_NB); delay = Math.min(delay * 2, 50)) {
        signal?.throwIfAborted();
        await sleep(delay);
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return () => closeSync(fd);
  }

  /** Whether another open holds the container's lock (a create under way holds it throughout). */
  isLocked(id: string): boolean {
    let fd: number;
    try {
      fd = this.#openDir(id);
    } catch {
      return false;
    }
    try {
      if (!addon().flock(fd, LOCK_SH | LOCK_NB)) return true;
      addon().flock(fd, LOCK_UN);
      return false;
    } finally {
      closeSync(fd);
    }
  }

  #openDir(id: string): number {
    try {
      return openSync(this.dir(id), constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError();
      throw err;
    }
  }

  load(id: string): ContainerRecord {
    const dir = this.dir(id);
    let text: string;
    try {
      text = readFileSync(path.join(dir, STATE_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!this.exists(id)) throw new NotFoundError();
      // A create killed before its first write: an empty, stopped container.
      return { ociVersion: '1.3.0', id, pid: 0, bundle: '', rootfs: '', created: new Date(0).toISOString(), owner: '', config: { ociVersion: '1.3.0' } };
    }
    return JSON.parse(text) as ContainerRecord;
  }

  /** Writes state.json, then the fast record the short verbs' static front reads (fast-record.ts). */
  save(rec: ContainerRecord): void {
    const dir = this.dir(rec.id);
    writeAtomic(path.join(dir, STATE_FILE), JSON.stringify(rec));
    saveFastRecord(dir, rec, writeAtomic);
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  list(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory() && ID_RE.test(d.name))
        .map((d) => d.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}

/**
 * Write-then-rename, so readers see the old or the new file, never a torn one. No fsync: the state
 * root lives on tmpfs (/run) and does not outlive a reboot, and runc and crun do not sync either;
 * an fsync cost 47 ms median per create on this machine's ext4.
 *
 * The temp file has a random name and is made with O_EXCL|O_NOFOLLOW: a file or symlink planted in
 * the directory (a pid file's may be writable by others) is never opened, let alone truncated.
 * mode: 0600 (state) unless told; a pid file is 0644, as runc's.
 */
export function writeAtomic(file: string, data: string, mode = 0o600): void {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW; // libuv adds O_CLOEXEC
  let tmp = '';
  let fd = -1;
  for (let i = 0; fd < 0; i++) {
    tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomHex(8)}.tmp`);
    try {
      fd = openSync(tmp, flags, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i >= 9) throw err;
    }
  }
  try {
    fchmodSync(fd, mode); // exactly mode, whatever the umask
    writeSync(fd, data);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
