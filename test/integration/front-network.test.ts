// The issue's HTTP acceptance through the container front (issue 17): `container run -d --name
// web -p 127.0.0.1:18080:8080 <shipped image> httpd -f -p 8080`, an HTTP GET from the "host" gets
// the page, and a second container on the same user network fetches http://web:8080/. Published
// ports follow Docker's model (src/net/proxy.ts): the host's loopback connections go through
// tsrun-proxy, never through a DNAT that needs route_localnet (CVE-2020-8558), which stays 0.
// It all runs in a network namespace of the test's own (unshare --net), so the host's interfaces,
// routes, sysctls and firewall are never touched; the namespace, with its bridge, goes when the
// script ends.
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { runCommand, TSRUN_BIN } from '../helpers/bundle.js';
import { file, needs, root, tool } from '../helpers/skip.js';
import { TIME_SCALE } from '../helpers/wait.js';
import { containerDirs, frontEnv, monitorsUnder, SHIPPED, type FrontEnv } from './front-fixtures.js';

/** GET of process.argv[1] for `node -e`: the body, or exit 1. */
const GET_PAGE = [
  "require('http').get(process.argv[1], { timeout: 2000 }, (r) => {",
  "let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => (r.statusCode === 200 ? process.stdout.write(b) : process.exit(1)));",
  "}).on('error', () => process.exit(1)).on('timeout', () => process.exit(1));",
].join(' ');

const netTest = needs(
  root('network namespaces, CNI plugins'),
  tool('unshare', 'util-linux'),
  tool('ip', 'iproute2'),
  tool('iptables', 'iptables'),
  file('/usr/lib/cni/bridge', 'needs the CNI plugins in /usr/lib/cni (Debian package containernetworking-plugins)'),
);

/** The shell helpers of the scripts below: get URL (retried), and what the namespace holds. */
function prelude(env: FrontEnv): string {
  return `set -eu
ip link set lo up
NS=$(readlink /proc/self/ns/net)
tsrun() { ${TSRUN_BIN} --root ${env.root} --image-root ${env.imageRoot} "$@"; }
# Node's http, not wget or curl: the VM's guest has neither.
get() {
  i=0
  until ${process.execPath} -e "${GET_PAGE}" "$1"; do
    i=$((i+1)); [ $i -lt ${50 * TIME_SCALE} ] || { echo "no answer on $1" >&2; return 1; }
    sleep 0.1
  done
}
# tsrun-proxy processes in this namespace.
proxies() {
  for p in /proc/[0-9]*; do
    [ "$(readlink $p/ns/net 2>/dev/null)" = "$NS" ] && [ "$(cat $p/comm 2>/dev/null)" = tsrun-proxy ] && echo "\${p#/proc/}"
  done
  true
}
# What the namespace and the store hold: proxies, veths, leases, records, per-container rules.
held() {
  echo "proxies=$(proxies | wc -l) veths=$(ip -o link show type veth | wc -l) leases=$(ls ${env.imageRoot}/networks/ipam/*/ 2>/dev/null | grep -c '^[0-9]' || true) records=$(ls ${env.imageRoot}/networks/attachments | wc -l) rules=$(iptables-save | grep -cE 'dnat name|CNI-DN-|-d 10\\.[0-9.]+/32' || true)"
}
# A field of \`container inspect\`: inspect NAME State.Status
inspect() { tsrun container inspect "$1" | ${process.execPath} -e "let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => console.log(JSON.parse(s)[0].$2))"; }
localnet() { echo "route_localnet all=$(cat /proc/sys/net/ipv4/conf/all/route_localnet) $1=$(cat /proc/sys/net/ipv4/conf/$1/route_localnet)"; }
`;
}

async function runScript(t: ExecutionContext, env: FrontEnv, name: string, body: string) {
  const script = path.join(env.dir, name);
  fs.writeFileSync(script, prelude(env) + body);
  const r = await runCommand('unshare', ['--net', 'sh', script]);
  t.is(r.code, 0, r.stderr);
  return r.stdout.split('\n');
}

