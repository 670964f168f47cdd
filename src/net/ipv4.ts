// IPv4 address and subnet arithmetic for network records: parse "10.66.0.0/16", the gateway (the
// first host), overlap tests, and the next free /24 of tsrun's pool. Pure functions.
import { InvalidArgumentError } from '../errors.js';

export interface Subnet {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

/** "10.1.2.3" → 0x0a010203; undefined when it is not a dotted quad of four bytes. */
export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * "10.66.0.0/16" as a Subnet. Host bits must be zero (Docker: "invalid subnet 10.66.0.1/16: it
 * should be 10.66.0.0/16"); a prefix longer than /30 leaves no room for a gateway and a container.
 */
export function parseSubnet(s: string, what = '--subnet'): Subnet {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  const ip = m ? parseIPv4(m[1]) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) {
    throw new InvalidArgumentError(`${what} ${s}: not an IPv4 subnet in CIDR notation (such as 10.70.0.0/24)`);
  }
  const base = (ip & mask(prefix)) >>> 0;
  if (base !== ip) throw new InvalidArgumentError(`${what} ${s}: host bits are set; it should be ${formatIPv4(base)}/${prefix}`);
  if (prefix > 30) throw new InvalidArgumentError(`${what} ${s}: a /${prefix} has no room for a gateway and a container (at most /30)`);
  return { base, prefix };
}

export function formatSubnet(n: Subnet): string {
  return `${formatIPv4(n.base)}/${n.prefix}`;
}

export function contains(n: Subnet, ip: number): boolean {
  return (ip & mask(n.prefix)) >>> 0 === n.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}

/** The first host address: the bridge's own address, as Docker chooses it. */
export function firstHost(n: Subnet): number {
  return n.base + 1;
}

/** The broadcast address. */
export function lastAddress(n: Subnet): number {
  return (n.base | (~mask(n.prefix) >>> 0)) >>> 0;
}

/** A gateway given with --gateway: an address inside the subnet that is neither its network nor broadcast address. */
export function checkGateway(n: Subnet, gateway: string): number {
  const g = parseIPv4(gateway);
  if (g === undefined) throw new InvalidArgumentError(`--gateway ${gateway}: not an IPv4 address`);
  if (!contains(n, g)) throw new InvalidArgumentError(`--gateway ${gateway}: not in subnet ${formatSubnet(n)}`);
  if (g === n.base || g === lastAddress(n)) throw new InvalidArgumentError(`--gateway ${gateway}: the network or broadcast address of ${formatSubnet(n)}`);
  return g;
}

/**
 * The first /24 of `pool` (a /16) that overlaps none of `taken` (other networks' subnets and the
 * host's routes): how user networks get a subnet when --subnet is not given. Undefined when the
 * pool is full.
 */
export function nextFreeSubnet(pool: Subnet, taken: Subnet[], prefix = 24): Subnet | undefined {
  const step = 2 ** (32 - prefix);
  const end = lastAddress(pool);
  for (let base = pool.base; base <= end; base += step) {
    const cand = { base: base >>> 0, prefix };
    if (!taken.some((t) => overlaps(t, cand))) return cand;
  }
  return undefined;
}

/**
 * The IPv4 destinations of /proc/net/route (hex little-endian fields), without the default route
 * and without the routes of the interfaces in `except`: subnets the host already reaches directly,
 * which a new network must not shadow.
 */
export function routesFromProcNetRoute(text: string, except: readonly string[] = []): Subnet[] {
  const out: Subnet[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || except.includes(f[0])) continue;
    const le = (h: string) => parseInt(h.slice(6, 8) + h.slice(4, 6) + h.slice(2, 4) + h.slice(0, 2), 16) >>> 0;
    const dest = le(f[1]);
    const m = le(f[7]);
    if (m === 0) continue;
    let prefix = 0;
    while (prefix < 32 && m & (0x80000000 >>> prefix)) prefix++;
    out.push({ base: (dest & mask(prefix)) >>> 0, prefix });
  }
  return out;
}
