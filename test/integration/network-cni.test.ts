// tsrun's networks with the real CNI plugins (Debian's containernetworking-plugins), end to end:
// containers started by bin/tsrun from bundles whose config.json names the network namespace
// connectContainer made. Everything runs inside a network namespace of this file's own ("the
// host" of these tests): the ava worker's main thread enters it (enterNetns), so the plugins,
// iptables, sysctl and the test's own sockets all act there, and the real host's interfaces,
// routes, sysctls and firewall are never touched. The namespace goes at the end with everything
// in it; each test also checks that disconnecting left no veth, lease, rule, pin or record.
import { execFile, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { makeBundle, runTsrun, type Bundle } from '../helpers/bundle.js';
import { file, needs, root, tool } from '../helpers/skip.js';
import { waitForValue } from '../helpers/wait.js';
import { enterNetns, pinNetns, unpinNetns } from '../../src/net/netns.js';
import {
  checkContainer,
  connectContainer,
  createNetwork,
  disconnectContainer,
  getAttachment,
  listAttachments,
  parsePublish,
  pruneNetworks,
  removeNetwork,
  type Attachment,
} from '../../src/net/network.js';
import { CniPluginError } from '../../src/net/errors.js';
import { procStat, proxyAlive, proxyPath, startProxy, stopProxy } from '../../src/net/proxy.js';
import type { AttachmentRecord, ProxyRecord } from '../../src/net/store.js';

const run = promisify(execFile);
const netTest = needs(
  root('network namespaces, CNI plugins'),
  file('/usr/lib/cni/bridge', 'needs the CNI plugins (Debian package containernetworking-plugins)'),
  tool('iptables'),
  tool('ip', 'iproute2'),
);

// The test namespaces are pinned in a temp dir (pinNetns, as `ip netns add` does in /run/netns).
let nsDir = '';
let hostNs = '';
let leave: (() => void) | undefined;
const imageRoots: string[] = [];

test.before(async () => {
  if (process.geteuid?.() !== 0 || !fs.existsSync('/usr/lib/cni/bridge')) return;
  nsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-netns-'));
  hostNs = path.join(nsDir, 'host');
  pinNetns(hostNs);
  const before = fs.readlinkSync('/proc/thread-self/ns/net');
  leave = enterNetns(hostNs);
  if (fs.readlinkSync('/proc/thread-self/ns/net') === before) throw new Error('did not enter the test network namespace');
});

test.after.always(() => {
  if (!leave) return;
  leave();
  for (const r of imageRoots) fs.rmSync(r, { recursive: true, force: true });
  for (const f of fs.readdirSync(nsDir)) unpinNetns(path.join(nsDir, f));
  fs.rmSync(nsDir, { recursive: true, force: true });
});

function newImageRoot(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-net-'));
  imageRoots.push(dir);
  t.teardown(async () => {
    // A test that failed half-way: release what is still attached, so the namespace goes clean.
    for (const a of listAttachments({ imageRoot: dir })) await disconnectContainer(a.id, { imageRoot: dir }).catch(() => undefined);
  });
  return dir;
}

/** Everything of container `id` (address `ip`) still present in the test namespace or the store. */
function leftovers(imageRoot: string, id: string, ip: string): string[] {
  const out: string[] = [];
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  for (const l of links.split('\n')) if (/veth/.test(l)) out.push(`veth: ${l.split(':')[1].trim()}`);
  const rules = execFileSync('iptables-save', { encoding: 'utf8' });
  for (const l of rules.split('\n')) if (l.includes(`"${id}"`) || l.includes(`${ip}/32`) || l.includes(`${ip}:`)) out.push(`iptables: ${l}`);
  const ipam = path.join(imageRoot, 'networks/ipam');
  for (const net of fs.existsSync(ipam) ? fs.readdirSync(ipam) : []) {
    for (const f of fs.readdirSync(path.join(ipam, net))) if (/^\d+\.\d+\.\d+\.\d+$/.test(f)) out.push(`lease: ${net}/${f}`);
  }
  if (fs.existsSync(path.join(imageRoot, 'networks/netns', id))) out.push('netns pin');
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(path.join(imageRoot, 'networks/netns'))) out.push('netns mount');
  if (fs.existsSync(path.join(imageRoot, 'networks/attachments', `${id}.json`))) out.push('attachment record');
  for (const pid of proxiesHere()) out.push(`tsrun-proxy: ${pid}`);
  return out;
}

