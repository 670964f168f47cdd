// tsrun's networks: the library the Docker-style front (`container run --network/-p/-P`,
// `network create|ls|inspect|rm|prune`) calls. Networking is done by the CNI plugins (bridge,
// host-local, portmap, firewall), driven by tsrun as a CNI runtime (cni.ts).
//
// CONTRACT (for container/ and cli/):
//
//   const att = await connectContainer({ id, name, hostname, networks: [{ name: 'web', aliases: ['db'] }],
//                                        ports: parsePublish('127.0.0.1:8080:80'), hostsPath, owner, imageRoot });
//   // att.netnsPath: the network namespace to put in config.json's linux.namespaces
//   //   ({ type: 'network', path: att.netnsPath }). Omit `netnsPath` in the options and tsrun makes
//   //   one and pins it (a bind mount under the store) until disconnectContainer: the way to use.
//   //   Pass one only if you keep it alive until disconnect: the bridge plugin (1.1.x) tears its
//   //   masquerade rule down only when it finds the container's interface, so a namespace that died
//   //   first leaves that rule behind.
//   // att.interfaces/ips/gateway: what the container got; att.ports: the host ports (0 resolved).
//   await disconnectContainer(id, { imageRoot });   // releases everything; idempotent
//
// - `networks` defaults to [{ name: 'bridge' }], the default network (made on first use: bridge
//   tsrun0, 10.66.0.0/16 or the next free /16, outbound NAT). 'none', 'host' and 'container:ID' are
//   not networks to connect: parseNetworkMode() tells the front what to do with them.
// - Per network: `aliases` (--network-alias, resolvable by the others on that network) and `ip`
//   (--ip, on a user network only).
// - What is added is recorded before it is added (store.ts), so disconnectContainer finishes the
//   job after the container, or tsrun itself, was killed; run it from `rm`, `container prune` and
//   after a failed create. `owner` is a path that exists as long as the container does (its state
//   directory): `network prune`/`network rm`/reapAttachments() release the attachments whose owner
//   is gone.
// - `hostsPath`: a file the front bind-mounts as the container's /etc/hosts. tsrun writes it (in
//   place, so the bind mount sees every update) with the container's own names, --add-host entries
//   (`extraHosts`, parseAddHost(); ip `host-gateway` is the first network's gateway) and, on user
//   networks, every other container's name, aliases and short id; it rewrites the hosts files of
//   all containers of a network whenever one joins or leaves.
// - /etc/resolv.conf: containerResolvConf(hostResolvConf(), { dns, dnsSearch, dnsOptions }) is the
//   text for a container on a tsrun network (loopback nameservers dropped, Docker's fallback).
// - Errors: NetworkNotFoundError (TSRUN_NETWORK_NOT_FOUND), CniPluginError (TSRUN_NETWORK, names
//   the plugin and its message), InvalidArgumentError (bad -p, port already allocated),
//   ExistsError, InvalidStateError (a network in use).
// - Everything runs in the caller's network namespace (the "host" the bridge lives in).
// - Published ports, Docker's model (proxy.ts): portmap DNATs the traffic from elsewhere; a userland
//   proxy (tsrun-proxy, one per container, in the caller's namespace) listens on every published
//   TCP/UDP address and port and carries the host's own connections to 127.0.0.1 (a wildcard
//   publish included) and the bridge's hairpin traffic. A 127.x publish is the proxy's alone.
//   Nothing sets route_localnet (portmap runs with snat false: with snat true it would set it on
//   the bridge), which would let the containers on the bridge reach the host's 127.0.0.1 services
//   (CVE-2020-8558). A port the proxy cannot bind fails the connect ("Bind for IP:PORT failed:
//   port is already allocated") and releases all it made.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { ExistsError, InvalidArgumentError, InvalidStateError, SyscallError } from '../errors.js';
import { addNetworkList, checkNetworkList, delNetworkList, CNI_VERSION, type CniConfList, type CniOptions } from './cni.js';
import { CniPluginError, NetworkError, NetworkNotFoundError } from './errors.js';
import { matchesFilters, parseFilters } from './filters.js';
import { renderHosts, type HostEntry } from './hosts.js';
import {
  checkGateway,
  contains,
  firstHost,
  formatIPv4,
  formatSubnet,
  nextFreeSubnet,
  overlaps,
  parseIPv4,
  parseSubnet,
  routesFromProcNetRoute,
  type Subnet,
} from './ipv4.js';
import { isNetnsFile, pinNetns, unpinNetns } from './netns.js';
import { assignHostPorts, type PortMapping } from './ports.js';
import { portmapConditions, portmapMappings, proxyAlive, proxyListeners, startProxy, stopProxy } from './proxy.js';
import { DEFAULT_NETWORK, NetworkStore, type AttachedNetwork, type AttachmentRecord, type NetworkRecord, type PublishedPort } from './store.js';

