// /etc/hosts for a container on tsrun networks, and --add-host. Pure functions; network.ts writes
// the files. On a user network every container is listed by its name, its aliases on that network
// and its short id, so containers resolve each other by name (Docker answers these names from its
// embedded DNS server; a daemonless runtime writes them down instead and rewrites every file on
// the network when a container joins or leaves). The default `bridge` network resolves no peers,
// as in Docker.
import { InvalidArgumentError } from '../errors.js';
import { parseIPv4 } from './ipv4.js';

export interface HostEntry {
  ip: string;
  names: string[];
}

/** `--add-host NAME:IP` (also NAME=IP; IPv6 may be bracketed). IP `host-gateway` is kept as written. */
export function parseAddHost(s: string): HostEntry {
  const sep = /^[^:=]+[:=]/.exec(s);
  const name = sep ? sep[0].slice(0, -1) : '';
  let ip = sep ? s.slice(sep[0].length) : '';
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (!name || !/^[A-Za-z0-9_.-]+$/.test(name)) throw new InvalidArgumentError(`invalid argument ${JSON.stringify(s)} for "--add-host" flag: want HOST:IP`);
  if (ip !== 'host-gateway' && parseIPv4(ip) === undefined && !(ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip))) {
    throw new InvalidArgumentError(`invalid argument ${JSON.stringify(s)} for "--add-host" flag: invalid IP address ${JSON.stringify(ip)}`);
  }
  return { ip, names: [name] };
}

/** Docker's fixed head of /etc/hosts. */
const HEAD: HostEntry[] = [
  { ip: '127.0.0.1', names: ['localhost'] },
  { ip: '::1', names: ['localhost', 'ip6-localhost', 'ip6-loopback'] },
  { ip: 'fe00::0', names: ['ip6-localnet'] },
  { ip: 'ff00::0', names: ['ip6-mcastprefix'] },
  { ip: 'ff02::1', names: ['ip6-allnodes'] },
  { ip: 'ff02::2', names: ['ip6-allrouters'] },
];

export interface HostsInput {
  /** The container's own addresses and names (its hostname first). */
  self: HostEntry[];
  /** --add-host entries, `host-gateway` already replaced by an address. */
  extra: HostEntry[];
  /** Other containers on the same user networks. */
  peers: HostEntry[];
}

/** The text of the container's /etc/hosts. A name appears once, on the first line that claims it. */
export function renderHosts(input: HostsInput): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  const add = (e: HostEntry, shared = false) => {
    const names = [...new Set(e.names.filter((n) => n && (shared || !seen.has(n))))];
    if (!names.length) return;
    if (!shared) for (const n of names) seen.add(n);
    lines.push(`${e.ip}\t${names.join(' ')}`);
  };
  for (const e of HEAD) add(e, true);
  for (const e of input.extra) add(e);
  for (const e of input.self) add(e);
  for (const e of [...input.peers].sort((a, b) => a.names[0].localeCompare(b.names[0]))) add(e);
  return `${lines.join('\n')}\n`;
}
