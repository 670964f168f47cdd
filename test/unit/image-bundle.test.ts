// Bundle-from-image rules (image-spec conversion.md + docker run overrides), passwd/group
// resolution, overlay option strings, and the CLI grammar of `run --image` and `image …`.
import test from 'ava';
import { buildImageBundle, commandLine, DEFAULT_PATH, mergeEnv, parseVolume, resolvConf } from '../../src/image/bundle.js';
import { escapeOverlayPath, legacyMountData } from '../../src/image/overlay.js';
import { parseGroup, parsePasswd, resolveUser } from '../../src/image/user.js';
import { parseCommandLine, UsageError } from '../../src/cli/parse.js';

const PASSWD = parsePasswd('root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\napp:x:1000:1001::/home/app:/bin/sh\nbad:x:notanumber:1::/:/bin/sh\n');
const GROUP = parseGroup('root:x:0:\nappgrp:x:1001:\nstaff:x:50:app,other\nwheel:x:10:app\n');
const ROOT = { uid: 0, gid: 0, additionalGids: [] };
const base = { id: '0123456789abcdef', network: 'none' as const, containerDir: '/var/lib/tsrun/containers/0123456789abcdef' };

test('passwd and group parsing skips comments and malformed lines', (t) => {
  t.deepEqual(
    PASSWD.map((p) => p.name),
    ['root', 'app'],
  );
  t.deepEqual(GROUP.find((g) => g.name === 'staff')?.members, ['app', 'other']);
});