function after(t: ExecutionContext, env: FrontEnv) {
  t.deepEqual(containerDirs(env), [], 'removed');
  t.deepEqual(monitorsUnder(env.dir), []);
  t.deepEqual(fs.readdirSync(path.join(env.imageRoot, 'networks', 'attachments')), [], 'no attachment (veth, lease, rules, proxy) left');
}

netTest.serial(
  'container run -d -p 127.0.0.1:18080:8080 httpd: the page from the host with route_localnet 0, from a second container by name; a wildcard publish on 127.0.0.1, the bridge address and by hairpin; rm leaves nothing',
  async (t) => {
    const env = await frontEnv(t);
    const lines = await runScript(
      t,
      env,
      'net.sh',
      `cleanup() {
  tsrun container rm -f -v web wild >/dev/null 2>&1 || true
  tsrun network rm appnet >/dev/null 2>&1 || true
}
trap cleanup EXIT
tsrun network create appnet >/dev/null
tsrun container run -d --name web --network appnet -p 127.0.0.1:18080:8080 ${SHIPPED} httpd -f -p 8080 >/dev/null
echo "host: $(get http://127.0.0.1:18080/etc/hostname)"
BR=$(ip -o link show type bridge | cut -d: -f2 | tr -d ' ' | grep '^br-')
localnet "$BR"
# The shipped busybox is static: its wget and nc crash in glibc's static resolver (and wget even on
# an address, there), so the peer resolves "web" with ping (through the hosts file tsrun keeps)
# and speaks HTTP with nc to that address.
echo "peer: $(tsrun container run --rm --network appnet ${SHIPPED} sh -c 'ip=$(ping -c1 -W1 web | head -n1 | cut -d"(" -f2 | cut -d")" -f1); printf "GET /etc/hostname HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$ip" 8080 | tail -n1')"
tsrun container ls --format json
# A wildcard publish: on 127.0.0.1 (the proxy), on the bridge's host address (portmap's DNAT), and
# from a container through the host's address (hairpin, the proxy again).
tsrun container run -d --name wild --network appnet -p 18090:8080 ${SHIPPED} httpd -f -p 8080 >/dev/null
GW=$(ip -4 -o addr show dev "$BR" | awk '{print $4}' | cut -d/ -f1)
echo "wild lo: $(get http://127.0.0.1:18090/etc/hostname)"
echo "wild gw: $(get http://$GW:18090/etc/hostname)"
echo "hairpin: $(tsrun container run --rm --network appnet ${SHIPPED} sh -c "printf 'GET /etc/hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $GW 18090 | tail -n1")"
echo "wild id: $(inspect wild Id | cut -c1-12)"
localnet "$BR"
held
tsrun container rm -f web wild >/dev/null
held
echo "port free: $(${process.execPath} -e "require('net').createServer().listen(18080, '127.0.0.1', function () { this.close(); console.log('yes'); }).on('error', () => console.log('no'))")"
`,
    );
    const host = /^host: ([0-9a-f]{12})$/.exec(lines[0] ?? '');
    t.truthy(host, `the host got the page: ${lines.join('\n')}`);
    t.regex(lines[1], /^route_localnet all=0 br-[0-9a-f]{12}=0$/, 'nothing set route_localnet');
    t.is(lines[2], `peer: ${host?.[1]}`, 'the second container reached web by name');
    const ps = JSON.parse(lines[3]) as { Names: string; Ports: string };
    t.is(ps.Names, 'web');
    t.is(ps.Ports, '127.0.0.1:18080->8080/tcp', 'ps shows the published port');
    const wild = /^wild id: ([0-9a-f]{12})$/.exec(lines[7] ?? '')?.[1];
    t.truthy(wild, lines[7]);
    t.is(lines[4], `wild lo: ${wild}`, 'a wildcard publish answers on 127.0.0.1');
    t.is(lines[5], `wild gw: ${wild}`, "and on the bridge's host address");
    t.is(lines[6], `hairpin: ${wild}`, 'and to a container through the host address');
    t.regex(lines[8], /^route_localnet all=0 br-[0-9a-f]{12}=0$/);
    t.regex(lines[9], /^proxies=2 veths=2 leases=2 records=2 rules=[1-9]\d*$/, 'one proxy per container with published ports');
    t.is(lines[10], 'proxies=0 veths=0 leases=0 records=0 rules=0', 'rm left no proxy, veth, lease, record or rule');
    t.is(lines[11], 'port free: yes', 'the host port is free again');
    after(t, env);
  },
);

