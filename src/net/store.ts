// The network store: <imageRoot>/networks, private to its owner (0700, files 0600), beside the
// image store's blobs/ and layers/ (default /var/lib/tsrun/networks).
//
//   networks/<name>.json          one network (NetworkRecord)
//   networks/attachments/<id>.json what a container holds on its networks (AttachmentRecord),
//                                  written BEFORE each thing is added, so that a disconnect after
//                                  a crash or a kill knows what to release (its port proxy's
//                                  pid and start time included)
//   networks/ipam/<name>/          host-local's leases (its dataDir)
//   networks/netns/<id>            pinned network namespaces (netns.ts pinNetns)
//   networks/lock                  the store lock (flock)
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SyscallError } from '../errors.js';
import { lazyLibc, syscallError } from '../sys/libc.js';
import type { CniResult } from './cni.js';
import type { HostEntry } from './hosts.js';
import type { PortProtocol } from './ports.js';

export const DEFAULT_IMAGE_ROOT = '/var/lib/tsrun';
export const DEFAULT_NETWORK = 'bridge';

/** One network as stored. */
export interface NetworkRecord {
  name: string;
  /** 64 hex digits, as Docker's network IDs. */
  id: string;
  driver: 'bridge';
  created: string;
  subnet: string;
  gateway: string;
  /** No outbound NAT and no default route (Docker --internal). */
  internal: boolean;
  /** The host bridge's name: tsrun0 for `bridge`, br-<id12> for the others. */
  bridge: string;
  labels: Record<string, string>;
}

export interface PublishedPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
}

export interface AttachedNetwork {
  name: string;
  networkId: string;
  ifName: string;
  aliases: string[];
  /** The address asked for (--ip), given to host-local through CNI_ARGS IP=. */
  ip?: string;
  /** The CNI result so far (updated after every plugin's ADD); absent until the first plugin answered. */
  result?: CniResult;
  /** Ports published through this network (the first network carries all of them). */
  ports: PublishedPort[];
}

/** A container's port proxy (proxy.ts): its pid and start time (/proc/PID/stat field 22). */
export interface ProxyRecord {
  pid: number;
  startTime: string;
}

/** What a container holds on tsrun's networks. */
export interface AttachmentRecord {
  id: string;
  name?: string;
  hostname?: string;
  netnsPath: string;
  /** The namespace is tsrun's, pinned at netnsPath (removed on disconnect). */
  pinned: boolean;
  /** For a caller's namespace: its inode when connected, to tell a reused /proc path from it. */
  netnsIno?: number;
  hostsPath?: string;
  owner?: string;
  extraHosts: HostEntry[];
  created: string;
  networks: AttachedNetwork[];
  /** The userland proxy of the published ports (proxy.ts), recorded before it serves. */
  proxy?: ProxyRecord;
}

export class NetworkStore {
  readonly dir: string;
  constructor(imageRoot: string = DEFAULT_IMAGE_ROOT) {
    this.dir = path.join(path.resolve(imageRoot), 'networks');
  }

  /** Creates the store's directories (the image root 0710 as the image store makes it, the rest 0700). */
  open(): void {
    try {
      const root = path.dirname(this.dir);
      if (!fs.existsSync(root)) fs.mkdirSync(root, { recursive: true, mode: 0o710 });
      for (const d of [this.dir, this.attachmentsDir, this.ipamDir, this.netnsDir]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'mkdir', context: 'open the network store' });
    }
  }

  get attachmentsDir(): string {
    return path.join(this.dir, 'attachments');
  }
  get ipamDir(): string {
    return path.join(this.dir, 'ipam');
  }
  get netnsDir(): string {
    return path.join(this.dir, 'netns');
  }
  networkFile(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }
  attachmentFile(id: string): string {
    return path.join(this.attachmentsDir, `${id}.json`);
  }
  pinFile(id: string): string {
    return path.join(this.netnsDir, id);
  }

  readNetwork(name: string): NetworkRecord | undefined {
    return readJson<NetworkRecord>(this.networkFile(name));
  }

  listNetworks(): NetworkRecord[] {
    return this.readAll(this.dir, (n) => this.readNetwork(n));
  }

  /** A new network's record; false when one of that name exists (O_EXCL). */
  createNetwork(rec: NetworkRecord): boolean {
    return writeJson(this.networkFile(rec.name), rec, true);
  }

  removeNetwork(name: string): void {
    fs.rmSync(this.networkFile(name), { force: true });
    fs.rmSync(path.join(this.ipamDir, name), { recursive: true, force: true });
  }

  readAttachment(id: string): AttachmentRecord | undefined {
    return readJson<AttachmentRecord>(this.attachmentFile(id));
  }

  listAttachments(): AttachmentRecord[] {
    return this.readAll(this.attachmentsDir, (n) => this.readAttachment(n));
  }

  writeAttachment(rec: AttachmentRecord): void {
    writeJson(this.attachmentFile(rec.id), rec, false);
  }

  removeAttachment(id: string): void {
    fs.rmSync(this.attachmentFile(id), { force: true });
  }

  /**
   * Runs fn holding the store lock: flock(2) on networks/lock, which the kernel releases when its
   * holder dies, so a killed tsrun never leaves the store locked. Held around record changes and
   * hosts files, never around plugin runs; not re-entrant.
   */
  async locked<T>(fn: () => T | Promise<T>): Promise<T> {
    this.open();
    const lock = path.join(this.dir, 'lock');
    let fd: number;
    try {
      fd = fs.openSync(lock, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'open', path: lock });
    }
    try {
      const b = flockBindings();
      const until = Date.now() + 30_000;
      // LOCK_NB and a poll on the event loop: a blocking flock would stop every other task of the process.
      while (b.flock(fd, LOCK_EX | LOCK_NB) < 0) {
        const e = b.errno();
        if (e !== EWOULDBLOCK) throw syscallError('flock', e, lock);
        if (Date.now() > until) throw syscallError('flock', e, lock, { context: 'the network store stayed locked for 30 s' });
        await delay(10);
      }
      return await fn();
    } finally {
      fs.closeSync(fd);
    }
  }

  private readAll<T>(dir: string, read: (name: string) => T | undefined): T[] {
    return jsonNames(dir)
      .map(read)
      .filter((r): r is T => r !== undefined);
  }
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const flockBindings = lazyLibc<{ flock: (fd: number, op: number) => number }>((f) => ({ flock: f('int flock(int fd, int operation)') }));

function readText(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function readJson<T>(p: string): T | undefined {
  const text = readText(p);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function jsonNames(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}

/** Writes a record atomically (a temporary file, then rename), or with O_EXCL when `exclusive`. */
function writeJson(p: string, value: unknown, exclusive: boolean): boolean {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  const target = exclusive ? p : `${p}.${process.pid}.tmp`;
  let fd: number;
  try {
    if (!exclusive) fs.rmSync(target, { force: true });
    fd = fs.openSync(target, flags, 0o600);
  } catch (err) {
    if (exclusive && (err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'open', path: target });
  }
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (!exclusive) fs.renameSync(target, p);
  return true;
}