export { DEFAULT_NETWORK, type NetworkRecord, type AttachmentRecord, type PublishedPort } from './store.js';
export { parsePublish, publishAll, formatPorts, type PortMapping } from './ports.js';
export { parseAddHost, type HostEntry } from './hosts.js';
export { matchesFilters, parseFilters } from './filters.js';
export { containerResolvConf, hostResolvConf, type ResolvOptions } from './resolv.js';
export { NetworkError, NetworkNotFoundError, CniPluginError } from './errors.js';

const execFileP = promisify(execFile);

export interface StoreOptions {
  /** The image root the network store lives in (<imageRoot>/networks); default /var/lib/tsrun. */
  imageRoot?: string;
  /** CNI plugin directories (default $TSRUN_CNI_PATH, else /usr/lib/cni:/opt/cni/bin). */
  pluginDirs?: string[];
}

/** The default network's subnet pool (the first free /16 of it) and the pool of user networks (/24s). */
const DEFAULT_POOL = parseSubnet('10.66.0.0/15');
const USER_POOL = parseSubnet('10.68.0.0/14');
const RESERVED = ['none', 'host', 'default'];
const DEFAULT_BRIDGE = 'tsrun0';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function cniOpts(o: StoreOptions): CniOptions {
  return o.pluginDirs ? { pluginDirs: o.pluginDirs } : {};
}

function hostRoutes(except: readonly string[]): Subnet[] {
  try {
    return routesFromProcNetRoute(fs.readFileSync('/proc/net/route', 'utf8'), except);
  } catch {
    return [];
  }
}

/** The CNI configuration list of a network: bridge (+ host-local), portmap, firewall. */
export function networkConfList(n: NetworkRecord, store: NetworkStore): CniConfList {
  return {
    cniVersion: CNI_VERSION,
    name: n.name,
    plugins: [
      {
        type: 'bridge',
        bridge: n.bridge,
        isGateway: true,
        ipMasq: !n.internal,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: n.subnet, gateway: n.gateway }]],
          routes: n.internal ? [] : [{ dst: '0.0.0.0/0' }],
          dataDir: store.ipamDir,
        },
      },
      // snat false: with snat true portmap sets route_localnet on the bridge (CVE-2020-8558).
      // Loopback destinations and the bridge's own (hairpin) traffic go to the proxy instead.
      { type: 'portmap', capabilities: { portMappings: true }, snat: false, conditionsV4: portmapConditions(n.bridge) },
      // backend iptables: the plugin would otherwise ask firewalld over D-Bus first.
      { type: 'firewall', backend: 'iptables' },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Networks

export interface CreateNetworkOptions extends StoreOptions {
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  /** Host bridge name (default br-<id12>). */
  bridge?: string;
}

function newRecord(name: string, subnet: Subnet, o: { gateway?: string; internal?: boolean; labels?: Record<string, string>; bridge?: string }): NetworkRecord {
  const id = randomBytes(32).toString('hex');
  const gateway = o.gateway ? checkGateway(subnet, o.gateway) : firstHost(subnet);
  return {
    name,
    id,
    driver: 'bridge',
    created: new Date().toISOString(),
    subnet: formatSubnet(subnet),
    gateway: formatIPv4(gateway),
    internal: o.internal === true,
    bridge: o.bridge ?? `br-${id.slice(0, 12)}`,
    labels: o.labels ?? {},
  };
}

/** Subnets a new network must not overlap: other networks', and the host's routes but those of `ownBridge`. */
function takenSubnets(store: NetworkStore, ownBridge?: string): Subnet[] {
  return [...store.listNetworks().map((n) => parseSubnet(n.subnet, `network ${n.name} subnet`)), ...hostRoutes(ownBridge ? [ownBridge] : [])];
}

