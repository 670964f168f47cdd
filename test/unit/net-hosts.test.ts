// Subnet arithmetic (src/net/ipv4.ts), hosts files and --add-host (src/net/hosts.ts, hostsFor).
import test from 'ava';
import { hostsFor } from '../../src/net/network.js';
import { parseAddHost, renderHosts } from '../../src/net/hosts.js';
import { formatSubnet, nextFreeSubnet, parseIPv4, parseSubnet, routesFromProcNetRoute, checkGateway, formatIPv4 } from '../../src/net/ipv4.js';
import type { AttachmentRecord } from '../../src/net/store.js';

test('subnets: parsed, host bits refused, too small refused; gateways checked', (t) => {
  t.deepEqual(parseSubnet('10.66.0.0/16'), { base: parseIPv4('10.66.0.0')!, prefix: 16 });
  t.throws(() => parseSubnet('10.66.0.1/16'), { message: '--subnet 10.66.0.1/16: host bits are set; it should be 10.66.0.0/16' });
  t.throws(() => parseSubnet('10.66.0.0/31'), { message: /no room/ });
  t.throws(() => parseSubnet('10.66.0/16'), { message: /not an IPv4 subnet/ });
  t.throws(() => parseSubnet('010.1.0.0/16'), { message: /not an IPv4 subnet/ });
  t.is(parseIPv4('256.0.0.1'), undefined);
  const n = parseSubnet('192.168.5.0/24');
  t.is(formatIPv4(checkGateway(n, '192.168.5.254')), '192.168.5.254');
  t.throws(() => checkGateway(n, '192.168.6.1'), { message: '--gateway 192.168.6.1: not in subnet 192.168.5.0/24' });
  t.throws(() => checkGateway(n, '192.168.5.255'), { message: /broadcast/ });
});

test('nextFreeSubnet skips every overlapping subnet and says when the pool is full', (t) => {
  const pool = parseSubnet('10.68.0.0/22');
  t.is(formatSubnet(nextFreeSubnet(pool, [])!), '10.68.0.0/24');
  t.is(formatSubnet(nextFreeSubnet(pool, [parseSubnet('10.68.0.0/24'), parseSubnet('10.68.1.128/25')])!), '10.68.2.0/24');
  t.is(formatSubnet(nextFreeSubnet(pool, [parseSubnet('10.68.0.0/23')])!), '10.68.2.0/24');
  t.is(nextFreeSubnet(pool, [parseSubnet('10.0.0.0/8')]), undefined);
  t.is(formatSubnet(nextFreeSubnet(parseSubnet('10.66.0.0/15'), [parseSubnet('10.66.3.0/24')], 16)!), '10.67.0.0/16');
});

test('/proc/net/route destinations (little-endian hex), without the default route', (t) => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  t.deepEqual(routesFromProcNetRoute(text).map(formatSubnet), ['192.168.2.0/24', '172.17.0.0/16']);
});

test('--add-host: NAME:IP, NAME=IP, bracketed IPv6, host-gateway; bad ones refused', (t) => {
  t.deepEqual(parseAddHost('db:10.1.2.3'), { ip: '10.1.2.3', names: ['db'] });
  t.deepEqual(parseAddHost('db=10.1.2.3'), { ip: '10.1.2.3', names: ['db'] });
  t.deepEqual(parseAddHost('v6:[fd00::1]'), { ip: 'fd00::1', names: ['v6'] });
  t.deepEqual(parseAddHost('v6:fd00::1'), { ip: 'fd00::1', names: ['v6'] });
  t.deepEqual(parseAddHost('host.docker.internal:host-gateway'), { ip: 'host-gateway', names: ['host.docker.internal'] });
  for (const bad of ['db', 'db:', ':1.2.3.4', 'db:1.2.3', 'd b:1.2.3.4', 'db:nope'])
    t.throws(() => parseAddHost(bad), { code: 'TSRUN_INVALID_ARGUMENT' } as never, bad);
});

test('renderHosts: Docker head, extras, self, peers sorted; a name on the first line that claims it', (t) => {
  const text = renderHosts({
    self: [{ ip: '10.68.0.2', names: ['h1', 'web'] }],
    extra: [{ ip: '1.2.3.4', names: ['db'] }],
    peers: [
      { ip: '10.68.0.4', names: ['zed'] },
      { ip: '10.68.0.3', names: ['api', 'db', 'web'] },
    ],
  });
  t.is(
    text,
    [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      '1.2.3.4\tdb',
      '10.68.0.2\th1 web',
      '10.68.0.3\tapi',
      '10.68.0.4\tzed',
      '',
    ].join('\n'),
  );
});

function att(id: string, name: string, nets: [string, string, string[]][], extra: AttachmentRecord['extraHosts'] = []): AttachmentRecord {
  return {
    id,
    name,
    hostname: id.slice(0, 12),
    netnsPath: `/x/${id}`,
    pinned: true,
    extraHosts: extra,
    created: '',
    networks: nets.map(([net, ip, aliases], i) => ({
      name: net,
      networkId: net,
      ifName: `eth${i}`,
      aliases,
      ports: [],
      result: { cniVersion: '1.0.0', ips: [{ address: `${ip}/24`, gateway: ip.replace(/\d+$/, '1') }] },
    })),
  };
}

test('hostsFor: peers on shared user networks by name, alias and short id; none from the default bridge', (t) => {
  const a = att('aaaaaaaaaaaaaaaa', 'web', [['u1', '10.68.0.2', ['www']]], [{ ip: 'host-gateway', names: ['gw'] }]);
  const b = att('bbbbbbbbbbbbbbbb', 'client', [
    ['u1', '10.68.0.3', []],
    ['u2', '10.68.1.3', ['c2']],
  ]);
  const c = att('cccccccccccccccc', 'other', [['u2', '10.68.1.4', []]]);
  const d = att('dddddddddddddddd', 'onbridge', [['bridge', '10.66.0.5', []]]);
  const e = att('eeeeeeeeeeeeeeee', 'alsobridge', [['bridge', '10.66.0.6', []]]);
  const all = [a, b, c, d, e];
  const ha = hostsFor(a, all);
  t.regex(ha, /^10\.68\.0\.1\tgw$/m, 'host-gateway is the network gateway');
  t.regex(ha, /^10\.68\.0\.2\taaaaaaaaaaaa web www$/m);
  t.regex(ha, /^10\.68\.0\.3\tclient bbbbbbbbbbbb$/m);
  t.notRegex(ha, /other|c2|onbridge/, 'u2 and bridge peers are not a peer of a');
  const hb = hostsFor(b, all);
  t.regex(hb, /^10\.68\.0\.2\tweb www aaaaaaaaaaaa$/m);
  t.regex(hb, /^10\.68\.1\.4\tother cccccccccccc$/m);
  t.regex(hb, /^10\.68\.0\.3\tbbbbbbbbbbbb client$/m);
  t.regex(hb, /^10\.68\.1\.3\tc2$/m, 'its own alias on its second network');
  const hd = hostsFor(d, all);
  t.regex(hd, /^10\.66\.0\.5\tdddddddddddd$/m, 'its own hostname only');
  t.notRegex(hd, /alsobridge|eeeeeeeeeeee/, 'the default bridge resolves no peers, as in Docker');
});