/** Live tsrun-proxy processes in the test namespace. */
function proxiesHere(): number[] {
  const here = fs.readlinkSync('/proc/thread-self/ns/net');
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return (
          fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'tsrun-proxy\n' && fs.readlinkSync(`/proc/${p}/ns/net`) === here && procStat(Number(p))?.state !== 'Z'
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The port proxy recorded in a container's attachment. */
function recordedProxy(imageRoot: string, id: string): ProxyRecord | undefined {
  return (JSON.parse(fs.readFileSync(path.join(imageRoot, 'networks/attachments', `${id}.json`), 'utf8')) as AttachmentRecord).proxy;
}

/** net.ipv4.conf.<all and dev>.route_localnet (CVE-2020-8558: must stay 0). */
function routeLocalnet(dev: string): string {
  return ['all', dev].map((d) => `${d}=${fs.readFileSync(`/proc/sys/net/ipv4/conf/${d}/route_localnet`, 'utf8').trim()}`).join(' ');
}

/** A bundle whose container joins the namespace of `att`, with `hostsPath` as its /etc/hosts when given. */
async function bundleIn(t: ExecutionContext, att: Attachment, args: string[], hostsPath?: string): Promise<Bundle> {
  return makeBundle(t, (spec, { rootfs }) => {
    spec.process!.args = args;
    spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: att.netnsPath } : n));
    fs.mkdirSync(path.join(rootfs, 'www'), { recursive: true });
    fs.writeFileSync(path.join(rootfs, 'www/index.html'), `page of ${att.id}\n`);
    if (hostsPath) {
      fs.writeFileSync(path.join(rootfs, 'etc/hosts'), '');
      spec.mounts!.push({ destination: '/etc/hosts', type: 'bind', source: hostsPath, options: ['rbind', 'ro'] });
    }
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

netTest.serial('the default network reaches a server on the host side of the bridge; disconnect leaves no veth, lease, rule or pin', async (t) => {
  const imageRoot = newImageRoot(t);
  const id = `tsrun-net-a-${process.pid}`;
  const att = await connectContainer({ id, imageRoot });
  t.is(att.interfaces.length, 1);
  t.is(att.interfaces[0].network, 'bridge');
  t.is(att.interfaces[0].ifName, 'eth0');
  t.regex(att.ips[0], /^10\.6[67]\.\d+\.\d+$/);
  t.truthy(att.gateway);
  t.regex(
    execFileSync('ip', ['-o', 'addr', 'show', 'dev', 'tsrun0'], { encoding: 'utf8' }),
    new RegExp(`inet ${att.gateway!.replace(/\./g, '\\.')}/`),
    'tsrun0 holds the gateway',
  );

  // A server on the host side of the bridge, listening on the gateway address only.
  const server = http.createServer((req, res) => res.end(`hello ${req.socket.remoteAddress}\n`));
  await new Promise<void>((resolve) => server.listen(0, att.gateway, resolve));
  t.teardown(() => server.close());
  const port = (server.address() as import('node:net').AddressInfo).port;

  const b = await bundleIn(t, att, ['sh', '-c', `ip -o -4 addr show eth0; wget -q -O - http://${att.gateway}:${port}/`]);
  const r = await b.tsrun(['run', b.id]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`inet ${att.ips[0].replace(/\./g, '\\.')}/`), 'the container has its address on eth0');
  t.true(r.stdout.includes(`hello ${att.ips[0]}\n`), r.stdout);

  t.deepEqual(getAttachment(id, { imageRoot })?.ips, att.ips);
  await checkContainer(id, { imageRoot });
  // CHECK finds what is missing: here host-local's lease (the plugins report it through bridge).
  const lease = path.join(imageRoot, 'networks/ipam/bridge', att.ips[0]);
  fs.renameSync(lease, path.join(imageRoot, 'lease-away'));
  const bad = await t.throwsAsync(checkContainer(id, { imageRoot }), { instanceOf: CniPluginError });
  t.is(bad!.plugin, 'bridge');
  t.is(bad!.command, 'CHECK');
  t.regex(bad!.message, new RegExp(`host-local: .*${id}`));
  fs.renameSync(path.join(imageRoot, 'lease-away'), lease);
  t.true(leftovers(imageRoot, id, att.ips[0]).length >= 3, 'while connected: veth, lease, masquerade rules');
  await disconnectContainer(id, { imageRoot });
  t.deepEqual(leftovers(imageRoot, id, att.ips[0]), []);
  await disconnectContainer(id, { imageRoot }); // idempotent
  t.is(getAttachment(id, { imageRoot }), undefined);
});

netTest.serial('a port published on 127.0.0.1 (and ephemeral ones) reaches busybox httpd in the container through the proxy, route_localnet 0', async (t) => {
  const imageRoot = newImageRoot(t);
  const id = `tsrun-net-p-${process.pid}`;
  const att = await connectContainer({
    id,
    imageRoot,
    ports: [...parsePublish('127.0.0.1:18080:8080'), ...parsePublish('127.0.0.1::8080'), ...parsePublish('8080')],
  });
  t.is(att.ports.length, 3);
  t.deepEqual(att.ports[0], { hostIp: '127.0.0.1', hostPort: 18080, containerPort: 8080, protocol: 'tcp' });
  const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  for (const p of att.ports.slice(1)) t.true(p.hostPort >= lo && p.hostPort <= hi, `ephemeral port ${p.hostPort}`);
  const proxy = recordedProxy(imageRoot, id);
  t.truthy(proxy, 'the proxy is recorded in the attachment');
  t.true(proxyAlive(proxy!));
  t.is(fs.readFileSync(`/proc/${proxy!.pid}/comm`, 'utf8'), 'tsrun-proxy\n');
  t.is(fs.readlinkSync(`/proc/${proxy!.pid}/ns/net`), fs.readlinkSync('/proc/thread-self/ns/net'), "in the caller's namespace");
  // The ephemeral wildcard port was chosen once: the proxy listens on it and portmap DNATs it.
  const nat = execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' });
  t.regex(nat, new RegExp(`--dport ${att.ports[2].hostPort} -j DNAT --to-destination ${att.ips[0].replace(/\./g, '\\.')}:8080`));
  t.notRegex(nat, /--dport 18080\b/, 'portmap has no rule for a 127.x publish');
  t.notRegex(nat, new RegExp(`--dport ${att.ports[1].hostPort}\\b`));
  t.regex(nat, /! -d 127\.0\.0\.0\/8 ! -i tsrun0 .*dnat name/, 'nor DNATs loopback destinations or the bridge');
  t.is(routeLocalnet('tsrun0'), 'all=0 tsrun0=0');

  const b = await bundleIn(t, att, ['httpd', '-f', '-p', '8080', '-h', '/www']);
  const r = await b.tsrun(['run', '-d', b.id]);
  t.is(r.code, 0, r.stderr);
  const page = await waitForValue(async () => (await get('http://127.0.0.1:18080/').catch(() => undefined))?.body, { what: 'the published port to answer' });
  t.is(page, `page of ${id}\n`);
  t.is((await get(`http://127.0.0.1:${att.ports[1].hostPort}/`)).body, `page of ${id}\n`);
  t.is((await get(`http://127.0.0.1:${att.ports[2].hostPort}/`)).body, `page of ${id}\n`, 'a wildcard publish on 127.0.0.1');
  t.is((await get(`http://${att.gateway}:${att.ports[2].hostPort}/`)).body, `page of ${id}\n`, "and on the bridge's host address");
  t.is(routeLocalnet('tsrun0'), 'all=0 tsrun0=0');

  // A second container cannot take the same host port.
  await t.throwsAsync(connectContainer({ id: `${id}-2`, imageRoot, ports: parsePublish('127.0.0.1:18080:80') }), {
    code: 'TSRUN_INVALID_ARGUMENT',
    message: 'Bind for 127.0.0.1:18080 failed: port is already allocated',
  } as never);
  t.is(getAttachment(`${id}-2`, { imageRoot }), undefined, 'a refused connect records nothing');
  await t.throwsAsync(connectContainer({ id: `${id}-3`, imageRoot, ports: parsePublish('[::1]:18080:80') }), {
    message: 'cannot publish on ::1: tsrun networks are IPv4 only',
  });

  t.is((await b.tsrun(['delete', '-f', b.id])).code, 0);
  await disconnectContainer(id, { imageRoot });
  t.false(proxyAlive(proxy!), 'disconnect ended the proxy');
  t.deepEqual(leftovers(imageRoot, id, att.ips[0]), []);
  t.notRegex(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), new RegExp(`18080|${att.ports[2].hostPort}`), 'no DNAT rule for the ports');
});

