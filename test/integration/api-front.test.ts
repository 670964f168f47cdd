// The library's Docker-style containers (issue 17, "Library"): rt.containers, rt.networks and
// rt.volumes of src/index.ts, over the front's own functions. On the host's network namespace
// every container uses network 'none'; the published port and the reaper of a networked service
// run in a network namespace of their own (a child Node under `unshare --net`, using the library
// from src/ through tsx), so no interface or firewall rule is made on the host. Each test checks
// through the front fixture that no container, monitor or state is left.
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NotReadyError, Runtime, type ServiceContainer, type TsrunError } from '../../src/index.js';
import { runCommand } from '../helpers/bundle.js';
import { REPO_ROOT } from '../helpers/rootfs.js';
import { file, needs, root, tool } from '../helpers/skip.js';
import { TIME_SCALE, waitFor } from '../helpers/wait.js';
import { containerDirs, frontEnv, monitorsUnder, SHIPPED, type FrontEnv } from './front-fixtures.js';
import { busyboxLayer, layerOf, writeLayout } from './image-fixtures.js';

const rootTest = needs(
  root('containers, mounts and the monitor need root'),
  file(path.join(REPO_ROOT, 'build/Release/tsrun-monitor'), 'needs the native build'),
);
const netTest = rootTest.and(
  tool('unshare', 'util-linux'),
  tool('ip', 'iproute2'),
  tool('iptables', 'iptables'),
  file('/usr/lib/cni/bridge', 'needs the CNI plugins in /usr/lib/cni (Debian package containernetworking-plugins)'),
);

const NONE = { network: 'none' } as const;

function runtimeOf(env: FrontEnv, service?: string): Runtime {
  return new Runtime({ root: env.root, imageRoot: env.imageRoot, ...(service ? { service } : {}) });
}

async function logText(c: ServiceContainer): Promise<string> {
  let s = '';
  for await (const e of c.logs()) s += e.log;
  return s;
}

/** Removes what a test left through the library too (the fixture's teardown checks the rest). */
function cleanup(t: ExecutionContext, rt: Runtime): void {
  t.teardown(async () => {
    for (const c of await rt.containers.list()) await rt.containers.remove(c.id, { force: true, volumes: true }).catch(() => {});
  });
}

