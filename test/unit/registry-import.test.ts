// Import of an OCI layout directory, an oci-archive and a docker-archive, each written by skopeo
// from images in a real loopback registry; a corrupted archive blob is refused; prune removes only
// blobs no image references.

import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/image/image-store.js';
import { importImage } from '../../src/image/import.js';
import { pull } from '../../src/image/pull.js';
import { makeTar, pushImage, REGISTRY_BIN, sha256, startRegistry, tempDir, type PushedImage, type TestRegistry } from '../helpers/registry.js';
import { gate, tool } from '../helpers/skip.js';

interface Ctx {
  reg: TestRegistry;
  img: PushedImage;
  other: PushedImage;
  work: string;
}
const test = anyTest as TestFn<Ctx>;
// The tools are in scripts/apt-packages.txt.
const live = gate(test, tool(REGISTRY_BIN, 'docker-registry'), tool('skopeo'));

function skopeo(...args: string[]): void {
  const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo copy ${args.join(' ')}: ${r.stderr}`);
}

test.before(async (t) => {
  if (live.skipped) return;
  t.context.reg = await startRegistry();
  t.context.work = tempDir('tsrun-import-');
  // Two images sharing their first layer, so prune has a shared blob to keep.
  const shared = { files: { 'etc/shared': 'shared layer' } };
  t.context.img = await pushImage(t.context.reg, 'test/imp', '1', { layers: [shared, { files: { 'etc/own': 'image one' } }] });
  t.context.other = await pushImage(t.context.reg, 'test/other', '1', { layers: [shared, { files: { 'etc/own': 'image two' } }] });
});

test.after.always(async (t) => {
  await t.context.reg?.stop();
  if (t.context.work) rmSync(t.context.work, { recursive: true, force: true });
});

live('imports an OCI layout directory written by skopeo', async (t) => {
  const { reg, img, work } = t.context;
  const layout = join(work, 'layout');
  skopeo(`docker://${reg.host}/test/imp:1`, `oci:${layout}:1`);
  const root = tempDir();
  try {
    const [rec] = await importImage(layout, { imageRoot: root, name: 'local/imp:one' });
    t.is(rec.configDigest, img.config.digest);
    t.deepEqual(rec.diffIds, img.diffIds);
    t.deepEqual(rec.names, ['docker.io/local/imp:one']);
    const store = new ImageStore(root);
    for (const l of rec.layers) t.true(await store.content.has(l.digest, l.size));
    t.is((await store.get('local/imp:one')).manifestDigest, rec.manifestDigest);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('imports an oci-archive and refuses one with a corrupted blob', async (t) => {
  const { reg, img, work } = t.context;
  const archive = join(work, 'imp-oci.tar');
  skopeo(`docker://${reg.host}/test/imp:1`, `oci-archive:${archive}:1`);
  const root = tempDir();
  try {
    const [rec] = await importImage(archive, { imageRoot: root, name: 'imp:oci' });
    t.is(rec.configDigest, img.config.digest);
    t.deepEqual(rec.names, ['docker.io/library/imp:oci']);
    t.is((await new ImageStore(root).get('imp:oci')).id, img.config.digest);

    // Flip one byte inside the config blob's body in the tar: the import must fail on its digest.
    const buf = readFileSync(archive);
    const at = buf.indexOf(img.config.data);
    t.true(at > 0, 'config bytes found in the archive');
    buf[at + 2] ^= 0x01;
    const bad = join(work, 'imp-oci-bad.tar');
    writeFileSync(bad, buf);
    const root2 = tempDir();
    try {
      const e = await t.throwsAsync(importImage(bad, { imageRoot: root2 }));
      t.is((e as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
      t.false(readdirSync(join(root2, 'blobs', 'sha256')).includes(img.config.digest.slice(7)));
      t.deepEqual(await new ImageStore(root2).list(), []);
    } finally {
      rmSync(root2, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('imports a docker-archive (docker save format) with its RepoTags, verified against diff_ids', async (t) => {
  const { reg, img, work } = t.context;
  const archive = join(work, 'imp-docker.tar');
  skopeo(`docker://${reg.host}/test/imp:1`, `docker-archive:${archive}:example.com/team/imp:saved`);
  const root = tempDir();
  try {
    const recs = await importImage(archive, { imageRoot: root });
    t.is(recs.length, 1);
    const rec = recs[0];
    t.deepEqual(rec.names, ['example.com/team/imp:saved']);
    t.is(rec.configDigest, img.config.digest);
    t.deepEqual(rec.diffIds, img.diffIds);
    // docker save keeps layers uncompressed: their digests are the diffIDs.
    t.deepEqual(
      rec.layers.map((l) => l.digest),
      img.diffIds,
    );
    t.is(rec.manifestMediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('a docker save archive whose layer does not match diff_ids is refused', async (t) => {
  const { work } = t.context;
  const layer = await makeTar({ 'etc/x': 'x' });
  const cfg = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [sha256('something else')] } }));
  const cfgName = `${sha256(cfg).slice(7)}.json`;
  const archive = await makeTar({
    [cfgName]: cfg,
    'abc/layer.tar': layer,
    'manifest.json': JSON.stringify([{ Config: cfgName, RepoTags: ['bad:1'], Layers: ['abc/layer.tar'] }]),
  });
  const file = join(work, 'bad-docker.tar');
  writeFileSync(file, archive);
  const root = tempDir();
  try {
    const e = await t.throwsAsync(importImage(file, { imageRoot: root }));
    t.is((e as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
    t.regex(e!.message, /diff_ids/);
    t.deepEqual(await new ImageStore(root).list(), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('prune removes only blobs no image references (shared layers stay)', async (t) => {
  const { reg, img, other } = t.context;
  const root = tempDir();
  try {
    await pull(`${reg.host}/test/imp:1`, { imageRoot: root });
    await pull(`${reg.host}/test/other:1`, { imageRoot: root });
    const store = new ImageStore(root);
    // A stray blob nobody references.
    const stray = await store.content.put(Buffer.from('stray'));
    let r = await store.prune();
    t.deepEqual(r.blobs, [stray]);
    t.is(r.bytes, 5);
    t.is((await store.content.list()).length, 2 * 3 + 1, 'two manifests, two configs, one shared + two own layers');

    const removed = await store.remove(`${reg.host}/test/imp:1`);
    t.is(removed.deleted, img.config.digest);
    r = await store.prune();
    t.deepEqual([...r.blobs].sort(), [img.manifestDigest, img.config.digest, img.layers[1].digest].sort());
    t.true(await store.content.has(img.layers[0].digest), 'the layer shared with the other image stays');
    for (const b of [other.config, ...other.layers]) t.true(await store.content.has(b.digest));
    await t.throwsAsync(store.get(`${reg.host}/test/imp:1`), { code: 'TSRUN_IMAGE_NOT_FOUND' } as never);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