netTest.serial(
  'tsrun-proxy: a port held by another process fails with the address and leaves no proxy; TCP both ways with half-close; UDP flows per client, closed when idle',
  async (t) => {
    // Against servers of this test in the test namespace (the "container" is 127.0.0.1 here).
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(18095, '127.0.0.1', resolve));
    t.teardown(() => holder.close());
    const recorded: ProxyRecord[] = [];
    await t.throwsAsync(
      startProxy(
        [
          { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 18094, containerIp: '127.0.0.1', containerPort: 1 },
          { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 18095, containerIp: '127.0.0.1', containerPort: 1 },
        ],
        (p) => recorded.push(p),
      ),
      { code: 'TSRUN_INVALID_ARGUMENT', message: 'Bind for 127.0.0.1:18095 failed: port is already allocated' } as never,
    );
    t.is(recorded.length, 1, 'recorded before it reported');
    t.false(proxyAlive(recorded[0]), 'the proxy is gone');
    await new Promise<void>((resolve, reject) => {
      const probe = net.createServer().once('error', reject);
      probe.listen(18094, '127.0.0.1', () => probe.close(() => resolve()));
    }); // and its first listener with it
    await t.throwsAsync(
      startProxy([{ protocol: 'tcp', hostIp: '192.0.2.77', hostPort: 18096, containerIp: '127.0.0.1', containerPort: 1 }], () => {}),
      { message: /^Bind for 192\.0\.2\.77:18096\/tcp failed: bind tcp 192\.0\.2\.77:18096: Cannot assign requested address$/ },
    );

    // TCP: the server answers after the client's FIN (half-close passed on), then ends.
    const tcp = net.createServer((s) => {
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('end', () => s.end(`got ${got.length} bytes ending ${got.slice(-3)}`));
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    t.teardown(() => tcp.close());
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m, from) => udp.send(`echo ${m} from ${from.address}`, from.port, from.address));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    t.teardown(() => udp.close());
    const p = await startProxy(
      [
        { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 18097, containerIp: '127.0.0.1', containerPort: (tcp.address() as net.AddressInfo).port },
        { protocol: 'udp', hostIp: '127.0.0.1', hostPort: 18097, containerIp: '127.0.0.1', containerPort: udp.address().port },
      ],
      () => {},
      { udpTimeout: 1 },
    );
    t.teardown(() => stopProxy(p));
    const big = 'x'.repeat(1_000_000) + 'end';
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect(18097, '127.0.0.1', () => c.end(big));
      let b = '';
      c.on('data', (d) => (b += d));
      c.on('end', () => resolve(b));
      c.on('error', reject);
    });
    t.is(answer, `got ${big.length} bytes ending end`);

    const ask = (sock: dgram.Socket, msg: string) =>
      new Promise<string>((resolve) => {
        sock.once('message', (m) => resolve(String(m)));
        sock.send(msg, 18097, '127.0.0.1');
      });
    const c1 = dgram.createSocket('udp4');
    const c2 = dgram.createSocket('udp4');
    t.teardown(() => {
      c1.close();
      c2.close();
    });
    t.is(await ask(c1, 'one'), 'echo one from 127.0.0.1');
    t.is(await ask(c2, 'two'), 'echo two from 127.0.0.1');
    t.is(await ask(c1, 'three'), 'echo three from 127.0.0.1');
    const sockets = () => fs.readdirSync(`/proc/${p.pid}/fd`).filter((f) => fs.readlinkSync(`/proc/${p.pid}/fd/${f}`).startsWith('socket:')).length;
    t.is(sockets(), 4, 'two listeners and a flow per client');
    await waitForValue(() => sockets() === 2 || undefined, { what: 'the idle UDP flows to close' });
    t.is(await ask(c1, 'again'), 'echo again from 127.0.0.1', 'a new flow after the idle one closed');

    // Its fds: /dev/null on 0-2, its sockets, epoll and signalfd; nothing of this process's.
    const fds = fs.readdirSync(`/proc/${p.pid}/fd`).map((f) => fs.readlinkSync(`/proc/${p.pid}/fd/${f}`));
    t.deepEqual(
      fds.filter((l) => !/^(socket:|anon_inode:\[(eventpoll|signalfd)\])/.test(l)),
      ['/dev/null', '/dev/null', '/dev/null'],
    );
    await stopProxy(p);
    t.false(proxyAlive(p), 'SIGTERM ends it');
  },
);

