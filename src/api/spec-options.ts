// The library's container options → a runtime-spec config. Starts from defaultSpec() (runc's
// `spec` example: new pid, network, ipc, uts and mount namespaces; three capabilities;
// noNewPrivileges; a read-only root) and applies what the caller asked for. Pure: no file system
// access, so the mapping is unit-tested.
import path from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { RLIMIT_NUMBERS } from '../plan/rlimits.js';
import { defaultSpec } from '../spec/defaults.js';
import type { LinuxResources, Mount, POSIXRlimit, Process, Spec } from '../spec/types.js';

export type RlimitName = keyof typeof RLIMIT_NUMBERS & string;

/** What runs: shared by a container's init and exec. */
export interface ProcessOptions {
  args: string[];
  /** Added to (or replacing, by name) the defaults PATH=… and TERM=xterm. */
  env?: readonly string[] | Readonly<Record<string, string>>;
  cwd?: string;
  user?: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  /** A pty instead of pipes: the container gets it as 0-2 and its controlling terminal. */
  terminal?: boolean;
  /** Initial pty size. */
  consoleSize?: { rows: number; cols: number };
  /** e.g. { RLIMIT_CPU: 5, RLIMIT_NOFILE: { soft: 64, hard: 64 } } (values are numbers, soft = hard). */
  rlimits?: Partial<Record<string, number | { soft: number; hard: number }>>;
  /** Capabilities in every set (default runc's three: AUDIT_WRITE, KILL, NET_BIND_SERVICE). */
  capabilities?: string[];
}

/** cgroup limits (need a cgroup v2 hierarchy with the controllers enabled). */
export interface Limits {
  /** memory.max in bytes. */
  memory?: number;
  /** CPUs' worth of time (cpu.max quota/period, period 100 ms). */
  cpus?: number;
  /** pids.max */
  pids?: number;
}

export interface RootfsOptions extends ProcessOptions {
  /** Absolute path of the root filesystem. Read-only unless readonlyRootfs is false. */
  rootfs: string;
  readonlyRootfs?: boolean;
  hostname?: string;
  /** Extra OCI mounts, after the defaults (/proc, /dev, /sys, …). */
  mounts?: Mount[];
  /** tmpfs mounts: ['/tmp'] or { '/tmp': 'size=64m' }. */
  tmpfs?: readonly string[] | Readonly<Record<string, string>>;
  /** 'none' (default): a new network namespace with only lo; 'host': the host's. */
  network?: 'none' | 'host';
  limits?: Limits;
  /** Raw linux.resources, merged over what limits gives. */
  resources?: LinuxResources;
  annotations?: Record<string, string>;
  /** Last word: change the generated config before it is used. */
  configure?: (spec: Spec) => void;
}

function envList(env: ProcessOptions['env']): string[] {
  if (!env) return [];
  const list = Array.isArray(env) ? [...(env as readonly string[])] : Object.entries(env).map(([k, v]) => `${k}=${v}`);
  for (const e of list) {
    if (typeof e !== 'string' || !/^[^=]+=/.test(e)) throw new InvalidArgumentError(`env: "${e}" is not NAME=value`);
  }
  return list;
}