/** `network create`: a user network with its own subnet (the next free /24 of 10.68.0.0/14 unless given). */
export async function createNetwork(name: string, o: CreateNetworkOptions = {}): Promise<NetworkRecord> {
  if (!NAME_RE.test(name)) throw new InvalidArgumentError(`invalid network name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (RESERVED.includes(name) || name === DEFAULT_NETWORK) throw new ExistsError(`network with name ${name} already exists`);
  if (o.gateway && !o.subnet) throw new InvalidArgumentError('--gateway needs --subnet');
  if (o.bridge !== undefined && !/^[a-zA-Z0-9_.-]{1,15}$/.test(o.bridge)) throw new InvalidArgumentError(`invalid bridge name ${JSON.stringify(o.bridge)}`);
  const store = new NetworkStore(o.imageRoot);
  return store.locked(() => {
    if (store.readNetwork(name)) throw new ExistsError(`network with name ${name} already exists`);
    const networks = store.listNetworks();
    let subnet: Subnet;
    if (o.subnet) {
      subnet = parseSubnet(o.subnet);
      const clash = networks.find((n) => overlapsSubnet(n.subnet, subnet));
      if (clash) throw new InvalidArgumentError(`--subnet ${o.subnet}: overlaps network ${clash.name} (${clash.subnet})`);
    } else {
      const free = nextFreeSubnet(USER_POOL, takenSubnets(store));
      if (!free) throw new NetworkError(`no free subnet left in ${formatSubnet(USER_POOL)}: give one with --subnet`);
      subnet = free;
    }
    const rec = newRecord(name, subnet, o);
    if (networks.some((n) => n.bridge === rec.bridge)) throw new ExistsError(`bridge ${rec.bridge} is used by another network`);
    if (!store.createNetwork(rec)) throw new ExistsError(`network with name ${name} already exists`);
    return rec;
  });
}

function overlapsSubnet(s: string, b: Subnet): boolean {
  return overlaps(parseSubnet(s, 'subnet'), b);
}

/** The default network's record, made on first use. */
function ensureDefaultNetwork(store: NetworkStore): NetworkRecord {
  const have = store.readNetwork(DEFAULT_NETWORK);
  if (have) return have;
  // tsrun0 left by a store that was wiped keeps its address: the new record may take it again.
  const subnet = nextFreeSubnet(DEFAULT_POOL, takenSubnets(store, DEFAULT_BRIDGE), 16);
  if (!subnet) throw new NetworkError(`no free /16 in ${formatSubnet(DEFAULT_POOL)} for the default network`);
  const rec = newRecord(DEFAULT_NETWORK, subnet, { bridge: DEFAULT_BRIDGE });
  store.createNetwork(rec);
  return store.readNetwork(DEFAULT_NETWORK) ?? rec;
}

/** A network by name, full ID or unique ID prefix. */
function findNetwork(store: NetworkStore, ref: string): NetworkRecord {
  if (ref === DEFAULT_NETWORK) return ensureDefaultNetwork(store);
  const byName = NAME_RE.test(ref) ? store.readNetwork(ref) : undefined;
  if (byName) return byName;
  if (/^[0-9a-f]{1,64}$/.test(ref)) {
    const hits = store.listNetworks().filter((n) => n.id.startsWith(ref));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) throw new InvalidArgumentError(`network ${ref} is ambiguous (${hits.length} matches found)`);
  }
  throw new NetworkNotFoundError(ref);
}

export interface NetworkInfo extends NetworkRecord {
  /** Containers attached, by id. */
  containers: { id: string; name?: string; ip?: string; mac?: string; ifName: string; aliases: string[] }[];
}

function withContainers(n: NetworkRecord, atts: AttachmentRecord[]): NetworkInfo {
  const containers: NetworkInfo['containers'] = [];
  for (const a of atts) {
    const on = a.networks.find((x) => x.name === n.name && x.networkId === n.id);
    if (!on) continue;
    const iface = on.result?.interfaces?.find((i) => i.name === on.ifName && i.sandbox);
    containers.push({ id: a.id, name: a.name, ip: on.result?.ips?.[0]?.address, mac: iface?.mac, ifName: on.ifName, aliases: on.aliases });
  }
  return { ...n, containers };
}

/** `network ls`: every network (the default one made if missing), by name. */
export async function listNetworks(o: StoreOptions = {}): Promise<NetworkInfo[]> {
  const store = new NetworkStore(o.imageRoot);
  const nets = await store.locked(() => {
    ensureDefaultNetwork(store);
    return store.listNetworks();
  });
  const atts = store.listAttachments();
  return nets.map((n) => withContainers(n, atts));
}

/** `network inspect`: one network by name or ID (prefix). */
export async function inspectNetwork(ref: string, o: StoreOptions = {}): Promise<NetworkInfo> {
  const store = new NetworkStore(o.imageRoot);
  const n = await store.locked(() => findNetwork(store, ref));
  return withContainers(n, store.listAttachments());
}

/** Deletes a network's host bridge (the CNI bridge plugin never does); a missing one is fine. */
async function deleteBridge(bridge: string): Promise<void> {
  try {
    await execFileP('ip', ['link', 'delete', 'dev', bridge, 'type', 'bridge'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    if (/Cannot find device|does not exist/.test(stderr)) return;
    throw new NetworkError(`delete bridge ${bridge}: ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
}

/**
 * `network rm`: refused while a container is on it (Docker: "error while removing network: network
 * NAME id ID has active endpoints"); attachments whose owner is gone are released first. The
 * default network cannot be removed.
 */
export async function removeNetwork(ref: string, o: StoreOptions = {}): Promise<NetworkRecord> {
  if (RESERVED.includes(ref) || ref === DEFAULT_NETWORK) throw new InvalidStateError(`${ref} is a pre-defined network and cannot be removed`);
  const store = new NetworkStore(o.imageRoot);
  await reapAttachments(o);
  return store.locked(async () => {
    const n = findNetwork(store, ref);
    if (n.name === DEFAULT_NETWORK) throw new InvalidStateError(`${n.name} is a pre-defined network and cannot be removed`);
    const users = store.listAttachments().filter((a) => a.networks.some((x) => x.name === n.name));
    if (users.length) {
      throw new InvalidStateError(
        `error while removing network: network ${n.name} id ${n.id} has active endpoints (${users
          .map((u) => u.name ?? u.id)
          .sort()
          .join(', ')})`,
      );
    }
    // The bridge first: should that fail, the record stays for another try.
    await deleteBridge(n.bridge);
    store.removeNetwork(n.name);
    return n;
  });
}

/**
 * `network prune`: removes every user network no container uses (after reaping dead owners) and
 * that passes `filters` (Docker's prune filters: until=, label=); returns their names.
 */
export async function pruneNetworks(o: StoreOptions & { filters?: string[] } = {}): Promise<string[]> {
  const filters = parseFilters(o.filters ?? [], ['until', 'label']);
  const store = new NetworkStore(o.imageRoot);
  await reapAttachments(o);
  return store.locked(async () => {
    const used = new Set(store.listAttachments().flatMap((a) => a.networks.map((x) => x.name)));
    const out: string[] = [];
    for (const n of store.listNetworks()) {
      if (n.name === DEFAULT_NETWORK || used.has(n.name)) continue;
      if (!matchesFilters({ ...n, containers: [], builtin: false }, filters)) continue;
      await deleteBridge(n.bridge);
      store.removeNetwork(n.name);
      out.push(n.name);
    }
    return out.sort();
  });
}

// ---------------------------------------------------------------------------------------------
// Network modes

export type NetworkMode = { kind: 'none' } | { kind: 'host' } | { kind: 'container'; id: string } | { kind: 'networks'; names: string[] };

/**
 * `--network` values as Docker reads them: none, host, container:ID, or network names (the flag
 * may repeat; `default` and no flag mean `bridge`). none/host/container cannot be combined.
 */
export function parseNetworkMode(values: string[]): NetworkMode {
  const vs = values.length ? values : [DEFAULT_NETWORK];
  const special = vs.filter((v) => v === 'none' || v === 'host' || v.startsWith('container:'));
  if (special.length && vs.length > 1) throw new InvalidArgumentError(`conflicting options: --network ${special[0]} cannot be combined with other networks`);
  const v = vs[0];
  if (v === 'none') return { kind: 'none' };
  if (v === 'host') return { kind: 'host' };
  if (v.startsWith('container:')) {
    const id = v.slice('container:'.length);
    if (!id) throw new InvalidArgumentError('--network container: needs a container name or id');
    return { kind: 'container', id };
  }
  return { kind: 'networks', names: [...new Set(vs.map((x) => (x === 'default' ? DEFAULT_NETWORK : x)))] };
}

// ---------------------------------------------------------------------------------------------
// Containers

export interface ConnectOptions extends StoreOptions {
  /** The container id (the state id). */
  id: string;
  /** The container's name (--name): resolvable by the other containers of a user network. */
  name?: string;
  hostname?: string;
  /** An existing network namespace the caller keeps alive until disconnect; omitted: tsrun makes and pins one. */
  netnsPath?: string;
  /** Networks to join, in order (eth0, eth1, …); default the `bridge` network. `ip`: --ip (user networks only). */
  networks?: { name: string; aliases?: string[]; ip?: string }[];
  /** Published ports (parsePublish, publishAll); all go through the first network. */
  ports?: PortMapping[];
  /** --add-host entries (parseAddHost). */
  extraHosts?: HostEntry[];
  /** The file bind-mounted as the container's /etc/hosts: written and kept up to date by tsrun. */
  hostsPath?: string;
  /** A path that exists while the container exists (its state dir): when gone, prune releases the attachment. */
  owner?: string;
}

export interface ContainerInterface {
  network: string;
  networkId: string;
  /** Inside the container: eth0, eth1, … */
  ifName: string;
  mac?: string;
  /** CIDR form, "10.66.0.2/16". */
  cidr: string;
  /** The address alone. */
  ip: string;
  gateway?: string;
  aliases: string[];
}

export interface Attachment {
  id: string;
  netnsPath: string;
  interfaces: ContainerInterface[];
  /** Every address of the container, in network order. */
  ips: string[];
  /** The first network's gateway (the default route, unless the network is --internal). */
  gateway?: string;
  /** Published ports with their host ports resolved. */
  ports: PublishedPort[];
}

function attachmentView(a: AttachmentRecord): Attachment {
  const interfaces: ContainerInterface[] = [];
  for (const n of a.networks) {
    const ip = n.result?.ips?.[0];
    if (!ip) continue;
    const iface = n.result?.interfaces?.find((i) => i.name === n.ifName && i.sandbox);
    interfaces.push({
      network: n.name,
      networkId: n.networkId,
      ifName: n.ifName,
      mac: iface?.mac,
      cidr: ip.address,
      ip: ip.address.split('/')[0],
      gateway: ip.gateway,
      aliases: n.aliases,
    });
  }
  return {
    id: a.id,
    netnsPath: a.netnsPath,
    interfaces,
    ips: interfaces.map((i) => i.ip),
    gateway: interfaces[0]?.gateway,
    ports: a.networks.flatMap((n) => n.ports),
  };
}

/** The attachment of a container (for inspect and ps), or undefined when it has none. */
export function getAttachment(id: string, o: StoreOptions = {}): Attachment | undefined {
  const a = new NetworkStore(o.imageRoot).readAttachment(id);
  return a ? attachmentView(a) : undefined;
}

/** Every attachment, with the owner path it was recorded with (for `container ps` and prune). */
export function listAttachments(o: StoreOptions = {}): (Attachment & { owner?: string; name?: string })[] {
  return new NetworkStore(o.imageRoot).listAttachments().map((a) => ({ ...attachmentView(a), owner: a.owner, name: a.name }));
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

function localPortRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    /* the default below */
  }
  return [32768, 60999];
}

