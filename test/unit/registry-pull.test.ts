// Pulls from a real docker-registry on loopback: OCI, Docker v2s2, zstd, index platform selection,
// idempotent re-pull, and a tampered blob.

import anyTest, { type TestFn } from 'ava';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/image/image-store.js';
import { pull } from '../../src/image/pull.js';
import type { PullProgress } from '../../src/image/progress.js';
import { pushImage, pushIndex, registryBlobPath, REGISTRY_BIN, startRegistry, tempDir, type PushedImage, type TestRegistry } from '../helpers/registry.js';
import { gate, tool } from '../helpers/skip.js';

interface Ctx {
  reg: TestRegistry;
  oci: PushedImage;
  docker: PushedImage;
  zstd: PushedImage;
  amd: PushedImage;
  arm: PushedImage;
  indexDigest: string;
}
const test = anyTest as TestFn<Ctx>;
// The tools are in scripts/apt-packages.txt.
const live = gate(test, tool(REGISTRY_BIN, 'docker-registry'), tool('zstd'));

test.before(async (t) => {
  if (live.skipped) return;
  const reg = await startRegistry();
  t.context.reg = reg;
  t.context.oci = await pushImage(reg, 'test/oci', '1', {
    layers: [{ files: { 'etc/hello': 'hello\n' } }, { files: { 'bin/tool': 'tool', 'usr/share/doc': 'doc' } }],
  });
  t.context.docker = await pushImage(reg, 'test/docker', 'v2', { format: 'docker', layers: [{ files: { 'etc/docker': 'v2s2' } }] });
  t.context.zstd = await pushImage(reg, 'test/zstd', 'latest', {
    layers: [
      { files: { 'etc/z': 'zstd layer' }, compression: 'zstd' },
      { files: { 'etc/plain': 'raw' }, compression: 'none' },
    ],
  });
  t.context.amd = await pushImage(reg, 'test/multi', undefined, { architecture: 'amd64', layers: [{ files: { arch: 'amd64' } }] });
  t.context.arm = await pushImage(reg, 'test/multi', undefined, { architecture: 'arm64', variant: 'v8', layers: [{ files: { arch: 'arm64' } }] });
  t.context.indexDigest = await pushIndex(reg, 'test/multi', 'multi', [
    { image: t.context.amd, architecture: 'amd64' },
    { image: t.context.arm, architecture: 'arm64', variant: 'v8' },
  ]);
});

test.after.always(async (t) => {
  await t.context.reg?.stop();
});

function blobFiles(root: string): string[] {
  try {
    return readdirSync(join(root, 'blobs', 'sha256'));
  } catch {
    return [];
  }
}

async function checkStored(t: import('ava').ExecutionContext<Ctx>, root: string, img: PushedImage): Promise<void> {
  const store = new ImageStore(root);
  for (const b of [img.config, ...img.layers]) {
    t.deepEqual(await store.content.read(b.digest), b.data, `blob ${b.digest} stored byte-exact`);
  }
  t.deepEqual(await store.content.read(img.manifestDigest), img.manifest);
}

