// The container's resolv.conf on a tsrun network (src/net/resolv.ts).
import test from 'ava';
import { containerResolvConf } from '../../src/net/resolv.js';

test('loopback and IPv6 nameservers are dropped; search and options kept', (t) => {
  const host =
    '# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2 # office\nnameserver ::1\nnameserver fd00::1\nsearch a.example b.example\noptions edns0 trust-ad\n';
  t.is(containerResolvConf(host), 'nameserver 10.0.0.2\nsearch a.example b.example\noptions edns0 trust-ad\n');
});

test("no reachable nameserver left: Docker's public fallback", (t) => {
  t.is(containerResolvConf('nameserver 127.0.0.53\noptions edns0\n'), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n');
  t.is(containerResolvConf(''), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
});

test('--dns, --dns-search and --dns-option replace their lines; search . clears the list; the last search or domain line wins', (t) => {
  const host = 'nameserver 10.0.0.2\ndomain old.example\nsearch corp.example\noptions ndots:2\n';
  t.is(containerResolvConf(host, { dns: ['1.1.1.1'] }), 'nameserver 1.1.1.1\nsearch corp.example\noptions ndots:2\n');
  t.is(containerResolvConf(host, { dnsSearch: ['x.example'], dnsOptions: ['timeout:1'] }), 'nameserver 10.0.0.2\nsearch x.example\noptions timeout:1\n');
  t.is(containerResolvConf(host, { dnsSearch: ['.'] }), 'nameserver 10.0.0.2\noptions ndots:2\n');
  t.is(containerResolvConf('nameserver 10.0.0.2\nsearch a.example\ndomain b.example\n'), 'nameserver 10.0.0.2\nsearch b.example\n');
});
