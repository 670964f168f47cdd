// Published ports: Docker's `-p` grammar and `-P`, as pure functions (the caller probes the host).
//
//   -p [ip:][hostPort:]containerPort[/tcp|udp|sctp]
//
// Either port may be a range (`8000-8009:80-89`, equal lengths, mapped one to one); a host range
// with a single container port (`8000-8009:80`) publishes on the first free host port of the range;
// `127.0.0.1::80` and a bare `80` publish on a free ephemeral host port. An IPv6 host address is
// written in brackets (`[::1]:8080:80`). `-P` publishes every EXPOSEd port of the image on a free
// ephemeral port. Words of errors follow Docker's (docker/go-connections nat.ParsePortSpec).
import { InvalidArgumentError } from '../errors.js';
import { parseIPv4 } from './ipv4.js';

export type PortProtocol = 'tcp' | 'udp' | 'sctp';

/** One published port. `hostPort` 0: any free port (of `hostPortEnd`'s range when that is set). */
export interface PortMapping {
  /** '' publishes on every host address (Docker shows 0.0.0.0). */
  hostIp: string;
  hostPort: number;
  /** With a host range and one container port: the last port of the range (hostPort is the first). */
  hostPortEnd?: number;
  containerPort: number;
  protocol: PortProtocol;
}

const PROTOCOLS: readonly string[] = ['tcp', 'udp', 'sctp'];

function portRange(s: string, spec: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw new InvalidArgumentError(`invalid ${what} port ${JSON.stringify(s)} in ${JSON.stringify(spec)}`);
  return [lo, hi];
}

function hostAddress(s: string, spec: string): string {
  if (s === '') return '';
  if (s.startsWith('[') && s.endsWith(']')) {
    const v6 = s.slice(1, -1);
    if (!/^[0-9a-fA-F:.]+$/.test(v6) || !v6.includes(':')) throw new InvalidArgumentError(`invalid IP address ${JSON.stringify(s)} in ${JSON.stringify(spec)}`);
    return v6;
  }
  if (parseIPv4(s) === undefined) throw new InvalidArgumentError(`invalid IP address ${JSON.stringify(s)} in ${JSON.stringify(spec)}`);
  return s;
}

/** One `-p` value as its mappings. */
export function parsePublish(spec: string): PortMapping[] {
  let rest = spec;
  let protocol: PortProtocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (!PROTOCOLS.includes(p)) throw new InvalidArgumentError(`invalid proto ${JSON.stringify(rest.slice(slash + 1))} in ${JSON.stringify(spec)}`);
    protocol = p as PortProtocol;
    rest = rest.slice(0, slash);
  }
  // The host address may hold colons only inside brackets; split the ports off the end.
  let ip = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw new InvalidArgumentError(`invalid IP address in ${JSON.stringify(spec)}`);
    ip = hostAddress(rest.slice(0, close + 1), spec);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  let hostPart = '';
  let ctrPart: string;
  if (parts.length === 1) ctrPart = parts[0];
  else if (parts.length === 2) [hostPart, ctrPart] = parts;
  else if (parts.length === 3 && !ip) {
    ip = hostAddress(parts[0], spec);
    [, hostPart, ctrPart] = parts;
  } else throw new InvalidArgumentError(`invalid port format ${JSON.stringify(spec)}: want [ip:][hostPort:]containerPort[/protocol]`);
  if (ctrPart === '') throw new InvalidArgumentError(`no port specified: ${spec}<empty>`);
  const [cLo, cHi] = portRange(ctrPart, spec, 'containerPort');
  if (hostPart === '') {
    const out: PortMapping[] = [];
    for (let c = cLo; c <= cHi; c++) out.push({ hostIp: ip, hostPort: 0, containerPort: c, protocol });
    return out;
  }
  const [hLo, hHi] = portRange(hostPart, spec, 'hostPort');
  if (cLo === cHi && hHi > hLo) return [{ hostIp: ip, hostPort: hLo, hostPortEnd: hHi, containerPort: cLo, protocol }];
  if (hHi - hLo !== cHi - cLo) throw new InvalidArgumentError(`invalid ranges specified for container and host Ports: ${JSON.stringify(spec)}`);
  const out: PortMapping[] = [];
  for (let k = 0; k <= cHi - cLo; k++) out.push({ hostIp: ip, hostPort: hLo + k, containerPort: cLo + k, protocol });
  return out;
}

