// The userland proxy of published ports (native/proxy.cc, build/Release/tsrun-proxy), Docker's
// model (docker-proxy beside its DNAT rules):
//
// - portmap DNATs what reaches a published port from elsewhere (the client's address preserved),
//   but not loopback destinations nor what comes in from the network's own bridge (its
//   conditionsV4, portmapConditions()), and it runs with snat false: with snat true it sets
//   route_localnet on the bridge itself, and route_localnet lets the containers on the bridge
//   reach the host's 127.0.0.1 services (CVE-2020-8558).
// - The proxy listens on each published TCP/UDP host address and port (0.0.0.0 for a wildcard
//   publish) and connects to the container: it carries the host's own connections to 127.0.0.1
//   (or to any address a wildcard publish covers, when no DNAT took them first) and the bridge's
//   hairpin traffic (a container reaching a published port through the host). Its bind is the
//   port's reservation: a port something else holds fails the connect with Docker's "Bind for
//   IP:PORT failed: port is already allocated", before the container starts.
// - A mapping on 127.0.0.0/8 is the proxy's alone: portmap never sees it.
// - One proxy per container, spawned in the caller's network namespace (the "host" the bridge lives
//   in), recorded (pid and start time) in the attachment before it serves, killed on disconnect
//   (and so by `container rm/prune` and `network prune`), never when its pid was reused.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { InvalidArgumentError } from '../errors.js';
import { packageRoot } from '../sys/addon.js';
import { NetworkError } from './errors.js';
import type { ProxyRecord, PublishedPort } from './store.js';

export function proxyPath(): string {
  return path.join(packageRoot(), 'build', 'Release', 'tsrun-proxy');
}

/** One listener of the proxy: the published host address and port, and where it forwards to. */
export interface ProxyListener {
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** Whether a host address is a loopback one (127.0.0.0/8). */
export function isLoopback(ip: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** The proxy's listeners for a container's published ports: every TCP and UDP one (not SCTP). */
export function proxyListeners(ports: PublishedPort[], containerIp: string): ProxyListener[] {
  return ports
    .filter((p): p is PublishedPort & { protocol: 'tcp' | 'udp' } => p.protocol === 'tcp' || p.protocol === 'udp')
    .map((p) => ({ protocol: p.protocol, hostIp: p.hostIp || '0.0.0.0', hostPort: p.hostPort, containerIp, containerPort: p.containerPort }));
}

/** The mappings portmap gets: all but those on a loopback address (the proxy's alone). */
export function portmapMappings(ports: PublishedPort[]): PublishedPort[] {
  return ports.filter((p) => !isLoopback(p.hostIp));
}

/** portmap's conditionsV4 for a network on `bridge`: no DNAT of loopback destinations nor of the bridge's own traffic. */
export function portmapConditions(bridge: string): string[] {
  return ['!', '-d', '127.0.0.0/8', '!', '-i', bridge];
}

/** The proxy's argv (after the program): see native/proxy.cc. */
export function proxyArgs(listeners: ProxyListener[], o: { syncFd: number; parent: number; udpTimeout?: number }): string[] {
  const args = ['--sync-fd', String(o.syncFd), '--parent', String(o.parent)];
  if (o.udpTimeout !== undefined) args.push('--udp-timeout', String(o.udpTimeout));
  for (const l of listeners) args.push('--listen', l.protocol, l.hostIp, String(l.hostPort), l.containerIp, String(l.containerPort));
  return args;
}

/**
 * The proxy's report as an outcome: undefined for "ready", else the error to throw. EADDRINUSE is
 * Docker's "Bind for IP:PORT failed: port is already allocated".
 */
export function proxyReportError(report: string): Error | undefined {
  if (report.startsWith('ready\n')) return undefined;
  const m = /^error (\S+) (\S+) (\S+) (\S+)\n([^]*)$/.exec(report);
  if (!m) return new NetworkError(`the port proxy ${proxyPath()} ended without reporting ready${report.trim() ? `: ${report.trim()}` : ''}`);
  const [, proto, ip, port, errno, text] = m;
  if (proto === '-') return new NetworkError(text.trim() || `the port proxy failed (${errno})`);
  if (errno === 'EADDRINUSE') return new InvalidArgumentError(`Bind for ${ip}:${port} failed: port is already allocated`);
  return new NetworkError(`Bind for ${ip}:${port}/${proto} failed: ${text.trim().replace(/^tsrun-proxy: /, '')}`);
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), and its state; undefined when there is no such process. */
export function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

/** The state (field 3) and start time (field 22) of a /proc/PID/stat text. */
export function parseProcStat(text: string): { state: string; startTime: string } {
  // The command name (field 2) is in parentheses and may hold anything: count from the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], startTime: rest[19] };
}

/** Whether the recorded proxy is still the process of that pid (not a zombie, not a reused pid). */
export function proxyAlive(p: ProxyRecord): boolean {
  const st = procStat(p.pid);
  return st !== undefined && st.startTime === p.startTime && st.state !== 'Z' && st.state !== 'X';
}

/**
 * Starts the proxy for `listeners` in this process's network namespace. `record` is called with its
 * pid and start time before it can serve (the caller writes it to the attachment); resolves once it
 * reported every listener bound, rejects (with nothing left listening) when one could not be.
 */
export async function startProxy(
  listeners: ProxyListener[],
  record: (p: ProxyRecord) => void,
  o: { udpTimeout?: number; timeoutMs?: number } = {},
): Promise<ProxyRecord> {
  const bin = proxyPath();
  // detached: a session of its own, so the terminal's signals do not reach it once tsrun exits.
  const child = spawn(bin, proxyArgs(listeners, { syncFd: 3, parent: process.pid, udpTimeout: o.udpTimeout }), {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  if (spawned || child.pid === undefined) throw new NetworkError(`start the port proxy ${bin}`, { cause: spawned });
  const pid = child.pid;
  const sync = child.stdio[3] as Duplex;
  // The start time is the fork's, the same before and after the exec.
  const st = procStat(pid);
  const rec: ProxyRecord = { pid, startTime: st?.startTime ?? '' };
  try {
    if (!st) throw new NetworkError(`the port proxy ${bin} (pid ${pid}) ended at once`);
    record(rec);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const report = await new Promise<string>((resolve) => {
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`error - - - ETIMEDOUT\nthe port proxy ${bin} did not report within ${(o.timeoutMs ?? 30_000) / 1000} s\n`);
    }, o.timeoutMs ?? 30_000);
    sync.setEncoding('utf8');
    sync.on('data', (c: string) => (buf += c));
    const done = () => {
      clearTimeout(timer);
      resolve(buf);
    };
    sync.on('end', done);
    sync.on('error', done);
  });
  sync.destroy();
  const err = proxyReportError(report);
  if (err) {
    await stopProxy(rec);
    throw err;
  }
  child.unref();
  return rec;
}

/**
 * Ends a recorded proxy: SIGTERM, then SIGKILL after `graceMs`; waits until it is gone. A pid that
 * is no longer that proxy (another start time) is left alone. Idempotent.
 */
export async function stopProxy(p: ProxyRecord, graceMs = 2000): Promise<void> {
  if (!proxyAlive(p)) return;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(p.pid, s);
    } catch {
      /* gone meanwhile */
    }
  };
  signal('SIGTERM');
  const until = Date.now() + graceMs;
  while (proxyAlive(p)) {
    if (Date.now() > until) {
      signal('SIGKILL');
      break;
    }
    await delay(10);
  }
  for (let i = 0; i < 500 && proxyAlive(p); i++) await delay(10);
}