test('user resolution follows docker: names, numbers, groups, supplementary groups', (t) => {
  t.deepEqual(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
  t.deepEqual(resolveUser('app', PASSWD, GROUP), { uid: 1000, gid: 1001, additionalGids: [50, 10], home: '/home/app' });
  t.deepEqual(resolveUser('app:staff', PASSWD, GROUP), { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' });
  t.deepEqual(resolveUser('1000:7', PASSWD, GROUP), { uid: 1000, gid: 7, additionalGids: [], home: '/home/app' });
  t.deepEqual(resolveUser('4242', PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [] });
  t.deepEqual(resolveUser('4242', undefined, undefined), { uid: 4242, gid: 0, additionalGids: [] });
  t.throws(() => resolveUser('nobody', PASSWD, GROUP), { message: /unable to find user nobody: no matching entries in the image's \/etc\/passwd/ });
  t.throws(() => resolveUser('root', undefined, GROUP), { message: /the image has no \/etc\/passwd/ });
  t.throws(() => resolveUser('app:nogroup', PASSWD, GROUP), { message: /unable to find group nogroup/ });
  t.throws(() => resolveUser('a:b:c', PASSWD, GROUP), { message: /want USER\[:GROUP\]/ });
});

test('command line: Entrypoint + Cmd; -- replaces Cmd; --entrypoint drops Cmd; nothing to run is an error', (t) => {
  const cfg = { Entrypoint: ['/ep', '-x'], Cmd: ['a', 'b'] };
  t.deepEqual(commandLine(cfg, {}), ['/ep', '-x', 'a', 'b']);
  t.deepEqual(commandLine(cfg, { command: ['c'] }), ['/ep', '-x', 'c']);
  t.deepEqual(commandLine(cfg, { entrypoint: 'sh' }), ['sh']);
  t.deepEqual(commandLine(cfg, { entrypoint: 'sh', command: ['-c', 'true'] }), ['sh', '-c', 'true']);
  t.deepEqual(commandLine({ Cmd: ['sh'] }, {}), ['sh']);
  t.throws(() => commandLine({}, {}), { message: /no command/ });
});

test('environment: PATH default, image Env, then -e (K=V and K from the host)', (t) => {
  t.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C', 'D'], { C: 'host' }), ['A=1', 'B=3', 'C=host']);
  t.throws(() => mergeEnv([], ['=x']), { message: /has no name/ });
  const b = buildImageBundle({ config: { Env: ['FOO=img'] } }, ROOT, { ...base, command: ['x'], env: ['FOO=cli', 'BAR=1'] });
  t.deepEqual(b.spec.process!.env, [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=0123456789ab', 'FOO=cli', 'HOME=/', 'BAR=1']);
  const own = buildImageBundle({ config: { Env: ['PATH=/bin', 'HOME=/h'] } }, ROOT, { ...base, command: ['x'], tty: true });
  t.deepEqual(own.spec.process!.env, ['PATH=/bin', 'HOSTNAME=0123456789ab', 'HOME=/h', 'TERM=xterm']);
});

test('volumes: -v HOST:CTR[:ro|rw] binds; bad forms name the problem', (t) => {
  t.deepEqual(parseVolume('/h/x:/c/y'), { destination: '/c/y', type: 'bind', source: '/h/x', options: ['rbind', 'rprivate'] });
  t.deepEqual(parseVolume('/h:/c:ro').options, ['rbind', 'rprivate', 'ro']);
  t.throws(() => parseVolume('name:/c'), { message: /named volumes are not supported/ });
  t.throws(() => parseVolume('/h:rel'), { message: /must be an absolute path/ });
  t.throws(() => parseVolume('/h:/c:zz'), { message: /mode "zz"/ });
  t.throws(() => parseVolume('/h'), { message: /want HOST:CONTAINER/ });
});

test('the spec: user, cwd, root, hostname, namespaces, files, image volumes and annotations', (t) => {
  const b = buildImageBundle(
    {
      os: 'linux',
      architecture: 'amd64',
      created: '2024-01-01T00:00:00Z',
      config: {
        Cmd: ['run'],
        WorkingDir: '/srv',
        Labels: { l: 'v' },
        StopSignal: 'SIGQUIT',
        Volumes: { '/data': {}, '/cache': {} },
        ExposedPorts: { '80/tcp': {} },
      },
    },
    { uid: 5, gid: 6, additionalGids: [7] },
    { ...base, readOnly: true, netnsPath: '/proc/1/fd/9', volumes: ['/h:/cache'], hostname: 'h1' },
    'nameserver 127.0.0.53\nnameserver 10.0.0.1\n',
  );
  const s = b.spec;
  t.deepEqual(s.process!.user, { uid: 5, gid: 6, additionalGids: [7] });
  t.is(s.process!.cwd, '/srv');
  t.false(s.process!.terminal);
  t.deepEqual(s.root, { path: 'rootfs', readonly: true });
  t.is(s.hostname, 'h1');
  t.deepEqual(
    s.linux!.namespaces!.filter((n) => n.type === 'network'),
    [{ type: 'network', path: '/proc/1/fd/9' }],
  );
  t.is(b.files.hostname, 'h1\n');
  t.regex(b.files.hosts, /127\.0\.1\.1\th1\n/);
  t.is(b.files['resolv.conf'], 'nameserver 10.0.0.1\n', 'a loopback resolver is useless in another netns');
  t.deepEqual(b.volumeDirs, ['volumes/0'], '/cache is taken by -v');
  const dests = s.mounts!.map((m) => m.destination);
  for (const d of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/data', '/cache', '/proc', '/dev']) t.true(dests.includes(d), d);
  t.is(s.mounts!.find((m) => m.destination === '/data')!.source, `${base.containerDir}/volumes/0`);
  t.like(s.annotations, {
    l: 'v',
    'org.opencontainers.image.stopSignal': 'SIGQUIT',
    'org.opencontainers.image.exposedPorts': '80/tcp',
    'org.opencontainers.image.os': 'linux',
    'org.opencontainers.image.architecture': 'amd64',
  });
  const host = buildImageBundle({ config: { Cmd: ['x'] } }, ROOT, { ...base, network: 'host' }, 'nameserver 127.0.0.53\n');
  t.false(host.spec.linux!.namespaces!.some((n) => n.type === 'network'));
  t.is(host.files['resolv.conf'], 'nameserver 127.0.0.53\n');
  t.is(resolvConf('nameserver ::1\nsearch x\n', 'none'), 'search x\n');
  t.throws(() => buildImageBundle({ config: { Cmd: ['x'] } }, ROOT, { ...base, workdir: 'rel' }), { message: /must be an absolute path/ });
});

test('overlay option strings: escaping and the one-page limit', (t) => {
  t.is(escapeOverlayPath('/a:b,c\\d'), '/a\\:b\\,c\\\\d');
  t.is(legacyMountData(['/l2', '/l1'], '/u', '/w'), 'lowerdir=/l2:/l1,upperdir=/u,workdir=/w');
  t.is(legacyMountData(Array.from({ length: 100 }, (_, i) => `/var/lib/tsrun/layers/${'a'.repeat(63)}${i % 10}/diff`)), undefined);
});

test('CLI: run --image takes an optional id and the command after --; image-only flags need --image', (t) => {
  const cl = parseCommandLine(['run', '--image', 'busybox', '--rm', '-e', 'A=1', '-e', 'B=2', '-v', '/h:/c', '-u', 'app', 'myid', '--', 'sh', '-c', 'x']);
  t.is(cl.flags.image, 'busybox');
  t.deepEqual(cl.flags.env, ['A=1', 'B=2']);
  t.deepEqual(cl.args, ['myid', 'sh', '-c', 'x']);
  t.deepEqual(cl.rest, ['sh', '-c', 'x']);
  const noId = parseCommandLine(['run', '--image=busybox', '--', 'echo', 'hi']);
  t.deepEqual(noId.args, ['echo', 'hi']);
  t.deepEqual(noId.rest, ['echo', 'hi']);
  t.deepEqual(parseCommandLine(['run', '--image', 'b']).args, []);
  t.throws(() => parseCommandLine(['run', '--image', 'b', 'id', 'echo', '--', 'x']), { instanceOf: UsageError, message: /at most one container id/ });
  // runc's contract without --image: the same words runc says.
  t.throws(() => parseCommandLine(['run', '--rm', 'id']), { message: 'flag provided but not defined: -rm' });
  t.throws(() => parseCommandLine(['run', '-b', 'x', '-e', 'A=1', 'id']), { message: 'flag provided but not defined: -e' });
  t.throws(() => parseCommandLine(['run']), { message: 'tsrun: "run" requires exactly 1 argument(s)' });
  t.deepEqual(parseCommandLine(['run', '-d', '-b', 'x', 'id']).args, ['id']);
});

test('CLI: image subcommands, their flags, aliases and argument counts', (t) => {
  const pull = parseCommandLine(['--image-root', '/ir', 'image', 'pull', '--creds', 'u:p', '--platform', 'linux/arm64', 'busybox']);
  t.is(pull.command, 'image');
  t.is(pull.subcommand, 'pull');
  t.is(pull.global.imageRoot, '/ir');
  t.like(pull.flags, { creds: 'u:p', platform: 'linux/arm64' });
  t.deepEqual(pull.args, ['busybox']);
  t.is(parseCommandLine(['image', 'list', '-q']).subcommand, 'ls');
  t.is(parseCommandLine(['image', 'ls', '--format', 'json']).flags.format, 'json');
  t.deepEqual(parseCommandLine(['image', 'rm', 'a', 'b']).args, ['a', 'b']);
  t.is(parseCommandLine(['image', 'import', '--name', 'x:1', '/p']).flags.name, 'x:1');
  t.true(parseCommandLine(['image']).help);
  t.true(parseCommandLine(['image', 'pull', '--help']).help);
  t.throws(() => parseCommandLine(['image', 'frob']), { message: "No help topic for 'image frob'" });
  t.throws(() => parseCommandLine(['image', 'pull']), { message: 'tsrun: "image pull" requires exactly 1 argument(s)' });
  t.throws(() => parseCommandLine(['image', 'ls', '--bogus']), { message: 'flag provided but not defined: -bogus' });
});