live('pulls an OCI image: blobs verified and stored, record written, re-pull downloads nothing', async (t) => {
  const root = tempDir();
  try {
    const events: PullProgress[] = [];
    const rec = await pull(`${t.context.reg.host}/test/oci:1`, { imageRoot: root, onProgress: (e) => events.push(e) });
    t.is(rec.manifestDigest, t.context.oci.manifestDigest);
    t.is(rec.configDigest, t.context.oci.config.digest);
    t.deepEqual(rec.diffIds, t.context.oci.diffIds);
    t.deepEqual(
      rec.layers.map((l) => l.digest),
      t.context.oci.layers.map((l) => l.digest),
    );
    t.deepEqual(rec.names, [`${t.context.reg.host}/test/oci:1`]);
    t.deepEqual(rec.platform, { os: 'linux', architecture: 'amd64' });
    await checkStored(t, root, t.context.oci);
    t.truthy(events.find((e) => e.type === 'resolved'));
    const done = events.find((e) => e.type === 'done') as Extract<PullProgress, { type: 'done' }>;
    t.true(done.downloaded >= t.context.oci.layers.reduce((a, l) => a + l.size, 0));
    // No temp, partial or lock files left next to the blobs.
    t.deepEqual(
      blobFiles(root).filter((n) => n.startsWith('.')),
      [],
    );

    const again: PullProgress[] = [];
    const rec2 = await pull(`${t.context.reg.host}/test/oci:1`, { imageRoot: root, onProgress: (e) => again.push(e) });
    t.is(rec2.manifestDigest, rec.manifestDigest);
    const done2 = again.find((e) => e.type === 'done') as Extract<PullProgress, { type: 'done' }>;
    t.is(done2.downloaded, 0);
    t.true(again.filter((e) => e.type === 'layer' && e.status !== 'waiting').every((e) => e.type === 'layer' && e.status === 'exists'));
    t.is((await new ImageStore(root).list()).length, 1);

    // ifMissing: a stored image is returned without asking the registry at all.
    const quiet: PullProgress[] = [];
    const rec3 = await pull(`${t.context.reg.host}/test/oci:1`, { imageRoot: root, ifMissing: true, onProgress: (e) => quiet.push(e) });
    t.is(rec3.manifestDigest, rec.manifestDigest);
    t.deepEqual(
      quiet.map((e) => e.type),
      ['done'],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('a re-pushed tag is noticed (HEAD digest differs); layers already stored are not downloaded again', async (t) => {
  const { reg } = t.context;
  const base = { files: { 'etc/base': 'base layer shared by both' } };
  const first = await pushImage(reg, 'test/moving', 'v', { layers: [base, { files: { 'etc/v': 'first' } }] });
  const root = tempDir();
  try {
    const r1 = await pull(`${reg.host}/test/moving:v`, { imageRoot: root });
    t.is(r1.manifestDigest, first.manifestDigest);
    const second = await pushImage(reg, 'test/moving', 'v', { layers: [base, { files: { 'etc/v': 'second' } }] });
    const events: PullProgress[] = [];
    const r2 = await pull(`${reg.host}/test/moving:v`, { imageRoot: root, onProgress: (e) => events.push(e) });
    t.is(r2.manifestDigest, second.manifestDigest);
    const finals = events.filter(
      (e): e is Extract<PullProgress, { type: 'layer' }> => e.type === 'layer' && e.status !== 'waiting' && e.status !== 'downloading',
    );
    t.deepEqual(
      finals.map((e) => [e.digest, e.status]).sort(),
      [
        [second.layers[0].digest, 'exists'],
        [second.layers[1].digest, 'done'],
      ].sort(),
    );
    const done = events.find((e) => e.type === 'done') as Extract<PullProgress, { type: 'done' }>;
    t.is(done.downloaded, second.config.size + second.layers[1].size);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('pulls a Docker schema 2 image', async (t) => {
  const root = tempDir();
  try {
    const rec = await pull(`${t.context.reg.host}/test/docker:v2`, { imageRoot: root });
    t.is(rec.manifestMediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    t.is(rec.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    await checkStored(t, root, t.context.docker);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('pulls zstd and uncompressed layers as blobs', async (t) => {
  const root = tempDir();
  try {
    const rec = await pull(`${t.context.reg.host}/test/zstd`, { imageRoot: root });
    t.deepEqual(
      rec.layers.map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar'],
    );
    t.deepEqual(rec.names, [`${t.context.reg.host}/test/zstd:latest`]);
    await checkStored(t, root, t.context.zstd);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('selects the platform from an index (amd64, arm64/v8) and records the index digest', async (t) => {
  const root = tempDir();
  try {
    const amd = await pull(`${t.context.reg.host}/test/multi:multi`, { imageRoot: root, platform: 'linux/amd64' });
    t.is(amd.manifestDigest, t.context.amd.manifestDigest);
    t.is(amd.indexDigest, t.context.indexDigest);
    const arm = await pull(`${t.context.reg.host}/test/multi:multi`, { imageRoot: root, platform: 'linux/arm64' });
    t.is(arm.manifestDigest, t.context.arm.manifestDigest);
    t.deepEqual(arm.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    // The tag moved to the arm64 manifest; the amd64 record is left without names.
    const store = new ImageStore(root);
    t.is((await store.get(`${t.context.reg.host}/test/multi:multi`)).manifestDigest, arm.manifestDigest);
    t.deepEqual((await store.get(amd.id)).names, []);
    // By digest: resolved from the store with no registry round trip needed.
    const byDigest = await pull(`${t.context.reg.host}/test/multi@${t.context.indexDigest}`, { imageRoot: root });
    t.is(byDigest.indexDigest, t.context.indexDigest);
    await t.throwsAsync(pull(`${t.context.reg.host}/test/multi:multi`, { imageRoot: root, platform: 'linux/s390x' }), {
      message: /no manifest for platform linux\/s390x/,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('a tampered blob fails with TSRUN_IMAGE_DIGEST and leaves nothing in the store', async (t) => {
  const reg = t.context.reg;
  const img = await pushImage(reg, 'test/tampered', '1', { layers: [{ files: { 'etc/a': 'good content here' } }, { files: { 'etc/b': 'second' } }] });
  // Same length, different bytes: only the digest can tell.
  const file = registryBlobPath(reg, img.layers[0].digest);
  const orig = readFileSync(file);
  const bad = Buffer.from(orig);
  bad[bad.length - 5] ^= 0xff;
  writeFileSync(file, bad);
  const root = tempDir();
  try {
    const err = await t.throwsAsync(pull(`${reg.host}/test/tampered:1`, { imageRoot: root }));
    t.is((err as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
    t.regex(err!.message, new RegExp(img.layers[0].digest));
    t.false(blobFiles(root).includes(img.layers[0].digest.slice(7)), 'the bad blob is not published');
    t.deepEqual(
      blobFiles(root).filter((n) => n.includes(img.layers[0].digest.slice(7))),
      [],
      'no partial of it either',
    );
    t.deepEqual(await new ImageStore(root).list(), []);
  } finally {
    writeFileSync(file, orig);
    rmSync(root, { recursive: true, force: true });
  }
});

live('an unknown tag and an unknown repository are clear errors', async (t) => {
  const root = tempDir();
  try {
    const e = await t.throwsAsync(pull(`${t.context.reg.host}/test/oci:nope`, { imageRoot: root }));
    t.is((e as { code?: string }).code, 'TSRUN_IMAGE_NOT_FOUND');
    t.regex(e!.message, /test\/oci:nope/);
    const e2 = await t.throwsAsync(pull(`${t.context.reg.host}/test/absent:1`, { imageRoot: root }));
    t.is((e2 as { code?: string }).code, 'TSRUN_IMAGE_NOT_FOUND');
    t.regex(e2!.message, /test\/absent:1/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
