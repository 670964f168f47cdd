// `run --image` with the shipped busybox image (images/build-busybox.mjs), through bin/tsrun:
// import, run, output and exit status, cleanup after --rm, user names from the image's files,
// -e, -w, -v, --read-only, --hostname, --network none|host, -d + delete, bad input.
import fs from 'node:fs';
import path from 'node:path';
import { events, imageEnv, SHIPPED, type ImageEnv } from './image-fixtures.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('overlay mounts, namespaces'));

async function imported(t: import('ava').ExecutionContext): Promise<ImageEnv> {
  const env = await imageEnv(t);
  const r = await env.tsrun(['image', 'import', env.layout()]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `Loaded image: ${SHIPPED}\n`);
  return env;
}

function containerDirs(env: ImageEnv): string[] {
  try {
    return fs.readdirSync(path.join(env.imageRoot, 'containers'));
  } catch {
    return [];
  }
}

rootTest('the shipped image runs offline; --rm leaves no container, mount or writable layer', async (t) => {
  const env = await imported(t);
  const id = env.id('ship');
  const r = await env.tsrun([
    'run',
    '--image',
    SHIPPED,
    '--rm',
    '--progress',
    'json',
    id,
    '--',
    'sh',
    '-c',
    'echo hello from $(hostname); cat /etc/os-release; exit 3',
  ]);
  t.is(r.code, 3, `the container's exit status: ${r.stderr}`);
  t.true(r.stdout.startsWith(`hello from ${id.slice(0, 12)}\n`), r.stdout);
  t.regex(r.stdout, /NAME="tsrun busybox"/);
  const unpack = events(r).filter((e) => e.type === 'unpack');
  t.is(unpack.length, 1, 'one layer');
  t.true(unpack[0].created, 'the first run unpacks the layer');
  t.deepEqual(containerDirs(env), [], 'no container dir (upper/work) after --rm');
  t.deepEqual(fs.existsSync(env.root) ? fs.readdirSync(env.root).filter((n) => !n.startsWith('.')) : [], [], 'no state left');
  t.deepEqual(
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(env.dir)),
    [],
    'no host mount left',
  );

  const again = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--progress', 'json', '--', 'true']);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(
    events(again)
      .filter((e) => e.type === 'unpack')
      .map((e) => e.created),
    [false],
    'the second run reuses the layer',
  );
});

rootTest('user names resolve from the image: name, name:group, uid, supplementary groups; unknown names fail cleanly', async (t) => {
  const env = await imported(t);
  const id = async (u: string) => {
    const r = await env.tsrun(['run', '--image', SHIPPED, '--rm', '-u', u, '--', 'id']);
    t.is(r.code, 0, `${u}: ${r.stderr}`);
    return r.stdout.trim();
  };
  t.is(await id('tsrun'), 'uid=1000(tsrun) gid=1000(tsrun) groups=50(staff)');
  // An explicit group means no supplementary groups (busybox id then prints no groups=).
  t.is(await id('tsrun:daemon'), 'uid=1000(tsrun) gid=1(daemon)');
  t.is(await id('4242'), 'uid=4242 gid=0(root)');
  t.is(await id('1000:50'), 'uid=1000(tsrun) gid=50(staff)');
  const bad = await env.tsrun(['run', '--image', SHIPPED, '--rm', '-u', 'nosuchuser', '--', 'id']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /unable to find user nosuchuser/);
  const badGroup = await env.tsrun(['run', '--image', SHIPPED, '--rm', '-u', 'tsrun:nosuchgroup', '--', 'id']);
  t.regex(badGroup.stderr, /unable to find group nosuchgroup/);
  t.deepEqual(containerDirs(env), [], 'a failed run leaves no container dir');
  const home = await env.tsrun(['run', '--image', SHIPPED, '--rm', '-u', 'tsrun', '--', 'sh', '-c', 'echo $HOME']);
  t.is(home.stdout, '/home/tsrun\n', 'HOME from /etc/passwd');
});

rootTest('-e, -w, -v (rw and ro), --read-only and --hostname', async (t) => {
  const env = await imported(t);
  const host = path.join(env.dir, 'shared');
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, 'in.txt'), 'from the host\n');
  process.env.TSRUN_TEST_PASSED = 'passed through';
  const r = await env.tsrun([
    'run',
    '--image',
    SHIPPED,
    '--rm',
    '-e',
    'FOO=bar=baz',
    '-e',
    'TSRUN_TEST_PASSED',
    '-e',
    'TSRUN_TEST_UNSET_XYZ',
    '-w',
    '/work/deep',
    '-v',
    `${host}:/data`,
    '-v',
    `${host}:/ro:ro`,
    '--read-only',
    '--hostname',
    'boxname',
    '--',
    'sh',
    '-c',
    'echo "$FOO|$TSRUN_TEST_PASSED|${TSRUN_TEST_UNSET_XYZ-unset}"; pwd; cat /data/in.txt; echo out > /data/out.txt; ' +
      'touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused; touch /rootfile 2>/dev/null && echo root-writable || echo root-refused; ' +
      'hostname; cat /etc/hostname; grep boxname /etc/hosts',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'bar=baz|passed through|unset\n/work/deep\nfrom the host\nro-refused\nroot-refused\nboxname\nboxname\n127.0.1.1\tboxname\n');
  t.is(fs.readFileSync(path.join(host, 'out.txt'), 'utf8'), 'out\n', 'the rw volume wrote through to the host');
  const rw = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--', 'sh', '-c', 'touch /rootfile && echo ok']);
  t.is(rw.stdout, 'ok\n', 'without --read-only the root is writable');
  const missing = await env.tsrun(['run', '--image', SHIPPED, '--rm', '-v', `${env.dir}/no-such-dir:/x`, '--', 'true']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /no-such-dir does not exist/);
  const named = await env.tsrun(['run', '--image', SHIPPED, '--rm', '-v', 'vol:/x', '--', 'true']);
  t.regex(named.stderr, /named volumes are not supported/);
});

