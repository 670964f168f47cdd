// Overlay stacking and image housekeeping: an image of 100 layers (order, whiteouts) runs; the
// mount(2) fallback handles 100 lower dirs past the one-page option limit; a hostile image's
// /etc/passwd symlink and FIFO stay inside it; image ls/inspect/rm/prune keep layers other
// images or live containers use and remove the rest.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chainIDs } from '../../src/image/layers.js';
import { isMountPoint, legacyMountData, mountOverlay, unmountAll } from '../../src/image/overlay.js';
import { busyboxLayer, imageEnv, layerOf, SHIPPED, writeLayout, type ImageEnv, type LayerBlob } from './image-fixtures.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('overlay mounts'));

function layerDirs(env: ImageEnv): string[] {
  try {
    return fs
      .readdirSync(path.join(env.imageRoot, 'layers'))
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .sort();
  } catch {
    return [];
  }
}

const hex = (chain: string) => chain.slice(7);

rootTest('an image of 100 layers runs: the top layer wins, a whiteout hides a lower file', async (t) => {
  const env = await imageEnv(t);
  const layers: LayerBlob[] = [busyboxLayer(env.layout())];
  for (let i = 1; i < 100; i++) {
    const entries = [
      { name: 'layers/', type: '5', mode: 0o755 },
      { name: `layers/${i}`, body: `${i}\n` },
      { name: 'top', body: `${i}\n` },
    ];
    if (i === 50) entries.push({ name: 'layers/.wh.10', body: '' });
    layers.push(layerOf(entries, i % 2 === 0));
  }
  const layout = writeLayout(path.join(env.dir, 'deep'), { name: 'localhost/deep:100', layers });
  t.is((await env.tsrun(['image', 'import', layout])).code, 0);
  const r = await env.tsrun([
    'run',
    '--image',
    'localhost/deep:100',
    '--rm',
    '--',
    'sh',
    '-c',
    'cat /top; ls /layers | wc -l; cat /layers/10 2>/dev/null || echo whited-out; cat /layers/11',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '99\n98\nwhited-out\n11\n');
  t.is(layerDirs(env).length, 100, 'each layer unpacked once into its own dir');
});

rootTest('the mount(2) fallback stacks 100 lower dirs (paths past one page go through /proc/self/fd)', async (t) => {
  const env = await imageEnv(t);
  const lowers: string[] = [];
  for (let i = 0; i < 100; i++) {
    const d = path.join(env.dir, 'lower-with-a-rather-long-directory-name-to-pass-the-page-limit', String(i).padStart(3, '0'));
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'top'), `${i}\n`);
    fs.writeFileSync(path.join(d, `f${i}`), '');
    lowers.push(d);
  }
  lowers.reverse(); // top first
  t.is(legacyMountData(lowers), undefined, 'the plain option string does not fit in a page');
  // `lowerdir+` exists since Linux 6.8: older kernels (Debian 12's 6.1, the test VM) refuse it,
  // and there 'auto' must take the mount(2) fallback by itself, which is what a user gets.
  const [maj, min] = os
    .release()
    .split('.')
    .map((n) => parseInt(n, 10));
  const hasLowerdirPlus = maj > 6 || (maj === 6 && min >= 8);
  if (!hasLowerdirPlus) {
    t.log(`kernel ${os.release()} has no overlayfs lowerdir+ (6.8+): the forced fsconfig path must fail cleanly; auto must fall back`);
    const target = path.join(env.dir, 'refused-merged');
    fs.mkdirSync(target);
    t.teardown(() => void unmountAll(target));
    t.throws(() => mountOverlay({ lowers, target, api: 'fsconfig' }), { message: /lowerdir\+|create overlay/ });
    t.false(isMountPoint(target), 'a refused fsconfig mounts nothing');
  }
  for (const api of hasLowerdirPlus ? (['legacy', 'fsconfig', 'auto'] as const) : (['legacy', 'auto'] as const)) {
    const upper = path.join(env.dir, `${api}-upper`);
    const work = path.join(env.dir, `${api}-work`);
    const target = path.join(env.dir, `${api}-merged`);
    for (const d of [upper, work, target]) fs.mkdirSync(d);
    mountOverlay({ lowers, upper, work, target, api });
    try {
      t.true(isMountPoint(target));
      t.is(fs.readFileSync(path.join(target, 'top'), 'utf8'), '99\n', `${api}: the first lower is the top`);
      t.is(fs.readdirSync(target).length, 101, `${api}: every layer is visible`);
    } finally {
      unmountAll(target);
    }
    t.false(isMountPoint(target));
  }
});

