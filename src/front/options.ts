// `docker run` options read into what the front does with them: the mount grammars (-v, --mount,
// --tmpfs), --env-file, --log-opt, --security-opt, --add-host, --dns, capabilities, resources.
// Pure: every rule here is unit-tested (test/unit/front-options.test.ts).
import { posix } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { CAPABILITIES } from '../spec/known-names.js';
import type { LinuxResources, Mount, Spec } from '../spec/types.js';

// The user's environment for bare NAME lines and `-e NAME` (the CLI reaches process/ through here).
export { callerEnv } from '../process/caller-env.js';

/** One -v or --mount: a host bind, a named or anonymous volume, or a tmpfs. */
export type MountRequest =
  | { kind: 'bind'; source: string; target: string; readonly: boolean }
  | { kind: 'volume'; name?: string; target: string; readonly: boolean }
  | { kind: 'tmpfs'; target: string; options: string[] };

function absoluteTarget(p: string, what: string): string {
  if (!p.startsWith('/')) throw new InvalidArgumentError(`invalid ${what}: mount path must be absolute: "${p}"`);
  return posix.normalize(p);
}

/** `-v [SOURCE:]TARGET[:ro|rw]`: SOURCE absolute is a bind, a name a named volume, none an anonymous one. */
export function parseVolumeFlag(v: string): MountRequest {
  const parts = v.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new InvalidArgumentError(`invalid volume specification: '${v}'`);
  let mode: string | undefined;
  if (parts.length === 3 || (parts.length === 2 && (parts[1] === 'ro' || parts[1] === 'rw'))) mode = parts.pop();
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new InvalidArgumentError(`invalid mode: ${mode}`);
  const readonly = mode === 'ro';
  if (parts.length === 1) return { kind: 'volume', target: absoluteTarget(parts[0], `volume specification '${v}'`), readonly };
  const [source, target] = parts;
  const t = absoluteTarget(target, `volume specification '${v}'`);
  if (source.startsWith('/')) return { kind: 'bind', source: posix.normalize(source), target: t, readonly };
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(source)) {
    throw new InvalidArgumentError(
      `"${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  return { kind: 'volume', name: source, target: t, readonly };
}

/** `--mount type=bind|volume|tmpfs,source=…,target=…,readonly[,tmpfs-size=…,tmpfs-mode=…]`. */
export function parseMountFlag(m: string): MountRequest {
  const kv = new Map<string, string>();
  for (const field of m.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (!key) continue;
    if (value === undefined) {
      if (key === 'readonly' || key === 'ro') kv.set('readonly', 'true');
      else throw new InvalidArgumentError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    kv.set(key === 'src' ? 'source' : key === 'dst' || key === 'destination' ? 'target' : key === 'ro' ? 'readonly' : key, value);
  }
  const type = kv.get('type') ?? 'volume';
  const target = kv.get('target');
  if (!target) throw new InvalidArgumentError('invalid argument for "--mount" flag: target is required');
  const t = absoluteTarget(target, `--mount ${m}`);
  const ro = kv.get('readonly');
  const readonly = ro !== undefined && ro !== 'false' && ro !== '0';
  const known = new Set(['type', 'source', 'target', 'readonly', 'tmpfs-size', 'tmpfs-mode', 'bind-propagation', 'volume-nocopy']);
  for (const k of kv.keys()) if (!known.has(k)) throw new InvalidArgumentError(`unexpected key '${k}' in '${m}'`);
  const source = kv.get('source');
  switch (type) {
    case 'bind':
      if (!source?.startsWith('/')) throw new InvalidArgumentError(`invalid mount config for type "bind": the source must be an absolute path: '${m}'`);
      return { kind: 'bind', source: posix.normalize(source), target: t, readonly };
    case 'volume':
      if (source !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(source)) throw new InvalidArgumentError(`invalid volume name "${source}" in '${m}'`);
      return { kind: 'volume', ...(source ? { name: source } : {}), target: t, readonly };
    case 'tmpfs': {
      if (source) throw new InvalidArgumentError(`invalid mount config for type "tmpfs": source must not be given: '${m}'`);
      const options = ['nosuid', 'nodev', 'noexec'];
      if (readonly) options.push('ro');
      const size = kv.get('tmpfs-size');
      if (size) options.push(`size=${size}`);
      // Docker's default tmpfs-mode: 1777, world-writable.
      const mode = kv.get('tmpfs-mode') ?? '1777';
      options.push(`mode=${/^[0-7]+$/.test(mode) ? mode : Number(mode).toString(8)}`);
      return { kind: 'tmpfs', target: t, options };
    }
    default:
      throw new InvalidArgumentError(`invalid mount type "${type}": want bind, volume or tmpfs`);
  }
}

/** `--tmpfs /path[:opt,opt…]` (Docker's defaults: noexec, nosuid, nodev, mode=1777). */
export function parseTmpfsFlag(v: string): MountRequest {
  const colon = v.indexOf(':');
  const target = absoluteTarget(colon < 0 ? v : v.slice(0, colon), `--tmpfs ${v}`);
  const given =
    colon < 0
      ? []
      : v
          .slice(colon + 1)
          .split(',')
          .filter(Boolean);
  const options = ['noexec', 'nosuid', 'nodev'].filter((d) => !given.some((g) => g === d.replace(/^no/, '') || g === d));
  if (!given.some((g) => g.startsWith('mode='))) options.push('mode=1777');
  return { kind: 'tmpfs', target, options: [...options, ...given] };
}

export function tmpfsMount(r: Extract<MountRequest, { kind: 'tmpfs' }>): Mount {
  return { destination: r.target, type: 'tmpfs', source: 'tmpfs', options: r.options };
}

export function bindMount(source: string, target: string, readonly: boolean): Mount {
  return { destination: target, type: 'bind', source, options: ['rbind', 'rprivate', ...(readonly ? ['ro'] : [])] };
}

/** --label K=V (K alone: an empty value). */
export function parseLabels(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    out[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

/** An --env-file: K=V lines, K alone takes the value from hostEnv; # comments and blank lines skipped. */
export function parseEnvFile(text: string, hostEnv: NodeJS.ProcessEnv = {}, file = 'env file'): string[] {
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '' || /\s/.test(key)) throw new InvalidArgumentError(`${file} line ${i + 1}: variable '${key}' contains whitespaces`);
    if (eq >= 0) out.push(line);
    else if (hostEnv[key] !== undefined) out.push(`${key}=${hostEnv[key]}`);
  });
  return out;
}

/** Docker's human sizes (decimal units, as units.FromHumanSize): 10m = 10,000,000 bytes. */
export function humanSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)b?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`invalid size: '${v}'`);
  return Math.floor(Number(m[1]) * 1000 ** ' kmgtp'.indexOf((m[2] || ' ').toLowerCase()));
}

export interface LogOptions {
  maxSize: number;
  maxFiles: number;
}

/** json-file's --log-opt max-size and max-file. tsrun's defaults bound the log: 20 MB, 5 files. */
export function parseLogOpts(opts: readonly string[]): LogOptions {
  const out: LogOptions = { maxSize: 20_000_000, maxFiles: 5 };
  for (const o of opts) {
    const eq = o.indexOf('=');
    const k = eq < 0 ? o : o.slice(0, eq);
    const v = eq < 0 ? '' : o.slice(eq + 1);
    if (k === 'max-size') out.maxSize = v === '-1' ? 0 : humanSize(v);
    else if (k === 'max-file') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`invalid value for max-file: ${v}`);
      out.maxFiles = n;
    } else throw new InvalidArgumentError(`unknown log opt '${k}' for json-file log driver`);
  }
  return out;
}

export interface SecurityOptions {
  seccomp?: string;
  noNewPrivileges?: boolean;
}

/** --security-opt: seccomp=unconfined|FILE and no-new-privileges[=|:true|false]; others refused. */
export function parseSecurityOpts(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = {};
  for (const o of opts) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(o);
    if (m?.[1] === 'seccomp' && m[2]) out.seccomp = m[2];
    else if (m?.[1] === 'no-new-privileges' && (m[2] === undefined || m[2] === 'true' || m[2] === 'false')) out.noNewPrivileges = m[2] !== 'false';
    else throw new InvalidArgumentError(`Invalid --security-opt: "${o}" (tsrun supports seccomp=unconfined|FILE and no-new-privileges)`);
  }
  return out;
}

/** "NET_ADMIN", "net_admin", "CAP_NET_ADMIN" → "CAP_NET_ADMIN"; "ALL" stays. */
export function capName(c: string): string {
  const up = c.toUpperCase();
  if (up === 'ALL') return up;
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!CAPABILITIES.includes(name)) throw new InvalidArgumentError(`invalid capability: ${c}`);
  return name;
}

/** Docker's order: the default set, minus --cap-drop, plus --cap-add (ALL on either side). */
export function effectiveCaps(base: readonly string[], add: readonly string[], drop: readonly string[], privileged: boolean): string[] {
  if (privileged) return [...CAPABILITIES];
  const a = add.map(capName);
  const d = drop.map(capName);
  let caps = d.includes('ALL') ? [] : base.filter((c) => !d.includes(c));
  if (a.includes('ALL')) caps = [...CAPABILITIES];
  for (const c of a) if (c !== 'ALL' && !caps.includes(c)) caps.push(c);
  return caps;
}

export function applyCaps(spec: Spec, caps: string[]): void {
  const p = spec.process!;
  p.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
}

/** --privileged beyond the capabilities: no masked or read-only paths, /sys writable, every device allowed. */
export function applyPrivileged(spec: Spec): void {
  const linux = spec.linux!;
  linux.maskedPaths = [];
  linux.readonlyPaths = [];
  linux.resources = { ...(linux.resources ?? {}), devices: [{ allow: true, access: 'rwm' }] };
  for (const m of spec.mounts ?? []) {
    if (m.destination === '/sys') m.options = (m.options ?? []).filter((o) => o !== 'ro');
  }
}

/** --memory, --cpus, --pids-limit into linux.resources (the cgroup controllers must exist). */
export function resourcesFrom(o: { memory?: string; cpus?: string; pidsLimit?: number }): LinuxResources | undefined {
  const r: LinuxResources = {};
  if (o.memory !== undefined) {
    const m = /^(\d+)([bkmg]?)$/i.exec(o.memory.trim());
    if (!m) throw new InvalidArgumentError(`invalid argument "${o.memory}" for "-m, --memory" flag: invalid size: '${o.memory}'`);
    r.memory = { limit: Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase().replace('b', ' ')) };
  }
  if (o.cpus !== undefined) {
    const c = Number(o.cpus);
    if (!Number.isFinite(c) || c <= 0)
      throw new InvalidArgumentError(`invalid argument "${o.cpus}" for "--cpus" flag: failed to parse ${o.cpus} as a rational number`);
    r.cpu = { period: 100_000, quota: Math.round(c * 100_000) };
  }
  if (o.pidsLimit !== undefined && o.pidsLimit !== 0) r.pids = { limit: o.pidsLimit < 0 ? -1 : o.pidsLimit };
  return Object.keys(r).length ? r : undefined;
}

/** --add-host NAME:IP (also NAME=IP) lines for /etc/hosts. */
export function extraHosts(list: readonly string[]): string {
  return list
    .map((h) => {
      const m = /^([^:=]+)[:=](.+)$/.exec(h);
      if (!m) throw new InvalidArgumentError(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
      const ip = m[2].replace(/^\[(.*)\]$/, '$1');
      if (!/^[0-9.]+$/.test(ip) && !/^[0-9a-fA-F:]+$/.test(ip)) throw new InvalidArgumentError(`invalid IP address in add-host: "${m[2]}"`);
      return `${ip}\t${m[1]}\n`;
    })
    .join('');
}

/** --dns: the resolv.conf's nameservers replaced (its search and options lines kept). */
export function resolvWithDns(text: string, dns: readonly string[]): string {
  for (const d of dns) if (!/^[0-9.]+$/.test(d) && !/^[0-9a-fA-F:]+$/.test(d)) throw new InvalidArgumentError(`${d} is not an ip address`);
  const kept = text.split('\n').filter((l) => l !== '' && !/^\s*nameserver\s/.test(l));
  return [...kept, ...dns.map((d) => `nameserver ${d}`)].join('\n') + '\n';
}
