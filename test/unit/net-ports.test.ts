// -p/-P grammar and host port assignment (src/net/ports.ts), and --network modes.
import test from 'ava';
import fc from 'fast-check';
import { assignHostPorts, formatPorts, parsePublish, publishAll } from '../../src/net/ports.js';
import { parseNetworkMode } from '../../src/net/network.js';

const m = (hostIp: string, hostPort: number, containerPort: number, protocol = 'tcp', hostPortEnd?: number) => ({
  hostIp,
  hostPort,
  ...(hostPortEnd !== undefined ? { hostPortEnd } : {}),
  containerPort,
  protocol,
});

test('-p forms: containerPort, host:container, ip:host:container, ip::container, protocols', (t) => {
  t.deepEqual(parsePublish('80'), [m('', 0, 80)]);
  t.deepEqual(parsePublish('8080:80'), [m('', 8080, 80)]);
  t.deepEqual(parsePublish('127.0.0.1:18080:8080'), [m('127.0.0.1', 18080, 8080)]);
  t.deepEqual(parsePublish('127.0.0.1::8080'), [m('127.0.0.1', 0, 8080)]);
  t.deepEqual(parsePublish('53:53/udp'), [m('', 53, 53, 'udp')]);
  t.deepEqual(parsePublish('53/UDP'), [m('', 0, 53, 'udp')]);
  t.deepEqual(parsePublish('9/sctp'), [m('', 0, 9, 'sctp')]);
  t.deepEqual(parsePublish('[::1]:8080:80'), [m('::1', 8080, 80)]);
  t.deepEqual(parsePublish('[::1]::80/udp'), [m('::1', 0, 80, 'udp')]);
});

test('-p ranges: equal lengths map one to one, a host range for one port picks from it, a bare range is ephemeral', (t) => {
  t.deepEqual(parsePublish('8000-8002:80-82'), [m('', 8000, 80), m('', 8001, 81), m('', 8002, 82)]);
  t.deepEqual(parsePublish('8000-8009:80'), [m('', 8000, 80, 'tcp', 8009)]);
  t.deepEqual(parsePublish('80-81/udp'), [m('', 0, 80, 'udp'), m('', 0, 81, 'udp')]);
  t.deepEqual(parsePublish('10.0.0.1:7000-7001:7000-7001'), [m('10.0.0.1', 7000, 7000), m('10.0.0.1', 7001, 7001)]);
});

test('-p refuses bad specs, naming what is wrong', (t) => {
  const bad: [string, RegExp][] = [
    ['', /no port specified/],
    ['8080:', /no port specified/],
    ['0', /invalid containerPort port "0"/],
    ['65536', /invalid containerPort/],
    ['80:70000', /invalid containerPort/],
    ['70000:80', /invalid hostPort/],
    ['abc', /invalid containerPort port "abc"/],
    ['80/icmp', /invalid proto "icmp"/],
    ['8000-8002:80-81', /invalid ranges/],
    ['90-80', /invalid containerPort/],
    ['1.2.3:80:80', /invalid IP address "1.2.3"/],
    ['300.1.1.1:80:80', /invalid IP address/],
    ['a:b:c:d', /invalid port format/],
    ['[::1:80:80', /invalid IP address/],
  ];
  for (const [spec, re] of bad) {
    const err = t.throws(() => parsePublish(spec), undefined, spec);
    t.regex(err!.message, re, spec);
    t.is((err as { code?: string }).code, 'TSRUN_INVALID_ARGUMENT', spec);
  }
});

test('-P publishes every EXPOSEd port on an ephemeral host port', (t) => {
  // (a key that is a plain number comes first in an object's key order)
  t.deepEqual(publishAll({ '80/tcp': {}, '53/udp': {}, '8080': {} }), [m('', 0, 8080), m('', 0, 80), m('', 0, 53, 'udp')]);
  t.deepEqual(publishAll(['7000-7001/tcp']), [m('', 0, 7000), m('', 0, 7001)]);
  t.deepEqual(publishAll(undefined), []);
});

