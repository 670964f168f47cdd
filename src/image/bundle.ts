// A runtime config from an image config, on top of the default spec — the image-spec's
// conversion.md ("Converting an OCI Image Configuration to a runtime bundle") with Docker's
// `docker run` semantics for the overrides:
//   Entrypoint + Cmd → process.args (a command after `--` replaces Cmd, --entrypoint replaces
//   Entrypoint and drops Cmd); Env → process.env (then -e; PATH defaulted); WorkingDir → cwd;
//   User → process.user (names resolved by the caller from the image's files); Labels →
//   annotations; StopSignal → annotation org.opencontainers.image.stopSignal; Volumes → a fresh
//   directory each; /etc/hosts, /etc/hostname and /etc/resolv.conf bind-mounted from files the
//   caller writes into the container dir.
// Pure: no file system access, so every rule is unit-tested.
import { posix } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { defaultSpec } from '../spec/defaults.js';
import type { Mount, Spec } from '../spec/types.js';
import type { ExecUser } from './user.js';

export interface ImageConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Volumes?: Record<string, unknown> | null;
  ExposedPorts?: Record<string, unknown> | null;
}

export interface ImageConfigFile {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  config?: ImageConfig | null;
}

export interface RunSettings {
  id: string;
  hostname?: string;
  /** Replaces the image's Cmd (what follows `--`). */
  command?: string[];
  /** Replaces the image's Entrypoint (and drops its Cmd). */
  entrypoint?: string;
  /** `-e K=V` or `-e K` (taken from hostEnv). */
  env?: string[];
  hostEnv?: NodeJS.ProcessEnv;
  workdir?: string;
  tty?: boolean;
  readOnly?: boolean;
  network: 'none' | 'host';
  /** The namespace to join for `none` (see netns.ts); a new one when absent. */
  netnsPath?: string;
  /** `-v HOST:CTR[:ro|rw]`. */
  volumes?: string[];
  /** Host directory holding hosts, hostname, resolv.conf and volumes/ (the bundle dir). */
  containerDir: string;
  cgroupNamespace?: boolean;
  annotations?: Record<string, string>;
}

export interface ImageBundle {
  spec: Spec;
  /** Files to write into containerDir (name → content) before create. */
  files: Record<string, string>;
  /** Directories (below containerDir) to create for anonymous volumes. */
  volumeDirs: string[];
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// Docker's default capability set (moby oci/caps/defaults.go), as `docker run` users expect.
export const DOCKER_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

function absolute(p: string, what: string): string {
  if (!p.startsWith('/')) throw new InvalidArgumentError(`${what} "${p}" must be an absolute path`);
  return posix.normalize(p);
}

/** Later entries override earlier ones by key; order of first appearance is kept. */
export function mergeEnv(base: string[], overrides: string[], hostEnv: NodeJS.ProcessEnv = {}): string[] {
  const out = new Map<string, string>();
  for (const e of base) {
    const i = e.indexOf('=');
    out.set(i < 0 ? e : e.slice(0, i), e);
  }
  for (const e of overrides) {
    const i = e.indexOf('=');
    if (i === 0 || e === '') throw new InvalidArgumentError(`environment variable "${e}" has no name`);
    if (i < 0) {
      // docker run -e NAME: taken from the caller's environment, dropped when unset there.
      if (hostEnv[e] !== undefined) out.set(e, `${e}=${hostEnv[e]}`);
      continue;
    }
    out.set(e.slice(0, i), e);
  }
  return [...out.values()];
}

/** `-v HOST:CTR[:ro|rw]` → a bind mount; named volumes are not supported. */
export function parseVolume(v: string): Mount {
  const parts = v.split(':');
  if (parts.length < 2 || parts.length > 3) throw new InvalidArgumentError(`volume "${v}": want HOST:CONTAINER[:ro|rw]`);
  const [host, ctr, mode] = parts;
  if (!host.startsWith('/')) throw new InvalidArgumentError(`volume "${v}": named volumes are not supported; the host path must be absolute`);
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new InvalidArgumentError(`volume "${v}": mode "${mode}" is not ro or rw`);
  const options = ['rbind', 'rprivate'];
  if (mode === 'ro') options.push('ro');
  return { destination: absolute(ctr, `volume "${v}": container path`), type: 'bind', source: posix.normalize(host), options };
}

/** The process arguments Docker would run. */
export function commandLine(cfg: ImageConfig, s: Pick<RunSettings, 'command' | 'entrypoint'>): string[] {
  const entry = s.entrypoint !== undefined ? (s.entrypoint === '' ? [] : [s.entrypoint]) : (cfg.Entrypoint ?? []);
  const cmd = s.command?.length ? s.command : s.entrypoint !== undefined ? [] : (cfg.Cmd ?? []);
  const args = [...entry, ...cmd];
  if (args.length === 0) throw new InvalidArgumentError('no command: the image has no Entrypoint or Cmd and none was given after --');
  return args;
}

/** /etc/hosts as Docker writes it for a container without a bridge address. */
export function hostsFile(hostname: string): string {
  return (
    `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n` +
    `ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t${hostname}\n`
  );
}

/** The host's resolv.conf; loopback resolvers are dropped unless the container shares the host network. */
export function resolvConf(hostText: string, network: 'none' | 'host'): string {
  if (network === 'host') return hostText;
  return hostText
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l))
    .join('\n');
}

