// The container's /etc/resolv.conf on a tsrun network, as Docker makes it: the host's file without
// the nameservers a container cannot reach from its own namespace (loopback ones such as
// systemd-resolved's 127.0.0.53 stub, and IPv6 ones on an IPv4 network), Google's public servers
// when none is left, and --dns/--dns-search/--dns-option replacing their lines. On the host
// network the host's file is used as it is. Pure but for hostResolvConf(), which reads the host.
import fs from 'node:fs';

export interface ResolvOptions {
  /** --dns: nameservers replacing the host's. */
  dns?: string[];
  /** --dns-search: search domains replacing the host's ('.' alone: none). */
  dnsSearch?: string[];
  /** --dns-option: options replacing the host's. */
  dnsOptions?: string[];
}

/** Docker's fallback when the host has no nameserver a container can reach. */
export const DEFAULT_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/** The resolv.conf text for a container on a (bridge, IPv4) network, from the host's text. */
export function containerResolvConf(host: string, o: ResolvOptions = {}): string {
  const nameservers: string[] = [];
  let search: string[] | undefined;
  let options: string[] | undefined;
  for (const raw of host.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...vals] = line.split(/\s+/);
    if (key === 'nameserver' && vals[0]) nameservers.push(vals[0]);
    // The last search/domain line wins (resolv.conf(5)); domain is a search list of one.
    else if (key === 'search' || key === 'domain') search = vals;
    else if (key === 'options') options = [...(options ?? []), ...vals];
  }
  // 127.0.0.0/8 is the container's own loopback; IPv6 servers are unreachable on an IPv4 network.
  const usable = nameservers.filter((ip) => !/^127\./.test(ip) && !ip.includes(':'));
  const ns = o.dns?.length ? o.dns : usable.length ? usable : DEFAULT_NAMESERVERS;
  const s = o.dnsSearch?.length ? o.dnsSearch.filter((d) => d !== '.') : (search ?? []);
  const opts = o.dnsOptions?.length ? o.dnsOptions : (options ?? []);
  const lines = ns.map((n) => `nameserver ${n}`);
  if (s.length) lines.push(`search ${s.join(' ')}`);
  if (opts.length) lines.push(`options ${opts.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The host's resolv.conf text: /etc/resolv.conf, or systemd-resolved's list of real upstream
 * servers when /etc/resolv.conf names only its loopback stub (as Docker does). '' when unreadable.
 */
export function hostResolvConf(): string {
  const read = (p: string) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const etc = read('/etc/resolv.conf');
  const servers = [...etc.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]);
  if (servers.length && servers.every((s) => s === '127.0.0.53')) return read('/run/systemd/resolve/resolv.conf') || etc;
  return etc;
}
