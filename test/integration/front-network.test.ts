// The issue's HTTP acceptance through the container front (issue 17): `container run -d --name
// web -p 127.0.0.1:18080:8080 <shipped image> httpd -f -p 8080`, an HTTP GET from the "host" gets
// the page, and a second container on the same user network fetches http://web:8080/. It all runs
// in a network namespace of the test's own (unshare --net), so the host's interfaces, routes,
// sysctls and firewall are never touched; the namespace, with its bridge, goes when the script ends.
import fs from 'node:fs';
import path from 'node:path';
import { runCommand, TSRUN_BIN } from '../helpers/bundle.js';
import { file, needs, root, tool } from '../helpers/skip.js';
import { TIME_SCALE } from '../helpers/wait.js';
import { containerDirs, frontEnv, monitorsUnder, SHIPPED } from './front-fixtures.js';

/** GET of the published page from the host side, for `node -e`: the body, or exit 1. */
const GET_PAGE = [
  "require('http').get('http://127.0.0.1:18080/etc/hostname', { timeout: 2000 }, (r) => {",
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

netTest.serial('container run -d -p 127.0.0.1:18080:8080 httpd: the page from the host, and from a second container by name on a user network', async (t) => {
  const env = await frontEnv(t);
  const tsrun = `${TSRUN_BIN} --root ${env.root} --image-root ${env.imageRoot}`;
  const script = path.join(env.dir, 'net.sh');
  fs.writeFileSync(
    script,
    `set -eu
ip link set lo up
# Only in this namespace: portmap's DNAT of 127.0.0.1 needs route_localnet (src/net/network.ts).
sysctl -qw net.ipv4.conf.all.route_localnet=1
cleanup() {
  ${tsrun} container rm -f -v web >/dev/null 2>&1 || true
  ${tsrun} network rm appnet >/dev/null 2>&1 || true
}
trap cleanup EXIT
${tsrun} network create appnet >/dev/null
${tsrun} container run -d --name web --network appnet -p 127.0.0.1:18080:8080 ${SHIPPED} httpd -f -p 8080 >/dev/null
i=0
# Node's http, not wget or curl: the VM's guest has neither.
until page=$(${process.execPath} -e "${GET_PAGE}"); do
  i=$((i+1)); [ $i -lt ${50 * TIME_SCALE} ] || { echo "no answer on 127.0.0.1:18080" >&2; exit 1; }
  sleep 0.1
done
echo "host: $page"
# The shipped busybox is static: its wget and nc crash in glibc's static resolver (and wget even on
# an address, there), so the peer resolves "web" with ping (through the hosts file tsrun keeps)
# and speaks HTTP with nc to that address.
echo "peer: $(${tsrun} container run --rm --network appnet ${SHIPPED} sh -c 'ip=$(ping -c1 -W1 web | head -n1 | cut -d"(" -f2 | cut -d")" -f1); printf "GET /etc/hostname HTTP/1.0\r\n\r\n" | nc -w 5 "$ip" 8080 | tail -n1')"
${tsrun} container ls --format json
`,
  );
  const r = await runCommand('unshare', ['--net', 'sh', script]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const host = /^host: ([0-9a-f]{12})$/.exec(lines[0] ?? '');
  t.truthy(host, `the host got the page: ${r.stdout}`);
  t.is(lines[1], `peer: ${host?.[1]}`, `the second container reached web by name: ${r.stderr}`);
  const ps = JSON.parse(lines[2]) as { Names: string; Ports: string };
  t.is(ps.Names, 'web');
  t.is(ps.Ports, '127.0.0.1:18080->8080/tcp', 'ps shows the published port');
  t.deepEqual(containerDirs(env), [], 'removed');
  t.deepEqual(monitorsUnder(env.dir), []);
  t.deepEqual(fs.readdirSync(path.join(env.imageRoot, 'networks', 'attachments')), [], 'no attachment (veth, lease, rules) left');
});