netTest.serial(
  'a loopback port already allocated (by a container or another process) fails run with the address and leaves nothing; a SIGKILLed container plus prune leaves no proxy',
  async (t) => {
    const env = await frontEnv(t);
    const lines = await runScript(
      t,
      env,
      'taken.sh',
      `cleanup() {
  [ -z "\${HOLDER:-}" ] || kill $HOLDER 2>/dev/null || true
  tsrun container rm -f -v web web2 web3 >/dev/null 2>&1 || true
}
trap cleanup EXIT
tsrun container run -d --name web -p 127.0.0.1:18080:8080 ${SHIPPED} httpd -f -p 8080 >/dev/null
get http://127.0.0.1:18080/etc/hostname >/dev/null
held
set +e
tsrun container run -d --name web2 -p 127.0.0.1:18080:8080 ${SHIPPED} httpd -f -p 8080 2>/tmp/err.$$ >/dev/null
echo "web2: $? $(cat /tmp/err.$$)"
${process.execPath} -e "require('net').createServer().listen(18085, '127.0.0.1'); setTimeout(() => {}, 600000)" &
HOLDER=$!
until grep -q ':${(18085).toString(16).toUpperCase()} ' /proc/net/tcp; do sleep 0.05; done
tsrun container run -d --name web3 -p 127.0.0.1:18085:8080 ${SHIPPED} httpd -f -p 8080 2>/tmp/err.$$ >/dev/null
echo "web3: $? $(cat /tmp/err.$$)"
rm -f /tmp/err.$$
set -e
kill $HOLDER; HOLDER=
echo "names: $(tsrun container ls -a --format json | grep -o '"Names":"[^"]*"' | tr '\\n' ' ')"
held
PROXY=$(proxies)
tsrun container kill -s KILL web >/dev/null
i=0; until [ "$(inspect web State.Status)" = exited ]; do i=$((i+1)); [ $i -lt ${100 * TIME_SCALE} ]; sleep 0.1; done
echo "after kill: proxy alive=$([ -d /proc/$PROXY ] && echo yes || echo no)"
tsrun container prune -f >/dev/null
echo "after prune: proxy alive=$([ -d /proc/$PROXY ] && grep -q '^State:.*[^Z] (' /proc/$PROXY/status 2>/dev/null && echo yes || echo no)"
held
`,
    );
    t.regex(lines[0], /^proxies=1 veths=1 leases=1 records=1 rules=[1-9]\d*$/, 'web published on loopback: a proxy');
    t.regex(lines[1], /^web2: 125 .*Bind for 127\.0\.0\.1:18080 failed: port is already allocated/, 'a port another container holds');
    t.regex(lines[2], /^web3: 125 .*Bind for 127\.0\.0\.1:18085 failed: port is already allocated/, 'a port another process holds');
    t.is(lines[3], 'names: "Names":"web" ', 'the failed runs left no container');
    t.is(lines[4], lines[0], 'nor a proxy, veth, lease, record or rule');
    t.is(lines[5], 'after kill: proxy alive=yes', 'the proxy lives with the (stopped) container');
    t.is(lines[6], 'after prune: proxy alive=no', 'prune ended it');
    t.is(lines[7], 'proxies=0 veths=0 leases=0 records=0 rules=0');
    after(t, env);
  },
);
