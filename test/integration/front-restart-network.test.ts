// A container on a user network started again (issue 17): the same address, hosts file and
// published port after stop and start, and after restart; rm then leaves no attachment. Runs in a
// network namespace of the test's own (unshare --net): the host's network is never touched.
import fs from 'node:fs';
import path from 'node:path';
import { runCommand, TSRUN_BIN } from '../helpers/bundle.js';
import { file, needs, root, tool } from '../helpers/skip.js';
import { TIME_SCALE } from '../helpers/wait.js';
import { containerDirs, frontEnv, monitorsUnder, SHIPPED } from './front-fixtures.js';

/** What a network test needs: the tools for its namespace and the CNI plugins. */
const netTest = needs(
  root('network namespaces, CNI plugins'),
  ...(
    [
      ['unshare', 'util-linux'],
      ['ip', 'iproute2'],
      ['iptables', 'iptables'],
    ] as const
  ).map(([name, pkg]) => tool(name, pkg)),
  file('/usr/lib/cni/bridge', 'needs the CNI plugins in /usr/lib/cni (Debian package containernetworking-plugins)'),
);

netTest.serial('start again and restart on a user network: same address and hosts file, the published port answers again', async (t) => {
  const env = await frontEnv(t);
  const get = `${process.execPath} -e "require('http').get(process.argv[1], { timeout: 2000 }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => process.stdout.write(b)); }).on('error', () => process.exit(1))"`;
  const script = `set -eu
ip link set lo up
tsrun() { ${TSRUN_BIN} --root ${env.root} --image-root ${env.imageRoot} "$@"; }
page() { i=0; until ${get} http://127.0.0.1:18090/etc/hostname; do i=$((i+1)); [ $i -lt ${50 * TIME_SCALE} ] || return 1; sleep 0.1; done; }
ip_of() { tsrun container inspect web | ${process.execPath} -e "let s=''; process.stdin.on('data', (d) => (s += d)).on('end', () => console.log(JSON.parse(s)[0].NetworkSettings.Networks.rnet.IPAddress))"; }
tsrun network create rnet >/dev/null
tsrun container run -d --name web --network rnet -p 127.0.0.1:18090:8080 ${SHIPPED} httpd -f -p 8080 >/dev/null
echo "first $(page)"
ip1=$(ip_of)
hosts1=$(tsrun container exec web cat /etc/hosts)
tsrun container stop -t 1 web >/dev/null
tsrun container start web >/dev/null
echo "again $(page)"
[ "$(ip_of)" = "$ip1" ] && echo "same ip"
[ "$(tsrun container exec web cat /etc/hosts)" = "$hosts1" ] && echo "same hosts"
tsrun container restart -t 1 web >/dev/null
echo "restarted $(page)"
[ "$(ip_of)" = "$ip1" ] && echo "same ip"
tsrun container rm -f web >/dev/null
tsrun network rm rnet >/dev/null
echo "attachments=$(ls ${env.imageRoot}/networks/attachments | wc -l)"
`;
  const file = path.join(env.dir, 'restart-net.sh');
  fs.writeFileSync(file, script);
  const r = await runCommand('unshare', ['--net', 'sh', file]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const first = lines[0].split(' ')[1];
  t.regex(first, /^[0-9a-f]{12}$/);
  t.deepEqual(lines.slice(1), [`again ${first}`, 'same ip', 'same hosts', `restarted ${first}`, 'same ip', 'attachments=0', '']);
  t.deepEqual(containerDirs(env), []);
  t.deepEqual(monitorsUnder(env.dir), []);
});