/** Whether a host port can be bound now (something else listening would be shadowed by the DNAT). */
async function bindable(m: { hostIp: string; hostPort: number; protocol: string }): Promise<boolean> {
  if (m.protocol === 'sctp') return true;
  const host = m.hostIp || '0.0.0.0';
  if (m.protocol === 'udp') {
    const dgram = await import('node:dgram');
    return new Promise((resolve) => {
      const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(m.hostPort, host, () => s.close(() => resolve(true)));
    });
  }
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port: m.hostPort, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * assignHostPorts with a bind probe of each chosen port: a port something on the host listens on
 * is refused and the choice made again, until every chosen port binds.
 */
async function resolvePorts(mappings: PortMapping[], taken: PublishedPort[]): Promise<PublishedPort[]> {
  const range = localPortRange();
  const refused = new Set<string>();
  const key = (m: { hostIp: string; hostPort: number; protocol: string }) => `${m.protocol}/${m.hostIp}/${m.hostPort}`;
  for (;;) {
    const chosen = assignHostPorts(mappings, { taken, range, free: (m) => !refused.has(key(m)) });
    let ok = true;
    for (const c of chosen) {
      if (!(await bindable(c))) {
        refused.add(key(c));
        ok = false;
      }
    }
    if (ok) return chosen;
  }
}

function ifNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `eth${i}`);
}

