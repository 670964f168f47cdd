// The library's image side: Runtime.pull from a local registry (docker-registry from Debian),
// images.list/find/remove, and a container made from the image ({ image }): an overlay rootfs
// over the unpacked layer, removed again by delete.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { Runtime, type ImageRunEvent } from '../../src/index.js';
import { uniqueId } from '../helpers/bundle.js';
import { pushBlob, pushManifest, REGISTRY_BIN, sha256, startRegistry } from '../helpers/registry.js';
import { needs, ROOT, tool } from '../helpers/skip.js';

const live = needs(ROOT, tool(REGISTRY_BIN, 'docker-registry'), tool('/bin/busybox', 'busybox-static'));

/** A one-layer image: busybox at /bin/busybox with sh and echo linked to it. */
async function busyboxLayer(): Promise<Buffer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsrun-api-layer-'));
  try {
    mkdirSync(path.join(dir, 'bin'));
    copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
    chmodSync(path.join(dir, 'bin/busybox'), 0o755);
    for (const a of ['sh', 'echo', 'cat', 'id']) symlinkSync('busybox', path.join(dir, 'bin', a));
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(path.join(dir, d));
    const chunks: Buffer[] = [];
    for await (const c of tar.c({ cwd: dir, portable: true }, ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) as AsyncIterable<Buffer>)
      chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

live('pull with progress, list, run from the image, remove, import an OCI layout', async (t) => {
  const reg = await startRegistry('none');
  const work = mkdtempSync(path.join(os.tmpdir(), 'tsrun-api-img-'));
  const rt = new Runtime({ root: path.join(work, 'state'), imageRoot: path.join(work, 'images') });
  t.teardown(async () => {
    for (const s of await rt.list().catch(() => [])) await rt.delete(s.id, { force: true, missingOk: true }).catch(() => {});
    await reg.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const raw = await busyboxLayer();
  const layer = gzipSync(raw);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['echo', 'default command'], Env: ['PATH=/bin', 'FROM_IMAGE=yes'], WorkingDir: '/tmp' },
      rootfs: { type: 'layers', diff_ids: [sha256(raw)] },
    }),
  );
  await pushBlob(reg, 'api/busybox', layer);
  await pushBlob(reg, 'api/busybox', config);
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  const digest = await pushManifest(reg, 'api/busybox', '1', manifest, mediaType);
  const ref = `${reg.host}/api/busybox:1`;

  const aborted = await rt.pull(ref, { signal: AbortSignal.abort(new Error('no pull')) }).then(
    () => null,
    (e: Error) => e,
  );
  t.truthy(aborted, 'an aborted pull rejects');
  t.deepEqual(await rt.images.list(), []);

  const progress: string[] = [];
  const rec = await rt.pull(ref, { onProgress: (e) => progress.push(e.type) });
  t.is(rec.manifestDigest, digest);
  t.true(progress.includes('resolved') && progress.includes('done'), progress.join(','));
  t.deepEqual(
    (await rt.images.list()).map((r) => r.manifestDigest),
    [digest],
  );
  t.is((await rt.images.find(ref))?.id, rec.id);

  const events: ImageRunEvent[] = [];
  const id = uniqueId('api-img');
  const c = await rt.run(id, { image: ref, onProgress: (e) => events.push(e) });
  const out = await c.output();
  t.is(out.stdout, 'default command\n');
  t.true(events.some((e) => e.type === 'unpack'));
  await c.delete();

  const c2 = await rt.run(uniqueId('api-img2'), {
    image: rec.id,
    args: ['sh', '-c', 'echo "$FROM_IMAGE $EXTRA $(pwd)"; echo x > /written'],
    env: { EXTRA: 'more' },
  });
  const out2 = await c2.output();
  t.is(out2.stdout, 'yes more /tmp\n', out2.stderr);
  t.is(out2.exitCode, 0);
  await c2.delete();

  const gc = await rt.images.remove(ref);
  t.log(`remove: ${JSON.stringify(gc)}`);
  t.deepEqual(gc.images, [rec.id]);
  t.deepEqual(gc.untagged, [ref]);
  t.deepEqual(await rt.images.list(), []);
  await rt.images.prune();

  // The same image from an OCI image layout directory.
  const layout = path.join(work, 'layout');
  mkdirSync(path.join(layout, 'blobs/sha256'), { recursive: true });
  for (const b of [layer, config, manifest]) writeFileSync(path.join(layout, 'blobs/sha256', sha256(b).slice('sha256:'.length)), b);
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType, digest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }],
    }),
  );
  const imported = await rt.images.import(layout, { name: 'local/imported:1' });
  t.deepEqual(
    imported.map((r) => r.manifestDigest),
    [digest],
  );
  const c3 = await rt.run(uniqueId('api-img3'), { image: 'local/imported:1', args: ['echo', 'imported'] });
  t.is((await c3.output()).stdout, 'imported\n');
  await c3.delete();
});