netTest.serial('tsrun-proxy out of fds: connections wait in the backlog without a busy loop, and are served once fds are free', async (t) => {
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  t.teardown(() => echo.close());
  const port = (echo.address() as net.AddressInfo).port;
  // 12 fds: 0-2, epoll, signalfd and the listener (the sync fd closed after ready) leave room for
  // three connections of two fds each; then accept fails with EMFILE.
  const proxy = spawn(
    'prlimit',
    ['--nofile=12:12', proxyPath(), '--sync-fd', '3', '--parent', String(process.pid), '--listen', 'tcp', '127.0.0.1', '18093', '127.0.0.1', String(port)],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    },
  );
  t.teardown(() => proxy.kill('SIGKILL'));
  const sync = proxy.stdio[3] as import('node:stream').Duplex;
  t.is(await new Promise<string>((resolve) => sync.once('data', (d: Buffer) => resolve(String(d)))), 'ready\n');
  const socks = Array.from({ length: 20 }, () => net.connect(18093, '127.0.0.1').on('error', () => {}));
  await delay(2000);
  // utime + stime: fields 14 and 15 of /proc/PID/stat, counted from past the command name.
  const ticks = () => {
    const stat = fs.readFileSync(`/proc/${proxy.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const before = ticks();
  await delay(1000);
  t.true(ticks() - before < 20, `no busy loop: ${ticks() - before} ticks in a second`);
  for (const s of socks) s.destroy();
  const answer = await waitForValue(
    () =>
      new Promise<string | undefined>((resolve) => {
        const c = net.connect(18093, '127.0.0.1', () => c.write('ping'));
        c.setTimeout(1000, () => (c.destroy(), resolve(undefined)));
        c.on('data', (d) => (c.destroy(), resolve(String(d))));
        c.on('error', () => resolve(undefined));
      }),
    { what: 'the proxy to serve again' },
  );
  t.is(answer, 'ping');
});

netTest.serial('tsrun-proxy dies with its parent when that dies before the proxy reported ready', async (t) => {
  // The parent, a shell, gives the proxy a full pipe as its sync fd: the proxy binds, then blocks
  // writing "ready" until the shell is SIGKILLed.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-proxy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = `mkfifo ${dir}/sync; exec 4<>${dir}/sync; head -c 65536 /dev/zero >&4
"$@" --parent $$ 3>&4 4>&- & echo $!; wait`;
  const parent = spawn('sh', ['-c', script, 'sh', proxyPath(), '--sync-fd', '3', '--listen', 'tcp', '127.0.0.1', '18098', '127.0.0.1', '1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => parent.kill('SIGKILL'));
  const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  const stat = await waitForValue(() => procStat(pid), { what: 'the proxy to start' });
  const rec = { pid, startTime: stat.startTime };
  await waitForValue(() => fs.readFileSync('/proc/net/tcp', 'utf8').includes(`0100007F:${(18098).toString(16).toUpperCase()} `) || undefined, {
    what: 'the proxy to bind',
  });
  t.true(proxyAlive(rec), 'bound, blocked before "ready"');
  parent.kill('SIGKILL');
  await waitForValue(() => !proxyAlive(rec) || undefined, { what: 'the proxy to die with its parent' });
  t.false(proxyAlive(rec));
});

netTest.serial(
  'two containers on a user network resolve each other by name and alias; hosts files follow joins and leaves; rm refuses a network in use',
  async (t) => {
    const imageRoot = newImageRoot(t);
    const net = await createNetwork('tnet', { imageRoot, subnet: '10.123.45.0/24' });
    t.regex(net.bridge, /^br-[0-9a-f]{12}$/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-hosts-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const hostsWeb = path.join(dir, 'web-hosts');
    const hostsClient = path.join(dir, 'client-hosts');
    const idWeb = `tsrun-net-w-${process.pid}`;
    const idClient = `tsrun-net-c-${process.pid}`;
    const web = await connectContainer({
      id: idWeb,
      name: 'web',
      hostname: 'webhost',
      imageRoot,
      networks: [{ name: 'tnet', aliases: ['www'] }],
      hostsPath: hostsWeb,
    });
    t.is(web.ips[0], '10.123.45.2');
    const wb = await bundleIn(t, web, ['httpd', '-f', '-p', '8080', '-h', '/www'], hostsWeb);
    t.is((await wb.tsrun(['run', '-d', wb.id])).code, 0);

    const client = await connectContainer({
      id: idClient,
      name: 'client',
      imageRoot,
      networks: [{ name: 'tnet' }],
      hostsPath: hostsClient,
      extraHosts: [{ ip: '192.0.2.7', names: ['extra.example'] }],
    });
    t.regex(fs.readFileSync(hostsWeb, 'utf8'), /^10\.123\.45\.3\tclient tsrun-net-c-/m, "web's hosts file learnt of the client");
    // A hosts file that cannot be written fails the connect, which then releases what it made.
    const idBad = `tsrun-net-b-${process.pid}`;
    await t.throwsAsync(connectContainer({ id: idBad, imageRoot, networks: [{ name: 'tnet' }], hostsPath: path.join(dir, 'missing/hosts') }), {
      code: 'TSRUN_SYSCALL',
      message: /^write hosts file: open .*missing\/hosts: no such file or directory/,
    } as never);
    t.is(getAttachment(idBad, { imageRoot }), undefined);
    t.notRegex(fs.readFileSync(hostsWeb, 'utf8'), /tsrun-net-b-/, 'and the peers forgot it again');
    const cb = await bundleIn(
      t,
      client,
      ['sh', '-c', 'cat /etc/hosts; for n in web www; do wget -q -O - http://$n:8080/ || echo "fetch $n failed"; done'],
      hostsClient,
    );
    const r = await waitForValue(
      async () => {
        const x = await cb.tsrun(['run', cb.id]);
        return x.stdout.includes('failed') ? false : x;
      },
      { what: 'the client to fetch from web by name (httpd starting)' },
    );
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /^10\.123\.45\.2\tweb www tsrun-net-w-/m);
    t.regex(r.stdout, /^192\.0\.2\.7\textra\.example$/m, '--add-host');
    t.is(r.stdout.split(`page of ${idWeb}\n`).length - 1, 2, 'fetched by name and by alias');

    await t.throwsAsync(removeNetwork('tnet', { imageRoot }), {
      code: 'TSRUN_INVALID_STATE',
      message: /network tnet id [0-9a-f]{64} has active endpoints \(client, web\)/,
    } as never);
    await disconnectContainer(idClient, { imageRoot });
    t.notRegex(fs.readFileSync(hostsWeb, 'utf8'), /client/, "the client left web's hosts file");
    t.is((await wb.tsrun(['delete', '-f', wb.id])).code, 0);
    await disconnectContainer(idWeb, { imageRoot });
    await removeNetwork('tnet', { imageRoot });
    await t.throwsAsync(run('ip', ['link', 'show', 'dev', net.bridge]), undefined, 'the bridge is gone with the network');
    t.deepEqual([...leftovers(imageRoot, idWeb, '10.123.45.2'), ...leftovers(imageRoot, idClient, '10.123.45.3')], []);
  },
);

netTest.serial('a container removed without a disconnect (tsrun killed) is released by network prune, which then removes the unused network', async (t) => {
  const imageRoot = newImageRoot(t);
  await createNetwork('gone', { imageRoot });
  const owner = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-owner-'));
  t.teardown(() => fs.rmSync(owner, { recursive: true, force: true }));
  const id = `tsrun-net-k-${process.pid}`;
  // tsrun connects, then is SIGKILLed: its port proxy, past "ready", lives on without it.
  const code = `import { connectContainer, parsePublish } from ${JSON.stringify(path.resolve('src/net/network.ts'))};
await connectContainer({ id: ${JSON.stringify(id)}, imageRoot: ${JSON.stringify(imageRoot)}, owner: ${JSON.stringify(owner)}, networks: [{ name: 'gone' }, { name: 'bridge' }], ports: parsePublish('127.0.0.1:18081:80') });
process.kill(process.pid, 'SIGKILL');`;
  const child = await run(process.execPath, ['--import=tsx', '--input-type=module', '-e', code]).then(
    () => 'exited',
    (e: { signal?: string; stderr?: string }) => e.signal ?? e.stderr,
  );
  t.is(child, 'SIGKILL');
  const att = getAttachment(id, { imageRoot })!;
  const proxy = recordedProxy(imageRoot, id)!;
  t.true(proxyAlive(proxy), 'the proxy outlived the tsrun that started it');
  t.deepEqual(
    att.interfaces.map((i) => `${i.network}:${i.ifName}`),
    ['gone:eth0', 'bridge:eth1'],
  );
  t.deepEqual(await pruneNetworks({ imageRoot }), [], 'in use: nothing pruned');
  fs.rmSync(owner, { recursive: true }); // the container's state is gone, its network attachment is not
  const r = await runTsrun(['--image-root', imageRoot, 'network', 'prune', '-f']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'Deleted Networks:\ngone\n');
  t.deepEqual([...leftovers(imageRoot, id, att.ips[0]), ...leftovers(imageRoot, id, att.ips[1])], []);
  t.notRegex(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), /18081/);
  t.false(proxyAlive(proxy), 'network prune ended the proxy');
});

netTest.serial('a plugin failing half-way through connect is reported naming it, and everything made before it is released', async (t) => {
  const imageRoot = newImageRoot(t);
  const plugins = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-plugins-'));
  t.teardown(() => fs.rmSync(plugins, { recursive: true, force: true }));
  for (const p of ['bridge', 'host-local', 'portmap']) fs.symlinkSync(`/usr/lib/cni/${p}`, path.join(plugins, p));
  fs.writeFileSync(
    path.join(plugins, 'firewall'),
    `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = DEL ] && exit 0\necho '{"cniVersion":"1.0.0","code":999,"msg":"refused by the test"}'\nexit 1\n`,
    { mode: 0o755 },
  );
  const id = `tsrun-net-f-${process.pid}`;
  const err = await t.throwsAsync(connectContainer({ id, imageRoot, pluginDirs: [plugins], ports: parsePublish('127.0.0.1:18082:80') }), {
    instanceOf: CniPluginError,
  });
  t.is(err!.plugin, 'firewall');
  t.is(err!.message, 'network bridge: CNI plugin firewall ADD failed: refused by the test');
  t.deepEqual(leftovers(imageRoot, id, '10.66.0.2'), []);
  t.notRegex(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), /18082/);
});

netTest.serial('a port taken by another process while connect runs: the proxy cannot bind it, connect fails naming it and releases everything', async (t) => {
  const imageRoot = newImageRoot(t);
  const plugins = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-plugins-'));
  t.teardown(() => fs.rmSync(plugins, { recursive: true, force: true }));
  for (const p of ['bridge', 'host-local', 'portmap']) fs.symlinkSync(`/usr/lib/cni/${p}`, path.join(plugins, p));
  // After the bind probe of connect and before the proxy: the firewall ADD starts a server that
  // takes 127.0.0.1:18099 (its pid in held), then runs the real plugin.
  const held = path.join(plugins, 'held');
  const server = `require('net').createServer().listen(18099, '127.0.0.1', () => require('fs').writeFileSync('${held}', String(process.pid)))`;
  fs.writeFileSync(
    path.join(plugins, 'firewall'),
    `#!/bin/sh
if [ "$CNI_COMMAND" = ADD ]; then
  ${process.execPath} -e "${server}" </dev/null >/dev/null 2>&1 &
  until [ -s ${held} ]; do sleep 0.05; done
fi
exec /usr/lib/cni/firewall
`,
    { mode: 0o755 },
  );
  t.teardown(() => {
    if (fs.existsSync(held)) process.kill(Number(fs.readFileSync(held, 'utf8')), 'SIGKILL');
  });
  const id = `tsrun-net-t-${process.pid}`;
  await t.throwsAsync(connectContainer({ id, imageRoot, pluginDirs: [plugins], ports: [...parsePublish('18100:80'), ...parsePublish('127.0.0.1:18099:80')] }), {
    code: 'TSRUN_INVALID_ARGUMENT',
    message: 'Bind for 127.0.0.1:18099 failed: port is already allocated',
  } as never);
  t.true(fs.existsSync(held), 'the port was taken by the server');
  t.is(getAttachment(id, { imageRoot }), undefined);
  t.deepEqual(leftovers(imageRoot, id, '10.66.0.2'), [], 'no proxy, veth, lease, rule or record');
  t.notRegex(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), /18100/, "portmap's rule for the wildcard port went too");
});

netTest.serial('tsrun network create/ls/inspect/rm: Docker shapes and errors', async (t) => {
  const imageRoot = newImageRoot(t);
  const ts = (...a: string[]) => runTsrun(['--image-root', imageRoot, 'network', ...a]);
  const c = await ts('create', '--subnet', '10.124.0.0/24', '--gateway', '10.124.0.254', '--internal', '--label', 'a=b', 'n1');
  t.is(c.code, 0, c.stderr);
  t.regex(c.stdout, /^[0-9a-f]{64}\n$/);
  t.is((await ts('create', 'n1')).code, 1);
  t.regex((await ts('create', '--subnet', '10.124.0.0/25', 'n2')).stderr, /overlaps network n1/);
  const ls = await ts('ls');
  t.regex(ls.stdout, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\n/);
  t.regex(ls.stdout, /^[0-9a-f]{12}\s+n1\s+bridge\s+local$/m);
  t.regex(ls.stdout, /^[0-9a-f]{12}\s+bridge\s+bridge\s+local$/m);
  t.is((await ts('ls', '-q', '-f', 'label=a=b')).stdout, `${c.stdout.slice(0, 12)}\n`, 'ls --filter');
  t.regex((await ts('ls', '-f', 'type=builtin', '--format', 'json')).stdout, /^\{"ID":"[0-9a-f]{12}","Name":"bridge",.*\}\n$/);
  const [info] = JSON.parse((await ts('inspect', 'n1')).stdout) as Record<string, unknown>[];
  t.like(info, {
    Name: 'n1',
    Driver: 'bridge',
    Scope: 'local',
    Internal: true,
    Labels: { a: 'b' },
    IPAM: { Config: [{ Subnet: '10.124.0.0/24', Gateway: '10.124.0.254' }] },
  });
  t.is(info.Id, c.stdout.trim());
  const mode = (p: string) => fs.statSync(path.join(imageRoot, p)).mode & 0o777;
  t.is(mode('networks'), 0o700, 'the network store is private');
  t.is(mode('networks/n1.json'), 0o600);
  // An internal network: an address, but no default route and no masquerade.
  const id = `tsrun-net-i-${process.pid}`;
  const att = await connectContainer({ id, imageRoot, networks: [{ name: (info.Id as string).slice(0, 10) }] });
  t.is(mode('networks/attachments'), 0o700);
  t.is(mode(`networks/attachments/${id}.json`), 0o600);
  t.is(mode('networks/ipam'), 0o700);
  t.is(att.ips[0], '10.124.0.1', 'the first address, the gateway being .254');
  t.notRegex(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), /MASQUERADE.*id: "tsrun-net-i/);
  const routes = execFileSync('nsenter', [`--net=${att.netnsPath}`, 'ip', '-4', 'route'], { encoding: 'utf8' });
  t.notRegex(routes, /default/);
  const inUse = await ts('rm', 'n1');
  t.is(inUse.code, 1);
  t.regex(inUse.stderr, /has active endpoints/);
  // --ip: an address of the user's choosing on a user network, refused elsewhere.
  const fixed = await connectContainer({ id: `${id}-ip`, imageRoot, networks: [{ name: 'n1', ip: '10.124.0.77' }] });
  t.deepEqual(fixed.ips, ['10.124.0.77']);
  await t.throwsAsync(connectContainer({ id: `${id}-ip2`, imageRoot, networks: [{ name: 'n1', ip: '10.125.0.5' }] }), {
    message: '--ip 10.125.0.5: not an address of network n1 (10.124.0.0/24)',
  });
  await t.throwsAsync(connectContainer({ id: `${id}-ip3`, imageRoot, networks: [{ name: 'bridge', ip: '10.66.0.9' }] }), {
    message: /on user-defined networks only/,
  });
  await disconnectContainer(`${id}-ip`, { imageRoot });
  await disconnectContainer(id, { imageRoot });
  t.deepEqual([...leftovers(imageRoot, `${id}-ip`, '10.124.0.77'), ...leftovers(imageRoot, id, '10.124.0.1')], []);
  const rm = await ts('rm', 'n1', 'nope');
  t.is(rm.code, 1);
  t.is(rm.stdout, 'n1\n');
  t.regex(rm.stderr, /network nope not found/);
  t.regex((await ts('rm', 'bridge')).stderr, /bridge is a pre-defined network and cannot be removed/);
  const bridgeId = (await ts('ls', '-q', '-f', 'name=bridge')).stdout.trim();
  t.regex((await ts('rm', bridgeId)).stderr, /bridge is a pre-defined network and cannot be removed/, 'by ID too');
  t.is((await ts('rm', '-f', 'nope')).code, 0, 'rm -f of a missing network');
  t.is((await ts('create', '--label', 'keep', 'n3')).code, 0);
  t.is((await ts('create', 'n4')).code, 0);
  t.is((await ts('prune', '-f', '--filter', 'until=1h')).stdout, '', 'both are younger than an hour');
  t.is((await ts('prune', '-f', '--filter', 'label=keep')).stdout, 'Deleted Networks:\nn3\n');
  const prune = await ts('prune');
  t.is(
    prune.stdout,
    'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ',
    'no answer: nothing pruned',
  );
});

for (const killer of ['firewall', 'bridge']) {
  netTest.serial(`tsrun killed in the middle of a connect (in ${killer} ADD): what it recorded before each step lets disconnect release it all`, async (t) => {
    const imageRoot = newImageRoot(t);
    const plugins = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-plugins-'));
    t.teardown(() => fs.rmSync(plugins, { recursive: true, force: true }));
    for (const p of ['bridge', 'host-local', 'portmap', 'firewall']) if (p !== killer) fs.symlinkSync(`/usr/lib/cni/${p}`, path.join(plugins, p));
    // The plugin kills the process running connect (its parent), as a SIGKILL of tsrun would. In
    // firewall's ADD (the last), bridge and portmap have made their veth, lease, masquerade and DNAT
    // rules; in bridge's (the first), nothing but the record and the pinned namespace exists yet.
    fs.writeFileSync(path.join(plugins, killer), '#!/bin/sh\ncat >/dev/null\nkill -KILL $PPID\n', { mode: 0o755 });
    const id = `tsrun-net-x${killer[0]}-${process.pid}`;
    const code = `import { connectContainer, parsePublish } from ${JSON.stringify(path.resolve('src/net/network.ts'))};
await connectContainer({ id: ${JSON.stringify(id)}, imageRoot: ${JSON.stringify(imageRoot)}, pluginDirs: [${JSON.stringify(plugins)}], ports: parsePublish('18083:80') });`;
    const child = await run(process.execPath, ['--import=tsx', '--input-type=module', '-e', code]).then(
      () => 'exited',
      (e: { signal?: string }) => e.signal,
    );
    t.is(child, 'SIGKILL');
    const att = getAttachment(id, { imageRoot });
    t.truthy(att, 'the attachment was recorded');
    const ip = att!.ips[0] ?? '10.66.0.2';
    if (killer === 'firewall') {
      t.regex(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), /18083/, 'portmap had added its rule');
      t.true(leftovers(imageRoot, id, ip).length >= 4, 'veth, lease, rules and the pinned namespace were there');
    } else {
      t.deepEqual(att!.ips, [], 'no result was recorded');
      t.deepEqual(leftovers(imageRoot, id, ip), ['netns pin', 'netns mount', 'attachment record']);
    }
    await disconnectContainer(id, { imageRoot });
    t.deepEqual(leftovers(imageRoot, id, ip), []);
    t.notRegex(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), /18083/);
  });
}

netTest.serial('outbound NAT: a container on the default network reaches a server beyond the host, which sees the host address', async (t) => {
  const imageRoot = newImageRoot(t);
  // "The outside": a namespace of its own behind a veth from the test namespace, which routes to it
  // directly and has no route back to the container subnet (only masquerading makes replies come back).
  const outside = path.join(nsDir, 'outside');
  pinNetns(outside);
  t.teardown(() => unpinNetns(outside));
  await run('ip', ['link', 'add', 'tsrun-o0', 'type', 'veth', 'peer', 'name', 'tsrun-o1', 'netns', outside]);
  await run('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'tsrun-o0']);
  await run('ip', ['link', 'set', 'tsrun-o0', 'up']);
  await run('nsenter', [`--net=${outside}`, 'ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'tsrun-o1']);
  await run('nsenter', [`--net=${outside}`, 'ip', 'link', 'set', 'tsrun-o1', 'up']);
  // The server's socket is made while the main thread is in `outside` (listen without a host binds
  // synchronously), then the thread goes back.
  const server = http.createServer((req, res) => res.end(`seen from ${req.socket.remoteAddress?.replace(/^::ffff:/, '')}\n`));
  const back = enterNetns(outside);
  try {
    server.listen(0);
  } finally {
    back();
  }
  t.teardown(() => server.close());
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const port = (server.address() as import('node:net').AddressInfo).port;

  const id = `tsrun-net-o-${process.pid}`;
  const att = await connectContainer({ id, imageRoot });
  const b = await bundleIn(t, att, ['wget', '-q', '-O', '-', `http://192.0.2.2:${port}/`]);
  const r = await b.tsrun(['run', b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'seen from 192.0.2.1\n', 'masqueraded to the host side address');
  await disconnectContainer(id, { imageRoot });
  t.deepEqual(leftovers(imageRoot, id, att.ips[0]), []);
});
