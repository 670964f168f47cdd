// What the Docker-style front knows of its containers beyond the runtime's state:
//   <imageRoot>/containers/<id>/front.json    the record (name, image, command, volumes, options)
//   <imageRoot>/containers/<id>/exit.json     written by the monitor when the init exits
//   <imageRoot>/containers/<id>/<id>-json.log the json-file log (detached containers)
//   <imageRoot>/front/names/<name>            the id holding a name (made O_EXCL: one holder)
// Everything below <imageRoot>/containers/<id>/ goes with the container (delete → releaseImageRootfs).
import { closeSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ExistsError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { containerDirOf } from '../image/image-rootfs.js';
import { writeAtomic } from '../state/store.js';

export const FRONT_FILE = 'front.json';
export const EXIT_FILE = 'exit.json';

export interface FrontVolume {
  name: string;
  destination: string;
  anonymous: boolean;
}

export interface FrontRecord {
  id: string;
  name: string;
  /** The image as the user named it, and its ID. */
  image: string;
  imageId: string;
  /** The process's args (entrypoint + command). */
  command: string[];
  created: string;
  startedAt?: string;
  /** The state root the container's runtime state lives in. */
  stateRoot: string;
  rm: boolean;
  tty: boolean;
  interactive: boolean;
  stopSignal: string;
  stopTimeout: number;
  /** The json-file log's limits (--log-opt), for the monitor of a start again. */
  logMaxSize?: number;
  logMaxFiles?: number;
  /** --init: args[0..2] of the process are tsrun's init; command is what it runs. */
  init?: boolean;
  volumes: FrontVolume[];
  labels: Record<string, string>;
  ports: string[];
  network: string;
}

export interface ExitRecord {
  exitCode: number;
  signal: number;
  status: number;
  finishedAt: string;
}

export function logFileOf(dir: string, id: string): string {
  return path.join(dir, `${id}-json.log`);
}

export function readFront(imageRoot: string, id: string): FrontRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path.join(containerDirOf(imageRoot, id), FRONT_FILE), 'utf8')) as FrontRecord;
    return r.id === id ? r : undefined;
  } catch {
    return undefined;
  }
}

export function writeFront(imageRoot: string, rec: FrontRecord): void {
  writeAtomic(path.join(containerDirOf(imageRoot, rec.id), FRONT_FILE), `${JSON.stringify(rec, null, 2)}\n`);
}

export function readExit(imageRoot: string, id: string): ExitRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(containerDirOf(imageRoot, id), EXIT_FILE), 'utf8')) as ExitRecord;
  } catch {
    return undefined;
  }
}

/** Every front container of this state root. */
export function listFront(imageRoot: string, stateRoot: string): FrontRecord[] {
  let ids: string[];
  try {
    ids = readdirSync(path.join(path.resolve(imageRoot), 'containers'));
  } catch {
    return [];
  }
  const out: FrontRecord[] = [];
  for (const id of ids) {
    const r = readFront(imageRoot, id);
    if (r && r.stateRoot === path.resolve(stateRoot)) out.push(r);
  }
  return out.sort((a, b) => b.created.localeCompare(a.created));
}

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function namesDir(imageRoot: string): string {
  return path.join(path.resolve(imageRoot), 'front', 'names');
}

/**
 * Makes `file` with `text` (0600): false if it exists already. Written to a file of this process's
 * own (O_EXCL|O_NOFOLLOW) and linked into place, so that a reader never sees it empty: an O_EXCL
 * create of `file` itself would show an empty file until the write, taken for a stale one.
 */
export function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Takes `name` for `id`: the name file is made O_EXCL|O_NOFOLLOW, so of two creates with one
 * name exactly one wins. A name left by a container that no longer exists is taken over.
 */
export function claimName(imageRoot: string, name: string, id: string): void {
  if (!NAME.test(name)) throw new InvalidArgumentError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const dir = namesDir(imageRoot);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, name.replace(/^\//, ''));
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!createExclusive(file, id)) {
      const holder = nameHolder(imageRoot, name);
      if (holder && readFront(imageRoot, holder)) {
        throw new ExistsError(
          `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      rmSync(file, { force: true }); // stale: its container is gone
      continue;
    }
    return;
  }
  throw new ExistsError(`Conflict. The container name "/${name}" is being claimed by another create`);
}

export function nameHolder(imageRoot: string, name: string): string | undefined {
  try {
    return readFileSync(path.join(namesDir(imageRoot), name.replace(/^\//, '')), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Gives the name up, only if `id` still holds it. */
export function releaseName(imageRoot: string, name: string, id: string): void {
  if (nameHolder(imageRoot, name) === id) rmSync(path.join(namesDir(imageRoot), name.replace(/^\//, '')), { force: true });
}

/** Docker's lookup: a full id, a name, then a unique id prefix. */
export function resolveContainer(imageRoot: string, stateRoot: string, ref: string): FrontRecord {
  const all = listFront(imageRoot, stateRoot);
  const byId = all.find((r) => r.id === ref);
  if (byId) return byId;
  const bare = ref.replace(/^\//, '');
  const byName = all.find((r) => r.name === bare);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = all.filter((r) => r.id.startsWith(ref));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) throw new InvalidArgumentError(`multiple containers found with provided prefix: ${ref}`);
  }
  throw new NotFoundError(`No such container: ${ref}`);
}

/** The monitor's pid, if it is alive: its pid file, checked against the process's working dir. */
export function monitorPid(imageRoot: string, id: string): number | undefined {
  const dir = containerDirOf(imageRoot, id);
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dir, 'monitor.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // A recycled pid belongs to some other process, whose working directory is not this one.
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    const exe = readlinkSync(`/proc/${pid}/exe`);
    if ((cwd === dir || cwd === `${dir} (deleted)`) && exe.endsWith('tsrun-monitor')) return pid;
  } catch {
    /* gone */
  }
  return undefined;
}

/** Bytes below dir (lstat: no link is followed; a mount point is not crossed), for prune's total. */
export function diskUsage(dir: string): number {
  let total = 0;
  let dev: number | undefined;
  const walk = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    dev ??= st.dev;
    if (st.dev !== dev) return;
    total += st.size;
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(p);
    } catch {
      return;
    }
    for (const n of names) walk(path.join(p, n));
  };
  walk(dir);
  return total;
}