rootTest("a hostile image's /etc/passwd symlink resolves inside the image; a FIFO is refused without hanging", async (t) => {
  const env = await imageEnv(t);
  const base = busyboxLayer(env.layout());
  const escape = layerOf([
    { name: 'etc/', type: '5', mode: 0o755 },
    { name: 'etc/passwd', type: '2', linkname: '../../../../../../../../../etc/shadow' },
  ]);
  t.is((await env.tsrun(['image', 'import', writeLayout(path.join(env.dir, 'esc'), { name: 'localhost/escape:1', layers: [base, escape] })])).code, 0);
  const r = await env.tsrun(['run', '--image', 'localhost/escape:1', '--rm', '-u', 'root', '--', 'id']);
  t.is(r.code, 1, 'the host /etc/shadow was not read as the image passwd');
  t.regex(r.stderr, /unable to find user root: .*no \/etc\/passwd/);
  const numeric = await env.tsrun(['run', '--image', 'localhost/escape:1', '--rm', '-u', '0', '--', 'echo', 'numeric ok']);
  t.is(numeric.stdout, 'numeric ok\n', numeric.stderr);

  const fifo = layerOf([
    { name: 'etc/', type: '5', mode: 0o755 },
    { name: 'etc/group', type: '6', mode: 0o644 },
  ]);
  t.is((await env.tsrun(['image', 'import', writeLayout(path.join(env.dir, 'fifo'), { name: 'localhost/fifo:1', layers: [base, fifo] })])).code, 0);
  const f = await env.tsrun(['run', '--image', 'localhost/fifo:1', '--rm', '-u', 'tsrun', '--', 'id'], { timeoutMs: 20_000 });
  t.is(f.code, 1);
  t.regex(f.stderr, /\/etc\/group in the image is a FIFO, not a regular file/);
  t.deepEqual(fs.readdirSync(path.join(env.imageRoot, 'containers')), []);
});

rootTest('image ls / inspect / rm / prune keep what other images and live containers use', async (t) => {
  const env = await imageEnv(t);
  t.is((await env.tsrun(['image', 'import', env.layout()])).code, 0);
  const base = busyboxLayer(env.layout());
  const extra = layerOf([
    { name: 'app/', type: '5', mode: 0o755 },
    { name: 'app/hello', body: 'hi\n' },
  ]);
  t.is((await env.tsrun(['image', 'import', writeLayout(path.join(env.dir, 'b'), { name: 'localhost/app:1', layers: [base, extra] })])).code, 0);
  const [baseChain, appChain] = chainIDs([base.diffId, extra.diffId]).map(hex);

  const ls = await env.tsrun(['image', 'ls']);
  t.regex(ls.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
  t.regex(ls.stdout, /localhost\/app\s+1\s+[0-9a-f]{12}\s/);
  t.regex(ls.stdout, /localhost\/tsrun-busybox\s+latest\s/);
  t.is((await env.tsrun(['image', 'ls', '-q'])).stdout.trim().split('\n').length, 2);
  const inspect = JSON.parse((await env.tsrun(['image', 'inspect', 'localhost/app:1'])).stdout);
  t.is(inspect[0].diffIds.length, 2);
  t.deepEqual(inspect[0].config.config.Cmd, ['sh']);

  const id = env.id('gc');
  const run = await env.tsrun(['run', '--image', 'localhost/app:1', '-d', id, '--', 'sleep', '60']);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(layerDirs(env), [baseChain, appChain].sort());

  const refused = await env.tsrun(['image', 'rm', 'localhost/app:1']);
  t.is(refused.code, 1, 'a container uses its only name: docker rmi wants -f');
  t.regex(refused.stderr, /unable to remove repository reference .*localhost\/app:1.* \(must force\)/);
  const rm = await env.tsrun(['image', 'rm', '-f', 'localhost/app:1']);
  t.is(rm.code, 0, rm.stderr);
  t.regex(rm.stdout, /Untagged: localhost\/app:1/);
  t.not((await env.tsrun(['image', 'inspect', 'localhost/app:1'])).code, 0, 'the name is gone (the running container keeps the image, untagged)');
  t.deepEqual(layerDirs(env), [baseChain, appChain].sort(), 'a running container keeps its layers');
  t.is((await env.tsrun(['image', 'prune'])).code, 0);
  t.deepEqual(layerDirs(env), [baseChain, appChain].sort(), 'prune keeps them too');
  t.is((await env.tsrun(['exec', id, 'cat', '/app/hello'])).stdout, 'hi\n', 'the container still reads its layer');

  t.is((await env.tsrun(['delete', '--force', id])).code, 0);
  const pruned = await env.tsrun(['image', 'prune']);
  t.regex(pruned.stdout, new RegExp(`Deleted layer: sha256:${appChain}`));
  t.deepEqual(layerDirs(env), [baseChain], 'the base layer stays: the shipped image uses it');

  t.is((await env.tsrun(['image', 'rm', SHIPPED])).code, 0);
  t.deepEqual(layerDirs(env), []);
  t.is((await env.tsrun(['image', 'ls', '-q'])).stdout, '');
  const blobs = path.join(env.imageRoot, 'blobs', 'sha256');
  t.deepEqual(
    fs.readdirSync(blobs).filter((n) => !n.startsWith('.')),
    [],
    'no blob left',
  );
});