/** base with later entries replacing earlier ones of the same name, order kept. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) out.set(e.slice(0, e.indexOf('=')), e);
  return [...out.values()];
}

function rlimitList(r: ProcessOptions['rlimits'], base: POSIXRlimit[]): POSIXRlimit[] {
  const out = new Map(base.map((x) => [x.type, x]));
  for (const [type, v] of Object.entries(r ?? {})) {
    if (!(type in RLIMIT_NUMBERS)) throw new InvalidArgumentError(`rlimits: unknown limit "${type}"`);
    if (v === undefined) continue;
    const [soft, hard] = typeof v === 'number' ? [v, v] : [v.soft, v.hard];
    if (!Number.isInteger(soft) || !Number.isInteger(hard) || soft < 0 || soft > hard) {
      throw new InvalidArgumentError(`rlimits.${type}: soft and hard must be integers with 0 <= soft <= hard`);
    }
    out.set(type, { type, soft, hard });
  }
  return [...out.values()];
}

/** A Process for the config or for exec, from a base (the container's own, for exec). */
export function buildProcess(o: ProcessOptions, base: Process): Process {
  if (!Array.isArray(o.args) || o.args.length === 0 || o.args.some((a) => typeof a !== 'string')) {
    throw new InvalidArgumentError('args: must be a non-empty array of strings naming the program to run');
  }
  const p: Process = structuredClone(base);
  p.args = [...o.args];
  p.env = mergeEnv(p.env ?? [], envList(o.env));
  if (o.cwd !== undefined) {
    if (!path.posix.isAbsolute(o.cwd)) throw new InvalidArgumentError(`cwd: "${o.cwd}" must be an absolute path`);
    p.cwd = o.cwd;
  }
  if (o.user) {
    for (const k of ['uid', 'gid'] as const) {
      if (!Number.isInteger(o.user[k]) || o.user[k] < 0) throw new InvalidArgumentError(`user.${k}: must be a non-negative integer`);
    }
    p.user = { ...o.user };
  }
  p.terminal = !!o.terminal;
  if (o.consoleSize) p.consoleSize = { height: o.consoleSize.rows, width: o.consoleSize.cols };
  p.rlimits = rlimitList(o.rlimits, p.rlimits ?? []);
  if (o.capabilities) {
    const caps = o.capabilities.map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`).toUpperCase());
    p.capabilities = { bounding: caps, effective: caps, permitted: [...caps] };
  }
  return p;
}

export function limitsToResources(l: Limits | undefined): LinuxResources {
  const r: LinuxResources = {};
  if (!l) return r;
  if (l.memory !== undefined) {
    if (!Number.isInteger(l.memory) || l.memory <= 0) throw new InvalidArgumentError('limits.memory: must be a positive number of bytes');
    r.memory = { limit: l.memory };
  }
  if (l.cpus !== undefined) {
    if (!(l.cpus > 0)) throw new InvalidArgumentError('limits.cpus: must be positive');
    r.cpu = { period: 100_000, quota: Math.round(l.cpus * 100_000) };
  }
  if (l.pids !== undefined) {
    if (!Number.isInteger(l.pids) || l.pids <= 0) throw new InvalidArgumentError('limits.pids: must be a positive integer');
    r.pids = { limit: l.pids };
  }
  return r;
}

function tmpfsMounts(t: RootfsOptions['tmpfs']): Mount[] {
  if (!t) return [];
  const entries: [string, string][] = Array.isArray(t) ? (t as readonly string[]).map((d) => [d, '']) : Object.entries(t as Record<string, string>);
  return entries.map(([destination, opts]) => {
    if (!path.posix.isAbsolute(destination)) throw new InvalidArgumentError(`tmpfs: "${destination}" must be an absolute path`);
    return { destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', ...(opts ? opts.split(',') : [])] };
  });
}

/** The config for a container whose root filesystem is a directory on the host. */
export function specFromOptions(o: RootfsOptions): Spec {
  if (typeof o.rootfs !== 'string' || !path.isAbsolute(o.rootfs)) {
    throw new InvalidArgumentError(`rootfs: "${String(o.rootfs)}" must be an absolute path`);
  }
  const spec = defaultSpec();
  spec.process = buildProcess(o, spec.process!);
  spec.root = { path: o.rootfs, readonly: o.readonlyRootfs ?? true };
  if (o.hostname !== undefined) spec.hostname = o.hostname;
  const linux = spec.linux!;
  if (o.network === 'host') linux.namespaces = linux.namespaces!.filter((n) => n.type !== 'network');
  else if (o.network !== undefined && o.network !== 'none') throw new InvalidArgumentError(`network: "${String(o.network)}" is not 'none' or 'host'`);
  applyContainerOptions(spec, o);
  return spec;
}

/** Mounts, limits, annotations and the configure hook: the part shared with image configs. */
export function applyContainerOptions(spec: Spec, o: Omit<RootfsOptions, 'rootfs' | 'args'>): void {
  spec.mounts = [...(spec.mounts ?? []), ...tmpfsMounts(o.tmpfs), ...(o.mounts ?? [])];
  const linux = (spec.linux ??= {});
  const resources = { ...limitsToResources(o.limits), ...(o.resources ?? {}) };
  // defaultSpec's device rule ("deny all") is what the device controller starts from anyway.
  if (Object.keys(resources).length) linux.resources = { ...linux.resources, ...resources };
  if (o.annotations) spec.annotations = { ...(spec.annotations ?? {}), ...o.annotations };
  o.configure?.(spec);
}