test('assignHostPorts: explicit ports clash with taken ones on the same protocol and address', (t) => {
  const taken = [{ hostIp: '', hostPort: 8080, protocol: 'tcp' }];
  t.throws(() => assignHostPorts(parsePublish('8080:80'), { taken }), { message: 'Bind for 0.0.0.0:8080 failed: port is already allocated' });
  t.throws(() => assignHostPorts(parsePublish('127.0.0.1:8080:80'), { taken }), { message: /127\.0\.0\.1:8080 failed/ }, 'all addresses cover 127.0.0.1');
  t.deepEqual(assignHostPorts(parsePublish('8080:80/udp'), { taken }), [m('', 8080, 80, 'udp')]);
  const onLo = [{ hostIp: '127.0.0.1', hostPort: 9000, protocol: 'tcp' }];
  t.deepEqual(assignHostPorts(parsePublish('127.0.0.2:9000:80'), { taken: onLo }), [m('127.0.0.2', 9000, 80)]);
  t.throws(() => assignHostPorts(parsePublish('9000:80'), { taken: onLo }), { message: /port is already allocated/ });
  t.throws(() => assignHostPorts(parsePublish('9001:80'), { taken: [], free: () => false }), { message: /9001 failed/ }, 'the host probe refuses it');
});

test('assignHostPorts: ephemeral and range ports take the first free one, never twice in one call', (t) => {
  const taken = [{ hostIp: '', hostPort: 40000, protocol: 'tcp' }];
  const got = assignHostPorts([...parsePublish('80'), ...parsePublish('81'), ...parsePublish('8000-8002:82')], {
    taken,
    range: [40000, 40010],
    free: (x) => x.hostPort !== 40001,
  });
  t.deepEqual(got, [m('', 40002, 80), m('', 40003, 81), m('', 8000, 82)]);
  t.throws(() => assignHostPorts(parsePublish('80-82'), { taken: [], range: [50000, 50001] }), { message: 'no free host port in 50000-50001 for 82/tcp' });
});

test('assignHostPorts never hands out a taken port or one port twice (property)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 30000, max: 30020 }), { maxLength: 10 }), fc.integer({ min: 1, max: 8 }), (takenPorts, n) => {
      const taken = takenPorts.map((p) => ({ hostIp: '', hostPort: p, protocol: 'tcp' }));
      let got;
      try {
        got = assignHostPorts(
          Array.from({ length: n }, (_, i) => m('', 0, 80 + i) as never),
          { taken, range: [30000, 30020] },
        );
      } catch {
        return new Set(takenPorts).size + n > 21;
      }
      const ports = got.map((g) => g.hostPort);
      return new Set(ports).size === n && ports.every((p) => !takenPorts.includes(p) && p >= 30000 && p <= 30020);
    }),
  );
  t.pass();
});

test('formatPorts is the PORTS column', (t) => {
  t.is(
    formatPorts([m('127.0.0.1', 8080, 80), m('', 32768, 53, 'udp'), m('::1', 9, 9)] as never),
    '127.0.0.1:8080->80/tcp, 0.0.0.0:32768->53/udp, [::1]:9->9/tcp',
  );
});

test('--network modes: none, host, container:ID, names (repeatable, default bridge)', (t) => {
  t.deepEqual(parseNetworkMode([]), { kind: 'networks', names: ['bridge'] });
  t.deepEqual(parseNetworkMode(['default']), { kind: 'networks', names: ['bridge'] });
  t.deepEqual(parseNetworkMode(['none']), { kind: 'none' });
  t.deepEqual(parseNetworkMode(['host']), { kind: 'host' });
  t.deepEqual(parseNetworkMode(['container:web']), { kind: 'container', id: 'web' });
  t.deepEqual(parseNetworkMode(['a', 'b', 'a']), { kind: 'networks', names: ['a', 'b'] });
  t.throws(() => parseNetworkMode(['host', 'a']), { message: /--network host cannot be combined/ });
  t.throws(() => parseNetworkMode(['container:']), { message: /needs a container/ });
});