/**
 * Connects a container to its networks: records the attachment, pins a namespace unless one is
 * given, runs each network's CNI ADD (recording every plugin's result as it comes), then writes the
 * hosts files. On failure everything added so far is released and the error thrown.
 */
export async function connectContainer(o: ConnectOptions): Promise<Attachment> {
  if (!ID_RE.test(o.id)) throw new InvalidArgumentError(`invalid container id ${JSON.stringify(o.id)}`);
  const store = new NetworkStore(o.imageRoot);
  const wanted = o.networks?.length ? o.networks : [{ name: DEFAULT_NETWORK }];
  if (new Set(wanted.map((w) => w.name)).size !== wanted.length) throw new InvalidArgumentError('a container can join a network only once');
  for (const w of wanted) {
    if (w.name === 'none' || w.name === 'host' || w.name.startsWith('container:'))
      throw new InvalidArgumentError(`network ${w.name} is a mode, not a network to connect (parseNetworkMode)`);
  }
  const v6 = (o.ports ?? []).find((p) => p.hostIp.includes(':'));
  if (v6) throw new InvalidArgumentError(`cannot publish on ${v6.hostIp}: tsrun networks are IPv4 only`);
  const rec = await store.locked(async () => {
    if (store.readAttachment(o.id)) throw new ExistsError(`container ${o.id} is already connected to its networks`);
    const nets = wanted.map((w) => findNetwork(store, w.name));
    nets.forEach((n, i) => {
      const ip = wanted[i].ip;
      if (ip === undefined) return;
      // Docker: "user specified IP address is supported on user defined networks only".
      if (n.name === DEFAULT_NETWORK) throw new InvalidArgumentError(`--ip ${ip}: an address can be chosen on user-defined networks only`);
      const want = parseIPv4(ip);
      const sub = parseSubnet(n.subnet, 'subnet');
      if (want === undefined || !contains(sub, want)) throw new InvalidArgumentError(`--ip ${ip}: not an address of network ${n.name} (${n.subnet})`);
    });
    const taken = store.listAttachments().flatMap((a) => a.networks.flatMap((n) => n.ports));
    const ports = await resolvePorts(o.ports ?? [], taken);
    const names = ifNames(nets.length);
    const pinned = o.netnsPath === undefined;
    const netnsPath = o.netnsPath ?? store.pinFile(o.id);
    let netnsIno: number | undefined;
    if (!pinned) {
      if (!isNetnsFile(netnsPath)) throw new InvalidArgumentError(`${netnsPath} is not a network namespace`);
      netnsIno = fs.statSync(netnsPath).ino;
    }
    const r: AttachmentRecord = {
      id: o.id,
      name: o.name,
      hostname: o.hostname,
      netnsPath,
      pinned,
      netnsIno,
      hostsPath: o.hostsPath,
      owner: o.owner,
      extraHosts: o.extraHosts ?? [],
      created: new Date().toISOString(),
      networks: nets.map((n, i) => ({
        name: n.name,
        networkId: n.id,
        ifName: names[i],
        aliases: [...new Set(wanted[i].aliases ?? [])],
        ...(wanted[i].ip !== undefined ? { ip: wanted[i].ip } : {}),
        ports: i === 0 ? ports : [],
      })),
    };
    // Recorded before anything is made: a disconnect after a crash from here on finds it.
    store.writeAttachment(r);
    return r;
  });
  try {
    if (rec.pinned) pinNetns(rec.netnsPath);
    for (const on of rec.networks) {
      const n = store.readNetwork(on.name);
      if (!n || n.id !== on.networkId) throw new NetworkNotFoundError(on.name);
      await addNetworkList(networkConfList(n, store), runtimeConf(rec, on, rec.netnsPath), cniOpts(o), (r) => {
        on.result = r;
        store.writeAttachment(rec);
      });
    }
    const first = rec.networks[0];
    const listeners = proxyListeners(first.ports, first.result?.ips?.[0]?.address.split('/')[0] ?? '');
    if (listeners.length) {
      // Recorded before it serves: a disconnect after a kill from here on ends it.
      await startProxy(listeners, (p) => {
        rec.proxy = p;
        store.writeAttachment(rec);
      });
    }
    await store.locked(() => refreshHostsFiles(store, rec));
  } catch (err) {
    try {
      await disconnectContainer(o.id, o);
    } catch (undoErr) {
      throw new NetworkError(`${(err as Error).message}; releasing what connect made failed too (disconnect ${o.id} again): ${(undoErr as Error).message}`, {
        cause: err,
      });
    }
    throw err;
  }
  return attachmentView(rec);
}