rootTest.serial('a detached service: readiness by a log line, logs() with tail and follow, stop, and the errors of a wait that cannot end well', async (t) => {
  const env = await frontEnv(t);
  const rt = runtimeOf(env, 'api-front-logs');
  cleanup(t, rt);
  const ac = new AbortController();
  const events: string[] = [];
  const collecting = (async () => {
    for await (const e of rt.events({ signal: ac.signal })) events.push(`${e.type}:${e.id}`);
  })();
  const web = await rt.containers.run({
    ...NONE,
    image: SHIPPED,
    name: 'svc',
    args: ['sh', '-c', 'echo starting; echo oops >&2; sleep 0.5; echo "listening on 8080"; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done'],
  });
  t.is(web.name, 'svc');
  t.regex(web.id, /^[0-9a-f]{64}$/);
  await web.waitReady({ log: /^listening on \d+$/, timeoutMs: 20_000 });
  const lines: string[] = [];
  for await (const e of web.logs()) lines.push(`${e.stream}:${e.log}`);
  t.deepEqual(lines.slice(0, 3).sort(), ['stderr:oops\n', 'stdout:listening on 8080\n', 'stdout:starting\n'].sort());
  const tail: string[] = [];
  for await (const e of web.logs({ tail: 1 })) tail.push(e.log);
  t.deepEqual(tail, ['listening on 8080\n']);

  const info = (await rt.containers.list()).find((c) => c.id === web.id);
  t.is(info?.status, 'running');
  t.is(info?.labels['io.tsrun.service'], 'api-front-logs', 'the service label');
  t.regex(info?.labels['io.tsrun.service.instance'] ?? '', new RegExp(`/${process.pid}/\\d+$`), "the instance is this process's");

  // A timeout names what was awaited and the last line seen.
  const late = (await t.throwsAsync(web.waitReady({ log: 'never printed', timeoutMs: 300 }))) as NotReadyError;
  t.true(late instanceof NotReadyError);
  t.is(late.code, 'TSRUN_TIMEOUT');
  t.regex(late.message, /svc was not ready after 300 ms: waited for a log line matching never printed; its last log line: "listening on 8080"/);

  // follow: what is there, then what comes, until the container exits (stop sends SIGTERM).
  const followed: string[] = [];
  const follow = (async () => {
    for await (const e of web.logs({ follow: true })) followed.push(e.log);
  })();
  await waitFor(() => followed.includes('listening on 8080\n'), { what: 'the followed log so far' });
  await web.stop({ timeout: 10 * TIME_SCALE });
  await follow;
  t.is(followed.at(-1), 'bye\n', 'follow saw the line written on stop, and ended with the exit');
  t.is(await web.wait(), 0);
  t.is((await rt.containers.list()).find((c) => c.id === web.id)?.status, 'exited');

  // A container that exits before it is ready: the wait ends at once, not at the timeout.
  const bad = await rt.containers.run({ ...NONE, image: SHIPPED, args: ['sh', '-c', 'echo cannot start; exit 3'] });
  const t0 = Date.now();
  const early = (await t.throwsAsync(bad.waitReady({ log: /ready/, timeoutMs: 60_000 }))) as NotReadyError;
  t.is(early.code, 'TSRUN_INVALID_STATE');
  t.regex(early.message, /exited with status 3 before it was ready .*"cannot start"/);
  t.true(Date.now() - t0 < 30_000);
  const noPort = (await t.throwsAsync(bad.waitReady({ port: 80 }))) as TsrunError;
  t.is(noPort.code, 'TSRUN_INVALID_ARGUMENT', 'a port of a container on network none cannot be reached');

  await web.remove();
  await bad.remove();
  t.deepEqual(await rt.containers.list(), []);
  ac.abort();
  await collecting;
  t.deepEqual(
    events.filter((e) => e.endsWith(web.id)),
    ['create', 'start', 'stop', 'delete'].map((type) => `${type}:${web.id}`),
    "the containers' lifecycle is in the Runtime's events",
  );
  t.deepEqual(containerDirs(env), []);
});

rootTest.serial('a named volume written by one container is read by the next; in use it cannot be removed', async (t) => {
  const env = await frontEnv(t);
  const rt = runtimeOf(env);
  cleanup(t, rt);
  t.teardown(() => {
    for (const v of rt.volumes.list()) fs.rmSync(path.dirname(v.Mountpoint), { recursive: true, force: true });
  });
  t.is(rt.volumes.create('shared').Name, 'shared');
  const writer = await rt.containers.run({ ...NONE, image: SHIPPED, volumes: ['shared:/data'], args: ['sh', '-c', 'echo from-writer > /data/note'] });
  t.is(await writer.wait(), 0);
  const reader = await rt.containers.run({ ...NONE, image: SHIPPED, volumes: ['shared:/mnt/in:ro'], args: ['cat', '/mnt/in/note'] });
  t.is(await reader.wait(), 0);
  t.is(await logText(reader), 'from-writer\n');
  const inUse = t.throws(() => rt.volumes.remove('shared')) as TsrunError;
  t.is(inUse.code, 'TSRUN_INVALID_STATE');
  await writer.remove();
  await reader.remove({ volumes: true });
  t.deepEqual(
    rt.volumes.list().map((v) => v.Name),
    ['shared'],
    'a named volume outlives its containers',
  );
  rt.volumes.remove('shared');
  t.deepEqual(rt.volumes.list(), []);
});

