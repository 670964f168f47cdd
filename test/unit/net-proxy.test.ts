// The published-port split between portmap and tsrun-proxy (src/net/proxy.ts), and the proxy's
// argv and report: pure functions, plus the binary's argv checks (no socket is bound).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import test from 'ava';
import { networkConfList } from '../../src/net/network.js';
import { parsePublish, assignHostPorts } from '../../src/net/ports.js';
import {
  isLoopback,
  portmapConditions,
  portmapMappings,
  parseProcStat,
  procStat,
  proxyAlive,
  proxyArgs,
  proxyListeners,
  proxyPath,
  proxyReportError,
} from '../../src/net/proxy.js';
import { NetworkStore, type NetworkRecord } from '../../src/net/store.js';

const ports = assignHostPorts(
  [...parsePublish('127.0.0.1:18080:8080'), ...parsePublish('127.0.0.2::53/udp'), ...parsePublish('8081:81'), ...parsePublish('9')],
  {
    taken: [],
    range: [40000, 40010],
  },
);

test('loopback is 127.0.0.0/8', (t) => {
  t.true(isLoopback('127.0.0.1'));
  t.true(isLoopback('127.255.3.4'));
  t.false(isLoopback(''));
  t.false(isLoopback('0.0.0.0'));
  t.false(isLoopback('10.127.0.1'));
  t.false(isLoopback('128.0.0.1'));
});

test('the proxy listens on every TCP/UDP publish (0.0.0.0 for a wildcard) with the ports chosen once; portmap gets all but the 127.x ones', (t) => {
  t.deepEqual(
    ports.map((p) => `${p.hostIp}:${p.hostPort}`),
    ['127.0.0.1:18080', '127.0.0.2:40000', ':8081', ':40000'],
  );
  // Another protocol: the same ephemeral port is free for it.
  t.deepEqual(proxyListeners(ports, '10.66.0.2'), [
    { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 18080, containerIp: '10.66.0.2', containerPort: 8080 },
    { protocol: 'udp', hostIp: '127.0.0.2', hostPort: 40000, containerIp: '10.66.0.2', containerPort: 53 },
    { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8081, containerIp: '10.66.0.2', containerPort: 81 },
    { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 40000, containerIp: '10.66.0.2', containerPort: 9 },
  ]);
  t.deepEqual(portmapMappings(ports), [ports[2], ports[3]]);
  const sctp = assignHostPorts(parsePublish('9000:9000/sctp'), { taken: [] });
  t.deepEqual(proxyListeners(sctp, '10.66.0.2'), [], 'SCTP is portmap only');
  t.deepEqual(portmapMappings(sctp), sctp);
});

test("portmap runs with snat false (snat true sets route_localnet on the bridge) and excludes loopback destinations and the bridge's own traffic", (t) => {
  const rec: NetworkRecord = {
    name: 'web',
    id: 'a'.repeat(64),
    driver: 'bridge',
    created: '',
    subnet: '10.68.0.0/24',
    gateway: '10.68.0.1',
    internal: false,
    bridge: 'br-aaaaaaaaaaaa',
    labels: {},
  };
  const pm = networkConfList(rec, new NetworkStore('/nonexistent')).plugins.find((p) => p.type === 'portmap');
  t.is(pm?.snat, false);
  t.deepEqual(pm?.conditionsV4, ['!', '-d', '127.0.0.0/8', '!', '-i', 'br-aaaaaaaaaaaa']);
  t.deepEqual(portmapConditions('tsrun0'), ['!', '-d', '127.0.0.0/8', '!', '-i', 'tsrun0']);
});

test('proxyArgs: the sync fd, the parent, the UDP timeout, one --listen of five words per listener', (t) => {
  t.deepEqual(proxyArgs(proxyListeners(ports.slice(0, 2), '10.66.0.2'), { syncFd: 3, parent: 42, udpTimeout: 5 }), [
    '--sync-fd',
    '3',
    '--parent',
    '42',
    '--udp-timeout',
    '5',
    '--listen',
    'tcp',
    '127.0.0.1',
    '18080',
    '10.66.0.2',
    '8080',
    '--listen',
    'udp',
    '127.0.0.2',
    '40000',
    '10.66.0.2',
    '53',
  ]);
});