/**
 * `-P`: each EXPOSEd port of the image config ("80/tcp", "53/udp", "8080", or a range
 * "7000-7002/tcp") on a free ephemeral host port of every address. `ExposedPorts` is an object
 * in an image config; a list of keys is accepted too.
 */
export function publishAll(exposed: Record<string, unknown> | string[] | undefined): PortMapping[] {
  const keys = Array.isArray(exposed) ? exposed : Object.keys(exposed ?? {});
  return keys.flatMap((k) => parsePublish(k));
}

/** "tcp:0.0.0.0:8080" style key of a host port claim; '' host addresses claim every address. */
function clashes(a: { hostIp: string; hostPort: number; protocol: string }, b: { hostIp: string; hostPort: number; protocol: string }): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || isAny(a.hostIp) || isAny(b.hostIp));
}

function isAny(ip: string): boolean {
  return ip === '' || ip === '0.0.0.0' || ip === '::';
}

export interface AssignOptions {
  /** Host ports already published (other containers' mappings). */
  taken: { hostIp: string; hostPort: number; protocol: string }[];
  /** The ephemeral range, as /proc/sys/net/ipv4/ip_local_port_range (default 32768-60999). */
  range?: [number, number];
  /** Whether the host may use this port (the caller's probe: a bind that succeeds); default yes. */
  free?: (m: { hostIp: string; hostPort: number; protocol: PortProtocol }) => boolean;
}

/**
 * Concrete host ports for `mappings`: an explicit port must clash with no taken one (Docker's
 * "Bind for 0.0.0.0:8080 failed: port is already allocated"); a port to choose is the first of its
 * range, or of the ephemeral range, that is neither taken nor refused by `free`. Mappings are
 * claimed in order, so two of one call never share a port. Pure but for `free`.
 */
export function assignHostPorts(mappings: PortMapping[], opts: AssignOptions): Required<Omit<PortMapping, 'hostPortEnd'>>[] {
  const taken = [...opts.taken];
  const [eLo, eHi] = opts.range ?? [32768, 60999];
  const free = opts.free ?? (() => true);
  const out: Required<Omit<PortMapping, 'hostPortEnd'>>[] = [];
  for (const m of mappings) {
    let port = 0;
    if (m.hostPort !== 0 && m.hostPortEnd === undefined) {
      const want = { hostIp: m.hostIp, hostPort: m.hostPort, protocol: m.protocol };
      if (taken.some((t) => clashes(t, want)) || !free(want)) {
        throw new InvalidArgumentError(`Bind for ${m.hostIp || '0.0.0.0'}:${m.hostPort} failed: port is already allocated`);
      }
      port = m.hostPort;
    } else {
      const [lo, hi] = m.hostPort !== 0 ? [m.hostPort, m.hostPortEnd!] : [eLo, eHi];
      for (let p = lo; p <= hi && !port; p++) {
        const cand = { hostIp: m.hostIp, hostPort: p, protocol: m.protocol };
        if (!taken.some((t) => clashes(t, cand)) && free(cand)) port = p;
      }
      if (!port) throw new InvalidArgumentError(`no free host port in ${lo}-${hi} for ${m.containerPort}/${m.protocol}`);
    }
    const done = { hostIp: m.hostIp, hostPort: port, containerPort: m.containerPort, protocol: m.protocol };
    taken.push(done);
    out.push(done);
  }
  return out;
}

/** Docker's PORTS column: "127.0.0.1:8080->80/tcp, 0.0.0.0:32768->53/udp". */
export function formatPorts(ms: { hostIp: string; hostPort: number; containerPort: number; protocol: string }[]): string {
  return ms.map((m) => `${m.hostIp.includes(':') ? `[${m.hostIp}]` : m.hostIp || '0.0.0.0'}:${m.hostPort}->${m.containerPort}/${m.protocol}`).join(', ');
}