rootTest('--network none has only lo, up; --network host shares the host interfaces', async (t) => {
  const env = await imported(t);
  const none = await env.tsrun([
    'run',
    '--image',
    SHIPPED,
    '--rm',
    '--network',
    'none',
    '--',
    'sh',
    '-c',
    'ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok',
  ]);
  t.is(none.code, 0, none.stderr);
  const [ifs, ...rest] = none.stdout.split('\n');
  t.is(ifs, 'lo');
  t.true(['unknown', 'up'].includes(rest[0]), `lo operstate ${rest[0]}`);
  t.is(rest[1], 'ping-ok', 'loopback works');
  const hostIfs = fs.readdirSync('/sys/class/net').sort();
  const host = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--network', 'host', '--', 'ls', '/sys/class/net']);
  t.is(host.code, 0, host.stderr);
  t.deepEqual(host.stdout.split(/\s+/).filter(Boolean).sort(), hostIfs);
  const bad = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--network', 'bridge', '--', 'true']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--network bridge: want none or host/);
});

rootTest('without --rm the stopped container and its layer stay until delete; -d prints the id', async (t) => {
  const env = await imported(t);
  const id = env.id('keep');
  const r = await env.tsrun(['run', '--image', SHIPPED, id, '--', 'sh', '-c', 'echo data > /kept']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(containerDirs(env), [id]);
  t.is(fs.readFileSync(path.join(env.imageRoot, 'containers', id, 'upper', 'kept'), 'utf8'), 'data\n', 'the write landed in the upper dir');
  const dup = await env.tsrun(['run', '--image', SHIPPED, id, '--', 'true']);
  t.is(dup.code, 1);
  t.regex(dup.stderr, /container with id exists/);
  t.is((await env.tsrun(['delete', id])).code, 0);
  t.deepEqual(containerDirs(env), []);
  t.deepEqual(
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(env.dir)),
    [],
  );

  const d = env.id('det');
  const det = await env.tsrun(['run', '--image', SHIPPED, '-d', d, '--', 'sleep', '30']);
  t.is(det.code, 0, det.stderr);
  t.is(det.stdout, `${d}\n`);
  const st = await env.tsrun(['state', d]);
  t.is(JSON.parse(st.stdout).status, 'running');
  t.is((await env.tsrun(['delete', '--force', d])).code, 0);
  t.deepEqual(containerDirs(env), []);
  const both = await env.tsrun(['run', '--image', SHIPPED, '-d', '--rm', '--', 'true']);
  t.regex(both.stderr, /--rm with -d is not supported/);
});

rootTest('the image config: Entrypoint + Cmd, -- replaces Cmd, --entrypoint, WorkingDir, Env, Labels and StopSignal', async (t) => {
  const env = await imported(t);
  const { busyboxLayer, writeLayout } = await import('./image-fixtures.js');
  const layout = writeLayout(path.join(env.dir, 'cfg-layout'), {
    name: 'localhost/cfgtest:1',
    layers: [busyboxLayer(env.layout())],
    config: {
      Entrypoint: ['echo', 'entry'],
      Cmd: ['default', 'cmd'],
      WorkingDir: '/srv/app',
      Env: ['PATH=/bin:/usr/bin', 'APP=1'],
      Labels: { 'com.example.label': 'yes' },
      StopSignal: 'SIGQUIT',
      User: 'tsrun',
    },
  });
  t.is((await env.tsrun(['image', 'import', layout])).code, 0);
  const def = await env.tsrun(['run', '--image', 'localhost/cfgtest:1', '--rm']);
  t.is(def.stdout, 'entry default cmd\n', def.stderr);
  const over = await env.tsrun(['run', '--image', 'localhost/cfgtest:1', '--rm', '--', 'other']);
  t.is(over.stdout, 'entry other\n');
  const ep = await env.tsrun(['run', '--image', 'localhost/cfgtest:1', '--rm', '--entrypoint', 'sh', '--', '-c', 'pwd; id -u; echo $APP; echo $PATH']);
  t.is(ep.stdout, '/srv/app\n1000\n1\n/bin:/usr/bin\n', ep.stderr);
  const id = env.id('cfg');
  t.is((await env.tsrun(['run', '--image', 'localhost/cfgtest:1', id, '--', 'x'])).code, 0);
  const cfg = JSON.parse(fs.readFileSync(path.join(env.imageRoot, 'containers', id, 'config.json'), 'utf8'));
  t.is(cfg.annotations['com.example.label'], 'yes');
  t.is(cfg.annotations['org.opencontainers.image.stopSignal'], 'SIGQUIT');
  t.is(cfg.annotations['org.opencontainers.image.ref.name'], 'localhost/cfgtest:1');
  t.false(cfg.process.terminal);
});