test("the proxy's report: ready, Docker's message for EADDRINUSE, the reason otherwise, and silence", (t) => {
  t.is(proxyReportError('ready\n'), undefined);
  t.like(proxyReportError('error tcp 127.0.0.1 18080 EADDRINUSE\ntsrun-proxy: bind tcp 127.0.0.1:18080: Address already in use\n'), {
    code: 'TSRUN_INVALID_ARGUMENT',
    message: 'Bind for 127.0.0.1:18080 failed: port is already allocated',
  });
  t.like(proxyReportError('error udp 192.0.2.1 53 EADDRNOTAVAIL\ntsrun-proxy: bind udp 192.0.2.1:53: Cannot assign requested address\n'), {
    code: 'TSRUN_NETWORK',
    message: 'Bind for 192.0.2.1:53/udp failed: bind udp 192.0.2.1:53: Cannot assign requested address',
  });
  t.like(proxyReportError('error - - - EINVAL\ntsrun-proxy: no --listen\n'), { message: 'tsrun-proxy: no --listen' });
  t.regex(proxyReportError('')!.message, /ended without reporting ready$/);
});

test('procStat reads the state and start time past a command name with spaces and parentheses; proxyAlive compares the start time', (t) => {
  const stat = '4242 (a) b (c ) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n';
  t.deepEqual(parseProcStat(stat), { state: 'S', startTime: '987654' });
  const own = procStat(process.pid)!;
  t.regex(own.startTime, /^\d+$/);
  t.true(proxyAlive({ pid: process.pid, startTime: own.startTime }));
  t.false(proxyAlive({ pid: process.pid, startTime: String(Number(own.startTime) + 1) }), 'a reused pid is not the proxy');
  t.false(proxyAlive({ pid: 2 ** 22 + 1, startTime: own.startTime }), 'no such process');
});

const binTest = fs.existsSync(proxyPath()) ? test : test.skip;

function runProxy(args: string[]): { status: number | null; report: string } {
  // The report goes to fd 3: here the child's stdout, dup'ed by sh.
  const r = spawnSync('sh', ['-c', 'exec "$@" 3>&1', 'sh', proxyPath(), ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, report: r.stdout };
}

binTest('tsrun-proxy refuses a bad argv on its sync fd before binding anything, and exits when PID is not its parent', (t) => {
  const bad = runProxy(['--sync-fd', '3', '--parent', '1', '--listen', 'tcp', '127.0.0.1', '0', '10.0.0.2', '80']);
  t.is(bad.status, 1, 'not its parent: exits at once');
  t.is(bad.report, '');
  // `sh -c 'exec …'`: the proxy's parent is this process.
  const args = (listen: string[]) => ['--sync-fd', '3', '--parent', String(process.pid), ...listen];
  t.deepEqual(runProxy(args(['--listen', 'tcp', '127.0.0.1', '0', '10.0.0.2', '80'])), {
    status: 2,
    report: 'error - - - EINVAL\ntsrun-proxy: --listen: bad host address or port\n',
  });
  t.deepEqual(runProxy(args(['--listen', 'sctp', '127.0.0.1', '80', '10.0.0.2', '80'])), {
    status: 2,
    report: 'error - - - EINVAL\ntsrun-proxy: --listen: PROTO is tcp or udp\n',
  });
  t.deepEqual(
    runProxy(args(['--listen', 'tcp', '127.0.0.1', '80', '10.0.0.x', '80'])).report,
    'error - - - EINVAL\ntsrun-proxy: --listen: bad container address or port\n',
  );
  t.deepEqual(runProxy(args([])).report, 'error - - - EINVAL\ntsrun-proxy: no --listen\n');
});