rootTest.serial('copy in and out: a file and a directory with docker cp semantics; an image symlink never leads outside the rootfs', async (t) => {
  const env = await frontEnv(t);
  // Outside every rootfs: what an escape would read or write.
  const outside = path.join(env.dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'host secret\n');
  const layout = writeLayout(path.join(env.dir, 'esc-layout'), {
    name: 'localhost/api-cp:1',
    layers: [
      busyboxLayer(env.layout()),
      layerOf([
        { name: 'escape', type: '2', linkname: outside },
        { name: 'up', type: '2', linkname: '../../../../../../../..' + outside },
        { name: 'etc/tsrun-marker', body: 'in the image\n', mode: 0o644 },
      ]),
    ],
  });
  t.is((await env.tsrun(['image', 'import', layout])).code, 0);
  const rt = runtimeOf(env);
  cleanup(t, rt);
  const c = await rt.containers.run({ ...NONE, image: 'localhost/api-cp:1', args: ['sleep', '1000'] });

  const host = path.join(env.dir, 'host');
  fs.mkdirSync(path.join(host, 'site', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(host, 'site', 'index.html'), '<h1>hi</h1>\n');
  fs.writeFileSync(path.join(host, 'site', 'sub', 'deep.txt'), 'deep\n', { mode: 0o600 });
  fs.writeFileSync(path.join(host, 'one.txt'), 'one\n');

  // In: a file to a directory (its own name), to a new name, a directory to a new path (made),
  // into an existing directory (as <dest>/<name>), and only its content with "/.".
  t.deepEqual(await c.copyIn(path.join(host, 'one.txt'), '/tmp'), { path: '/tmp/one.txt', kind: 'file' });
  t.deepEqual(await c.copyIn(path.join(host, 'one.txt'), '/tmp/renamed.txt'), { path: '/tmp/renamed.txt', kind: 'file' });
  t.deepEqual(await c.copyIn(path.join(host, 'site'), '/srv'), { path: '/srv', kind: 'directory' });
  t.deepEqual(await c.copyIn(path.join(host, 'site'), '/srv'), { path: '/srv/site', kind: 'directory' });
  t.deepEqual(await c.copyIn(`${path.join(host, 'site', 'sub')}/.`, '/tmp'), { path: '/tmp', kind: 'directory' });
  const seen = await rt.exec(c.id, {
    args: [
      'sh',
      '-c',
      'cat /tmp/one.txt /tmp/renamed.txt /srv/index.html /srv/site/index.html /srv/site/sub/deep.txt /tmp/deep.txt; stat -c "%a %u" /srv/sub/deep.txt',
    ],
  });
  t.deepEqual(await seen.output(), {
    exitCode: 0,
    signal: null,
    stdout: 'one\none\n<h1>hi</h1>\n<h1>hi</h1>\ndeep\ndeep\n600 0\n',
    stderr: '',
    truncated: false,
  });

  // Out: a file to a directory and to a new name, a directory to a new path and into a directory.
  const out = path.join(env.dir, 'out');
  fs.mkdirSync(out);
  t.deepEqual(await c.copyOut('/etc/tsrun-marker', out), { path: path.join(out, 'tsrun-marker'), kind: 'file' });
  t.is(fs.readFileSync(path.join(out, 'tsrun-marker'), 'utf8'), 'in the image\n');
  await c.copyOut('/tmp/one.txt', path.join(out, 'x.txt'));
  t.is(fs.readFileSync(path.join(out, 'x.txt'), 'utf8'), 'one\n');
  t.deepEqual(await c.copyOut('/srv', path.join(out, 'srv-copy')), { path: path.join(out, 'srv-copy'), kind: 'directory' });
  t.is(fs.readFileSync(path.join(out, 'srv-copy', 'site', 'sub', 'deep.txt'), 'utf8'), 'deep\n');
  t.deepEqual(await c.copyOut('/srv/sub', out), { path: path.join(out, 'sub'), kind: 'directory' });
  t.is(fs.statSync(path.join(out, 'sub', 'deep.txt')).mode & 0o777, 0o600);
  const notThere = (await t.throwsAsync(c.copyOut('/no/such', out))) as TsrunError;
  t.is(notThere.code, 'TSRUN_NOT_FOUND');
  t.is(((await t.throwsAsync(c.copyIn(path.join(host, 'site'), '/tmp/one.txt'))) as TsrunError).code, 'TSRUN_INVALID_ARGUMENT', 'a directory onto a file');

  // The image's symlinks, absolute and climbing: resolved in the container's root, where the
  // outside directory does not exist. Nothing is read from it, nothing written to it.
  for (const link of ['/escape', '/up']) {
    const read = (await t.throwsAsync(c.copyOut(`${link}/secret`, path.join(out, 'leak')))) as TsrunError;
    t.is(read.code, 'TSRUN_NOT_FOUND', `${link}/secret is not the host's`);
    const write = (await t.throwsAsync(c.copyIn(path.join(host, 'one.txt'), `${link}/planted`))) as TsrunError;
    t.is(write.code, 'TSRUN_NOT_FOUND', `${link}/planted: no such directory in the container`);
    const dir = (await t.throwsAsync(c.copyIn(path.join(host, 'site'), `${link}/site`))) as TsrunError;
    t.is(dir.code, 'TSRUN_NOT_FOUND');
  }
  t.false(fs.existsSync(path.join(out, 'leak')));
  t.deepEqual(fs.readdirSync(outside), ['secret'], 'nothing was written outside the rootfs');
  // A symlink made inside the container to a host path: the same.
  const ln = await rt.exec(c.id, { args: ['ln', '-s', outside, '/tmp/made-link'] });
  t.is((await ln.output()).exitCode, 0);
  t.is(((await t.throwsAsync(c.copyOut('/tmp/made-link/secret', out))) as TsrunError).code, 'TSRUN_NOT_FOUND');
  t.is(((await t.throwsAsync(c.copyIn(path.join(host, 'one.txt'), '/tmp/made-link/x'))) as TsrunError).code, 'TSRUN_NOT_FOUND');
  t.deepEqual(fs.readdirSync(outside), ['secret']);

  // Stopped: through its rootfs (the writable layer kept until removal) and its volumes.
  await c.kill('SIGKILL');
  t.is(await c.wait(), 137);
  await c.copyOut('/tmp/renamed.txt', path.join(out, 'from-stopped.txt'));
  t.is(fs.readFileSync(path.join(out, 'from-stopped.txt'), 'utf8'), 'one\n');
  t.is(((await t.throwsAsync(c.copyOut('/escape/secret', out))) as TsrunError).code, 'TSRUN_NOT_FOUND', 'stopped: the image symlink stays in the rootfs');
  t.is(((await t.throwsAsync(c.copyOut('/tmp/made-link/secret', out))) as TsrunError).code, 'TSRUN_NOT_FOUND');
  const vol = await rt.containers.run({ ...NONE, image: 'localhost/api-cp:1', volumes: ['cpvol:/data'], args: ['sh', '-c', 'echo in-volume > /data/f'] });
  t.is(await vol.wait(), 0);
  await vol.copyOut('/data/f', path.join(out, 'vol-f'));
  t.is(fs.readFileSync(path.join(out, 'vol-f'), 'utf8'), 'in-volume\n', "a stopped container's volume is read from the volume");
  await vol.copyIn(path.join(host, 'one.txt'), '/data/');
  t.is(fs.readFileSync(path.join(rt.volumes.inspect('cpvol').Mountpoint, 'one.txt'), 'utf8'), 'one\n', 'and written to it');

  // Created, not started: through its parked init's root; the copied file is there at start.
  const made = await rt.containers.create({ ...NONE, image: 'localhost/api-cp:1', args: ['cat', '/etc/app.conf'] });
  fs.writeFileSync(path.join(host, 'app.conf'), 'key=value\n');
  t.deepEqual(await made.copyIn(path.join(host, 'app.conf'), '/etc/'), { path: '/etc/app.conf', kind: 'file' });
  await made.start();
  t.is(await made.wait(), 0);
  t.is(await logText(made), 'key=value\n');

  for (const x of [c, vol, made]) await x.remove({ force: true });
  rt.volumes.remove('cpvol');
  t.deepEqual(containerDirs(env), []);
  t.deepEqual(monitorsUnder(env.dir), []);
});

/** The child Node (tsx) the network test runs in its namespace; argv: imageRoot root mode. */
const NET_SCRIPT = (index: string) => `
import http from 'node:http';
import fs from 'node:fs';
import { Runtime } from ${JSON.stringify(index)};
const [imageRoot, root, mode, image] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const get = (port) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path: '/etc/hostname', timeout: 5000 }, (r) => {
    let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => resolve({ status: r.statusCode, body: b }));
  }).on('error', reject).on('timeout', () => reject(new Error('timeout')));
});
if (mode === 'orphan') {
  // A service instance that gets SIGKILLed: a networked container with a published port and an anonymous volume.
  const rt = new Runtime({ imageRoot, root, service: 'orphans' });
  const c = await rt.containers.run({ image, network: 'appnet', publish: ['8081'], volumes: ['/scratch'], args: ['httpd', '-f', '-p', '8081'] });
  out({ id: c.id, port: c.hostPort(8081) });
  setInterval(() => {}, 1000);
} else {
  const rt = new Runtime({ imageRoot, root });
  await rt.networks.create('appnet');
  const web = await rt.containers.run({ image, name: 'web', network: 'appnet', publish: [8080], args: ['httpd', '-f', '-p', '8080'] });
  await web.waitReady({ port: 8080, timeoutMs: 20000 });
  const port = web.hostPort(8080);
  const page = await get(port);
  const peer = await rt.containers.run({ image, network: 'appnet', args: ['sh', '-c', 'ping -c1 -W1 web | head -n1'] });
  await peer.wait();
  let peerLine = '';
  for await (const e of peer.logs()) peerLine += e.log;
  await peer.remove();
  await web.remove({ force: true });
  // appnet stays for the orphan below; the reaping script removes it.
  out({ port, page, peerLine });
}
`;

const REAP_SCRIPT = (index: string) => `
import { Runtime } from ${JSON.stringify(index)};
const [imageRoot, root] = process.argv.slice(2);
const rt = new Runtime({ imageRoot, root, service: 'orphans' });
const removed = await rt.reap();
const left = await rt.containers.list();
const volumes = rt.volumes.list().map((v) => v.Name);
await rt.networks.remove('appnet');
process.stdout.write(JSON.stringify({ removed, left, volumes }) + '\\n');
`;

netTest.serial(
  'in a network namespace: a published ephemeral port answers HTTP at the host port the library returns; a killed service instance is reaped with its network and anonymous volume',
  async (t) => {
    const env = await frontEnv(t);
    const index = path.join(REPO_ROOT, 'src/index.ts');
    const netScript = path.join(env.dir, 'net.mjs');
    const reapScript = path.join(env.dir, 'reap.mjs');
    fs.writeFileSync(netScript, NET_SCRIPT(index));
    fs.writeFileSync(reapScript, REAP_SCRIPT(index));
    const node = `'${process.execPath}' --import tsx`;
    // One namespace for the whole script: the orphan's service is killed and reaped in it.
    const driver = path.join(env.dir, 'driver.sh');
    fs.writeFileSync(
      driver,
      `set -eu
ip link set lo up
# Only in this namespace: portmap's DNAT of 127.0.0.1 needs route_localnet (src/net/network.ts).
sysctl -qw net.ipv4.conf.all.route_localnet=1
cd '${REPO_ROOT}'
${node} '${netScript}' '${env.imageRoot}' '${env.root}' serve '${SHIPPED}'
fifo=$(mktemp -u); mkfifo "$fifo"
${node} '${netScript}' '${env.imageRoot}' '${env.root}' orphan '${SHIPPED}' > "$fifo" &
child=$!
read -r line < "$fifo"; rm -f "$fifo"
echo "$line"
kill -KILL $child
wait $child || true
${node} '${reapScript}' '${env.imageRoot}' '${env.root}'
ls '${env.imageRoot}/networks/attachments'
ip -o link | grep -cE 'veth' || true
`,
    );
    const r = await runCommand('unshare', ['--net', 'sh', driver]);
    t.is(r.code, 0, r.stderr);
    const [served, orphan, reaped, ...rest] = r.stdout.trim().split('\n');
    const s = JSON.parse(served) as { port: number; page: { status: number; body: string }; peerLine: string };
    t.true(s.port >= 1024 && s.port <= 65535, `an ephemeral host port was chosen: ${s.port}`);
    t.is(s.page.status, 200);
    t.regex(s.page.body, /^[0-9a-f]{12}\n$/, "the page is the container's /etc/hostname");
    t.regex(s.peerLine, /^PING web \(10\.\d+\.\d+\.\d+\)/, 'a second container resolves web on the user network');
    const o = JSON.parse(orphan) as { id: string; port: number };
    t.regex(o.id, /^[0-9a-f]{64}$/);
    t.true(o.port > 0);
    const rp = JSON.parse(reaped) as { removed: string[]; left: unknown[]; volumes: string[] };
    t.deepEqual(rp.removed, [o.id], "the dead instance's container was reaped");
    t.deepEqual(rp.left, []);
    t.deepEqual(rp.volumes, [], 'its anonymous volume went with it');
    t.deepEqual(rest, ['0'], 'no attachment record and no veth left in the namespace');
    t.deepEqual(containerDirs(env), []);
    t.deepEqual(monitorsUnder(env.dir), []);
  },
);

// The reaper on the host's own namespace (network none): a service's process is SIGKILLed, its
// container keeps running (held by its monitor), a new Runtime of the service removes it; a live
// instance's containers and another service's are left alone.
rootTest.serial('the reaper: a SIGKILLed instance’s container is removed by the next Runtime of its service; live and foreign ones stay', async (t) => {
  const env = await frontEnv(t);
  const index = path.join(REPO_ROOT, 'src/index.ts');
  const rt = runtimeOf(env, 'reaped-svc');
  cleanup(t, rt);
  const other = runtimeOf(env, 'other-svc');
  cleanup(t, other);
  const mine = await rt.containers.run({ ...NONE, image: SHIPPED, args: ['sleep', '1000'] });
  const foreign = await other.containers.run({ ...NONE, image: SHIPPED, args: ['sleep', '1000'] });
  const code = `import { Runtime } from ${JSON.stringify(index)};
const rt = new Runtime({ imageRoot: ${JSON.stringify(env.imageRoot)}, root: ${JSON.stringify(env.root)}, service: 'reaped-svc' });
const c = await rt.containers.run({ image: ${JSON.stringify(SHIPPED)}, network: 'none', volumes: ['/scratch'], args: ['sleep', '1000'] });
process.stdout.write(c.id + '\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => out.includes('\n') || child.exitCode !== null, { timeoutMs: 60_000, what: () => `the child's container id (${err})` });
  const orphan = out.trim();
  t.regex(orphan, /^[0-9a-f]{64}$/, err);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  t.is((await rt.containers.list()).find((c) => c.id === orphan)?.status, 'running', 'the monitor holds the container after its client died');
  t.is(rt.volumes.list().length, 1, 'its anonymous volume');

  const next = runtimeOf(env, 'reaped-svc');
  t.deepEqual(await next.reap(), [orphan], 'the reap a new Runtime of the service starts removed it');
  t.deepEqual(await next.reap(), [], 'reported once');
  const ids = (await next.containers.list()).map((c) => c.id).sort();
  t.deepEqual(ids, [mine.id, foreign.id].sort(), "the live instance's and the other service's containers stay");
  t.deepEqual(next.volumes.list(), [], 'the anonymous volume went with its container');
  await mine.remove({ force: true });
  await foreign.remove({ force: true });
});

rootTest.serial("images.remove refuses an image a container uses (Docker's conflict); forceRemove removes it", async (t) => {
  const env = await frontEnv(t);
  const rt = runtimeOf(env);
  cleanup(t, rt);
  const c = await rt.containers.create({ ...NONE, image: SHIPPED, name: 'user', args: ['true'] });
  const refused = (await t.throwsAsync(rt.images.remove(SHIPPED))) as TsrunError;
  t.regex(refused.message, /must force|must be forced/, refused.message);
  const rec = await rt.images.find(SHIPPED);
  t.truthy(rec, 'still there');
  const forced = await rt.images.forceRemove(SHIPPED);
  t.is(forced.untagged.length, 1, 'forced: the name goes');
  t.deepEqual(forced.images, [rec!.id], "and the image (docker rmi -f of a stopped container's image)");
  t.is(await rt.images.find(rec!.id), undefined);
  await rt.containers.remove(c.id, { force: true });
});
