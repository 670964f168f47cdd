// `run --image <loopback registry>/busybox` (issue 6 acceptance): Debian's docker-registry on
// 127.0.0.1 serves the shipped busybox layer; the first run pulls, unpacks, runs and cleans up;
// the second downloads nothing and unpacks nothing. Also `image pull` with --creds (htpasswd).
import fs from 'node:fs';
import path from 'node:path';
import { pushBlob, pushManifest, REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxLayer, events, imageEnv, sha256, type ImageEnv } from './image-fixtures.js';
import { needs, ROOT, tool } from '../helpers/skip.js';

const rootTest = needs(ROOT, tool(REGISTRY_BIN, 'docker-registry'), tool('htpasswd', 'apache2-utils'));

async function pushBusybox(env: ImageEnv, reg: TestRegistry, repo: string): Promise<void> {
  const layer = busyboxLayer(env.layout());
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: arch,
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    }),
  );
  await pushBlob(reg, repo, layer.data);
  await pushBlob(reg, repo, config);
  const mt = 'application/vnd.oci.image.manifest.v1+json';
  await pushManifest(
    reg,
    repo,
    'latest',
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mt,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: layer.mediaType, digest: sha256(layer.data), size: layer.data.length }],
      }),
    ),
    mt,
  );
}

function layerInodes(env: ImageEnv): Map<string, number> {
  const dir = path.join(env.imageRoot, 'layers');
  return new Map(
    fs
      .readdirSync(dir)
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .map((n) => [n, fs.statSync(path.join(dir, n, 'diff')).ino]),
  );
}

rootTest('run --image <loopback>/busybox pulls, runs and cleans up; a second run downloads and unpacks nothing', async (t) => {
  const env = await imageEnv(t);
  const reg = await startRegistry('none');
  t.teardown(() => reg.stop());
  await pushBusybox(env, reg, 'busybox');
  const ref = `${reg.host}/busybox`;
  const cmd = ['--', 'sh', '-c', 'id; cat /etc/os-release || true'];

  const first = await env.tsrun(['run', '--image', ref, '--rm', '--progress', 'json', ...cmd]);
  t.is(first.code, 0, first.stderr);
  t.true(first.stdout.startsWith('uid=0(root) gid=0(root)'), first.stdout);
  t.regex(first.stdout, /NAME="tsrun busybox"/);
  const ev1 = events(first);
  const downloaded = ev1.find((e) => e.type === 'done')?.downloaded as number;
  t.true(downloaded > 100_000, `the first run downloaded the layer (${downloaded} bytes)`);
  t.deepEqual(
    ev1.filter((e) => e.type === 'unpack').map((e) => e.created),
    [true],
  );
  t.deepEqual(fs.readdirSync(path.join(env.imageRoot, 'containers')), [], 'no container dir after --rm');
  t.deepEqual(
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(env.dir)),
    [],
  );
  const inodes = layerInodes(env);

  const second = await env.tsrun(['run', '--image', ref, '--rm', '--progress', 'json', ...cmd]);
  t.is(second.code, 0, second.stderr);
  t.is(second.stdout, first.stdout);
  const ev2 = events(second);
  t.deepEqual(
    ev2.filter((e) => e.type === 'layer' || e.type === 'resolving'),
    [],
    'no registry traffic and no layer download',
  );
  t.deepEqual(
    ev2.filter((e) => e.type === 'unpack').map((e) => e.created),
    [false],
    'the layer is not unpacked again',
  );
  t.deepEqual(layerInodes(env), inodes, 'the same unpacked layer dirs');

  // An explicit pull of a present image asks the registry (HEAD) and fetches nothing.
  const pull = await env.tsrun(['image', 'pull', '--progress', 'json', ref]);
  t.is(pull.code, 0, pull.stderr);
  t.is(pull.stdout, `${ref}:latest\n`);
  t.is(events(pull).find((e) => e.type === 'done')?.downloaded, 0);
});

rootTest('image pull --creds against an htpasswd registry, then run by ID prefix', async (t) => {
  const env = await imageEnv(t);
  const reg = await startRegistry('htpasswd');
  t.teardown(() => reg.stop());
  await pushBusybox(env, reg, 'private/busybox');
  const ref = `${reg.host}/private/busybox:latest`;
  const denied = await env.tsrun(['image', 'pull', '--progress', 'none', ref], { env: { ...process.env, HOME: env.dir } });
  t.not(denied.code, 0, 'no credentials: refused');
  const ok = await env.tsrun(['image', 'pull', '--progress', 'none', '--creds', reg.creds!, ref]);
  t.is(ok.code, 0, ok.stderr);
  const ls = await env.tsrun(['image', 'ls', '--format', 'json']);
  const [rec] = JSON.parse(ls.stdout) as { id: string; names: string[] }[];
  t.deepEqual(rec.names, [ref]);
  const r = await env.tsrun(['run', '--image', rec.id.slice(7, 19), '--rm', '--', 'echo', 'by id']);
  t.is(r.stdout, 'by id\n', r.stderr);
});