function runtimeConf(rec: AttachmentRecord, on: AttachedNetwork, netns: string) {
  return {
    containerId: rec.id,
    netns,
    ifName: on.ifName,
    // IgnoreUnknown: plugins that take no IP= argument must not refuse it (CONVENTIONS.md, CNI_ARGS).
    ...(on.ip ? { args: [['IgnoreUnknown', '1'] as [string, string], ['IP', on.ip] as [string, string]] } : {}),
    capabilityArgs: {
      portMappings: portmapMappings(on.ports).map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, hostIP: p.hostIp })),
    },
  };
}

/** The namespace path to give DEL and CHECK: the pin or the caller's namespace while it is still the same one, else ''. */
function liveNetns(rec: AttachmentRecord): string {
  if (!isNetnsFile(rec.netnsPath)) return '';
  if (rec.pinned) return rec.netnsPath;
  try {
    return fs.statSync(rec.netnsPath).ino === rec.netnsIno ? rec.netnsPath : '';
  } catch {
    return '';
  }
}

/**
 * Releases everything a container holds on its networks: CNI DEL of each network (veth, lease,
 * masquerade, port and firewall rules), the pinned namespace, the record; then rewrites the hosts
 * files of the containers left on those networks. Idempotent: nothing recorded is not an error, and
 * a DEL that failed leaves the record for the next try.
 */