export function buildImageBundle(image: ImageConfigFile, user: ExecUser, s: RunSettings, hostResolv = ''): ImageBundle {
  const cfg = image.config ?? {};
  const spec = defaultSpec({ cgroupNamespace: s.cgroupNamespace });
  const hostname = s.hostname ?? s.id.slice(0, 12);
  const proc = spec.process!;
  proc.terminal = s.tty === true;
  proc.args = commandLine(cfg, s);
  const env = mergeEnv(['PATH=' + DEFAULT_PATH, `HOSTNAME=${hostname}`], cfg.Env ?? []);
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  if (s.tty && !has('TERM')) env.push('TERM=xterm');
  if (!has('HOME')) env.push(`HOME=${user.home || '/'}`);
  proc.env = mergeEnv(env, s.env ?? [], s.hostEnv);
  proc.cwd = absolute(s.workdir || cfg.WorkingDir || '/', 'working directory');
  proc.user = { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) };
  proc.capabilities = { bounding: [...DOCKER_CAPS], effective: [...DOCKER_CAPS], permitted: [...DOCKER_CAPS] };
  proc.noNewPrivileges = false;
  spec.root = { path: 'rootfs', readonly: s.readOnly === true };
  spec.hostname = hostname;

  const linux = spec.linux!;
  linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'network');
  if (s.network === 'none') linux.namespaces.push(s.netnsPath ? { type: 'network', path: s.netnsPath } : { type: 'network' });
  else if (s.network !== 'host') throw new InvalidArgumentError(`network "${String(s.network)}": want none or host`);

  const dir = s.containerDir;
  const files: Record<string, string> = {
    hosts: hostsFile(hostname),
    hostname: `${hostname}\n`,
    'resolv.conf': resolvConf(hostResolv, s.network),
  };
  const mounts = spec.mounts!;
  for (const f of ['hosts', 'hostname', 'resolv.conf']) {
    mounts.push({ destination: `/etc/${f}`, type: 'bind', source: posix.join(dir, f), options: ['rbind', 'rprivate'] });
  }
  const volumeDirs: string[] = [];
  const userVolumes = (s.volumes ?? []).map(parseVolume);
  const taken = new Set(userVolumes.map((m) => m.destination));
  Object.keys(cfg.Volumes ?? {})
    .sort()
    .forEach((v) => {
      const dest = absolute(v, 'image volume');
      if (taken.has(dest)) return;
      const sub = `volumes/${volumeDirs.length}`;
      volumeDirs.push(sub);
      mounts.push({ destination: dest, type: 'bind', source: posix.join(dir, sub), options: ['rbind', 'rprivate'] });
    });
  mounts.push(...userVolumes);

  const annotations: Record<string, string> = { ...(cfg.Labels ?? {}) };
  if (cfg.StopSignal) annotations['org.opencontainers.image.stopSignal'] = cfg.StopSignal;
  if (cfg.ExposedPorts && Object.keys(cfg.ExposedPorts).length) annotations['org.opencontainers.image.exposedPorts'] = Object.keys(cfg.ExposedPorts).join(',');
  if (image.os) annotations['org.opencontainers.image.os'] = image.os;
  if (image.architecture) annotations['org.opencontainers.image.architecture'] = image.architecture;
  if (image.created) annotations['org.opencontainers.image.created'] = image.created;
  if (image.author) annotations['org.opencontainers.image.author'] = image.author;
  Object.assign(annotations, s.annotations ?? {});
  spec.annotations = annotations;
  return { spec, files, volumeDirs };
}
