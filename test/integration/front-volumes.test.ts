// Volumes of the Docker-style front (issue 17): named volumes made on first use and shared across
// containers, the image's content copied up into an empty volume, anonymous volumes for image
// VOLUMEs and `-v /path` removed by --rm and rm -v, `volume rm` refusing a volume in use, and data
// never lost by a container's removal or an unrelated prune.
import fs from 'node:fs';
import path from 'node:path';
import { needs, root } from '../helpers/skip.js';
import { containerDirs, frontEnv, NONE, SHIPPED } from './front-fixtures.js';

const rootTest = needs(root('namespaces, overlay and bind mounts'));

rootTest.serial('a named volume written by one container is read by the next, and outlives both', async (t) => {
  const env = await frontEnv(t);
  const write = await env.container(['run', ...NONE, '--rm', '-v', 'data:/data', SHIPPED, 'sh', '-c', 'echo hello > /data/f']);
  t.is(write.code, 0, write.stderr);
  const ls = await env.tsrun(['volume', 'ls']);
  t.regex(ls.stdout, /^DRIVER\s+VOLUME NAME\nlocal\s+data\n$/, 'made on first use');
  const read = await env.container([
    'run',
    ...NONE,
    '--rm',
    '--mount',
    'type=volume,source=data,target=/mnt/d,readonly',
    SHIPPED,
    'sh',
    '-c',
    'cat /mnt/d/f; touch /mnt/d/x 2>/dev/null || echo ro',
  ]);
  t.is(read.code, 0, read.stderr);
  t.is(read.stdout, 'hello\nro\n', 'the next container (with --mount, read-only) reads it');
  const inspect = JSON.parse((await env.tsrun(['volume', 'inspect', 'data'])).stdout) as { Name: string; Mountpoint: string; Driver: string }[];
  t.is(inspect[0].Name, 'data');
  t.is(inspect[0].Driver, 'local');
  t.is(fs.readFileSync(path.join(inspect[0].Mountpoint, 'f'), 'utf8'), 'hello\n');
  t.is((fs.statSync(path.join(env.imageRoot, 'volumes')).mode & 0o777).toString(8), '700', 'the store is private');
  const rm = await env.tsrun(['volume', 'rm', 'data']);
  t.is(rm.code, 0, rm.stderr);
  t.is((await env.tsrun(['volume', 'ls', '-q'])).stdout, '');
});

rootTest.serial("the image's content is copied up into an empty volume, never over data already there", async (t) => {
  const env = await frontEnv(t);
  const first = await env.container(['run', ...NONE, '--rm', '-v', 'etc:/etc', SHIPPED, 'sh', '-c', 'grep -c "^root:" /etc/passwd; echo mine > /etc/mine']);
  t.is(first.code, 0, first.stderr);
  t.is(first.stdout, '1\n', "the image's /etc is in the volume");
  const mp = JSON.parse((await env.tsrun(['volume', 'inspect', 'etc'])).stdout)[0].Mountpoint as string;
  t.true(fs.existsSync(path.join(mp, 'passwd')), 'copied on the host side');
  t.deepEqual(
    fs.readdirSync(path.dirname(mp)).filter((n) => n.startsWith('.copy-')),
    [],
    'no copy left half-made',
  );
  fs.writeFileSync(path.join(mp, 'passwd'), 'changed:x:0:0::/:/bin/sh\n');
  const second = await env.container(['run', ...NONE, '--rm', '-v', 'etc:/etc', SHIPPED, 'cat', '/etc/passwd', '/etc/mine']);
  t.is(second.stdout, 'changed:x:0:0::/:/bin/sh\nmine\n', 'a volume with data is mounted as it is');
  t.is((await env.tsrun(['volume', 'rm', 'etc'])).code, 0);
});

rootTest.serial('volume rm refuses a volume in use; rm -v removes anonymous volumes; named data survives container rm and prunes', async (t) => {
  const env = await frontEnv(t);
  t.is((await env.tsrun(['volume', 'create', 'before'])).code, 0);
  const run = await env.container([
    'run',
    ...NONE,
    '-d',
    '--name',
    'holder',
    '-v',
    'keep:/k',
    '--mount',
    'type=volume,source=before,target=/b',
    '-v',
    '/anon',
    SHIPPED,
    'sh',
    '-c',
    'echo kept > /k/f; echo a > /anon/f; while true; do sleep 0.05; done',
  ]);
  t.is(run.code, 0, run.stderr);
  const vols = (await env.tsrun(['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  t.is(vols.length, 3);
  const anon = vols.find((v) => v !== 'keep' && v !== 'before')!;
  t.regex(anon, /^[0-9a-f]{64}$/, 'the anonymous volume has a generated name');
  const refused = await env.tsrun(['volume', 'rm', 'keep']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /remove keep: volume is in use - \[[0-9a-f]{64}\]/);
  const refusedBefore = await env.tsrun(['volume', 'rm', 'before']);
  t.is(refusedBefore.code, 1, 'a volume made before the container is in use too');
  t.regex(refusedBefore.stderr, /remove before: volume is in use - \[[0-9a-f]{64}\]/);
  const pruneVols = await env.tsrun(['volume', 'prune', '-f', '-a']);
  t.is(pruneVols.code, 0, pruneVols.stderr);
  t.is((await env.tsrun(['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean).length, 3, 'prune keeps volumes in use');
  const busy = await env.container(['rm', 'holder']);
  t.is(busy.code, 1);
  t.regex(busy.stderr, /cannot remove container "\/holder": container is running/);
  t.is((await env.container(['rm', '-f', '-v', 'holder'])).code, 0);
  t.deepEqual((await env.tsrun(['volume', 'ls', '-q'])).stdout, 'before\nkeep\n', 'rm -v removed the anonymous volume only');
  t.is((await env.container(['prune', '-f'])).code, 0);
  t.is((await env.tsrun(['volume', 'prune', '-f'])).code, 0, 'without -a, prune removes only anonymous volumes');
  const read = await env.container(['run', ...NONE, '--rm', '-v', 'keep:/k', SHIPPED, 'cat', '/k/f']);
  t.is(read.stdout, 'kept\n', 'named data survived the removal and both prunes');
  const pruned = (await env.tsrun(['volume', 'prune', '-f', '--all'])).stdout.split('\n');
  t.deepEqual(pruned.slice(1, 3).sort(), ['before', 'keep'], 'unused, they go with prune --all');
  t.deepEqual(containerDirs(env), []);
});

rootTest.serial('-v /path makes an anonymous volume that --rm removes; volume create, inspect and their errors', async (t) => {
  const env = await frontEnv(t);
  const r = await env.container(['run', ...NONE, '--rm', '-v', '/scratch', SHIPPED, 'sh', '-c', 'echo x > /scratch/x']);
  t.is(r.code, 0, r.stderr);
  t.is((await env.tsrun(['volume', 'ls', '-q'])).stdout, '', '--rm removed it');
  t.is((await env.tsrun(['volume', 'create', 'made'])).stdout, 'made\n');
  const bad = await env.tsrun(['volume', 'create', 'a/b']);
  t.is(bad.code, 125);
  t.regex(bad.stderr, /includes invalid characters/);
  const missing = await env.tsrun(['volume', 'inspect', 'nosuch']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /get nosuch: no such volume/);
  t.is((await env.tsrun(['volume', 'rm', 'made'])).code, 0);
});