export async function disconnectContainer(id: string, o: StoreOptions = {}): Promise<void> {
  const store = new NetworkStore(o.imageRoot);
  store.open();
  const rec = store.readAttachment(id);
  if (!rec) return;
  // The proxy first: it goes even when a DEL below fails (and a reused pid is left alone).
  if (rec.proxy) await stopProxy(rec.proxy);
  const netns = liveNetns(rec);
  let first: unknown;
  for (const on of [...rec.networks].reverse()) {
    const n = store.readNetwork(on.name);
    if (!n || n.id !== on.networkId) continue; // the network is gone, and with it what it held
    const list = networkConfList(n, store);
    try {
      await delNetworkList(list, runtimeConf(rec, on, netns), on.result, cniOpts(o));
    } catch (err) {
      // The bridge plugin (1.1.x) tears its masquerade chain down whenever it finds the interface,
      // and fails when the chain was never made (an ADD that failed before it), with iptables-nft's
      // "Chain '…' does not exist". There is then nothing of its own to tear down but the lease:
      // a DEL without the namespace releases just that.
      if (netns && err instanceof CniPluginError && err.plugin === 'bridge' && /does not exist/.test(err.msg)) {
        try {
          await delNetworkList(list, runtimeConf(rec, on, ''), on.result, cniOpts(o));
          continue;
        } catch (again) {
          first ??= again;
          continue;
        }
      }
      first ??= err;
    }
  }
  if (first) throw first;
  if (rec.pinned) unpinNetns(rec.netnsPath);
  await store.locked(() => {
    store.removeAttachment(id);
    refreshHostsFiles(store, rec);
  });
}

/**
 * CNI CHECK of each network of a connected container against its recorded result: the plugins
 * verify that the interface, address, lease, routes and rules ADD made are still there.
 */
export async function checkContainer(id: string, o: StoreOptions = {}): Promise<void> {
  const store = new NetworkStore(o.imageRoot);
  const rec = store.readAttachment(id);
  if (!rec) throw new InvalidStateError(`container ${id} is not connected to any network`);
  const netns = liveNetns(rec);
  if (!netns) throw new NetworkError(`container ${id}: its network namespace ${rec.netnsPath} is gone`);
  for (const on of rec.networks) {
    const n = store.readNetwork(on.name);
    if (!n || n.id !== on.networkId) throw new NetworkNotFoundError(on.name);
    if (!on.result) throw new NetworkError(`container ${id}: network ${on.name} was never fully connected`);
    await checkNetworkList(networkConfList(n, store), runtimeConf(rec, on, netns), on.result, cniOpts(o));
  }
  if (rec.proxy && !proxyAlive(rec.proxy)) throw new NetworkError(`container ${id}: its port proxy (pid ${rec.proxy.pid}) is gone`);
}

/**
 * Releases the attachments whose owner path is gone (a container removed, or its state lost with a
 * reboot, without a disconnect). `isLive`, when given, decides instead. Returns the released ids.
 */
export async function reapAttachments(
  o: StoreOptions & { isLive?: (a: { id: string; owner?: string }) => boolean | Promise<boolean> } = {},
): Promise<string[]> {
  const store = new NetworkStore(o.imageRoot);
  const out: string[] = [];
  for (const a of store.listAttachments()) {
    const live = o.isLive ? await o.isLive(a) : a.owner === undefined || fs.existsSync(a.owner);
    if (live) continue;
    await disconnectContainer(a.id, o);
    out.push(a.id);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hosts files

function selfEntries(a: AttachmentRecord, userNets: Set<string>): HostEntry[] {
  const out: HostEntry[] = [];
  for (const n of a.networks) {
    const ip = n.result?.ips?.[0]?.address.split('/')[0];
    if (!ip) continue;
    const names = [a.hostname ?? a.id.slice(0, 12)];
    if (userNets.has(n.name)) names.push(...(a.name ? [a.name] : []), ...n.aliases);
    out.push({ ip, names });
  }
  return out;
}

/** The hosts file text of one attached container, given every attachment in the store. */
export function hostsFor(a: AttachmentRecord, all: AttachmentRecord[]): string {
  const userNets = new Set(a.networks.filter((n) => n.name !== DEFAULT_NETWORK).map((n) => n.name));
  const gateway = a.networks.map((n) => n.result?.ips?.[0]?.gateway).find(Boolean);
  const extra = a.extraHosts
    .map((e) => (e.ip === 'host-gateway' ? (gateway ? { ...e, ip: gateway } : undefined) : e))
    .filter((e): e is HostEntry => e !== undefined);
  const peers: HostEntry[] = [];
  for (const other of all) {
    if (other.id === a.id) continue;
    for (const on of other.networks) {
      if (!userNets.has(on.name)) continue;
      const ip = on.result?.ips?.[0]?.address.split('/')[0];
      if (!ip) continue;
      peers.push({ ip, names: [...(other.name ? [other.name] : []), ...on.aliases, other.id.slice(0, 12)] });
    }
  }
  return renderHosts({ self: selfEntries(a, userNets), extra, peers });
}

/** Rewrites the hosts file of `changed` and of every container sharing a user network with it. */
function refreshHostsFiles(store: NetworkStore, changed: AttachmentRecord): void {
  const all = store.listAttachments();
  const nets = new Set(changed.networks.filter((n) => n.name !== DEFAULT_NETWORK).map((n) => n.name));
  for (const a of all) {
    if (!a.hostsPath) continue;
    if (a.id === changed.id) {
      writeInPlace(a.hostsPath, hostsFor(a, all), true);
      continue;
    }
    if (!a.networks.some((n) => nets.has(n.name))) continue;
    try {
      writeInPlace(a.hostsPath, hostsFor(a, all), false);
    } catch {
      // Another container's file (its bundle removed without a disconnect): its problem is not
      // this container's, and its own disconnect or a prune will follow.
    }
  }
}

/** Writes a file in place (same inode: a bind mount of it sees the new text); never follows a symlink. */
function writeInPlace(p: string, text: string, create: boolean): void {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_WRONLY | (create ? fs.constants.O_CREAT : 0) | fs.constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'open', path: p, context: 'write hosts file' });
  }
  try {
    const buf = Buffer.from(text);
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.ftruncateSync(fd, buf.length);
  } finally {
    fs.closeSync(fd);
  }
}

/** The hosts file text of a connected container (for a front that writes the file itself). */
export function hostsFileContent(id: string, o: StoreOptions = {}): string {
  const store = new NetworkStore(o.imageRoot);
  const all = store.listAttachments();
  const a = all.find((x) => x.id === id);
  if (!a) throw new InvalidStateError(`container ${id} is not connected to any network`);
  return hostsFor(a, all);
}

/** The directory of the network store (for tests and `info`). */
export function networkStoreDir(o: StoreOptions = {}): string {
  return new NetworkStore(o.imageRoot).dir;
}
