// Pull from a real loopback docker-registry, then unpack every layer with the layer store
// (src/image/layers.ts): the record's diffIDs and layer blobs must be what the unpacker needs,
// for gzip, zstd and uncompressed layers, and for a docker-archive import.

import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore, type ImageRecord } from '../../src/image/image-store.js';
import { importImage } from '../../src/image/import.js';
import { chainIDs, ensureLayer } from '../../src/image/layers.js';
import { pull } from '../../src/image/pull.js';
import { pushImage, REGISTRY_BIN, startRegistry, tempDir, type TestRegistry } from '../helpers/registry.js';
import { gate, ROOT, tool } from '../helpers/skip.js';

const test = anyTest as TestFn<{ reg: TestRegistry }>;
// The tools are in scripts/apt-packages.txt.
const live = gate(test, ROOT, tool(REGISTRY_BIN, 'docker-registry'), tool('zstd'), tool('skopeo'));

test.before(async (t) => {
  if (live.skipped) return;
  t.context.reg = await startRegistry();
  await pushImage(t.context.reg, 'unpack/mixed', '1', {
    layers: [
      { files: { 'etc/os-release': 'ID=test\n', 'bin/a': 'gzip layer' }, compression: 'gzip' },
      { files: { 'bin/b': 'zstd layer' }, compression: 'zstd' },
      { files: { 'bin/c': 'plain layer' }, compression: 'none' },
    ],
  });
  // skopeo cannot write zstd layers into a docker-archive: a gzip-only image for that test.
  await pushImage(t.context.reg, 'unpack/gz', '1', {
    layers: [{ files: { 'etc/os-release': 'ID=test\n' } }, { files: { 'bin/b': 'second layer' } }],
  });
});

test.after.always(async (t) => {
  await t.context.reg?.stop();
});

async function unpackAll(root: string, rec: ImageRecord): Promise<string[]> {
  const store = new ImageStore(root);
  const chains = chainIDs(rec.diffIds);
  const dirs: string[] = [];
  for (let i = 0; i < rec.layers.length; i++) {
    const info = await ensureLayer(root, {
      diffID: rec.diffIds[i],
      chainID: chains[i],
      parent: i > 0 ? chains[i - 1] : undefined,
      mediaType: rec.layers[i].mediaType,
      open: () => store.content.createReadStream(rec.layers[i].digest),
    });
    dirs.push(info.diffDir);
  }
  return dirs;
}

live('pulled gzip, zstd and plain layers unpack with matching diffIDs', async (t) => {
  const root = tempDir();
  try {
    const rec = await pull(`${t.context.reg.host}/unpack/mixed:1`, { imageRoot: root });
    const dirs = await unpackAll(root, rec);
    t.is(readFileSync(join(dirs[0], 'bin/a'), 'utf8'), 'gzip layer');
    t.is(readFileSync(join(dirs[1], 'bin/b'), 'utf8'), 'zstd layer');
    t.is(readFileSync(join(dirs[2], 'bin/c'), 'utf8'), 'plain layer');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

live('a docker-archive written by skopeo imports and unpacks', async (t) => {
  const root = tempDir();
  const work = tempDir('tsrun-unpack-');
  try {
    const archive = join(work, 'mixed.tar');
    const r = spawnSync(
      'skopeo',
      ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${t.context.reg.host}/unpack/gz:1`, `docker-archive:${archive}:mixed:saved`],
      { encoding: 'utf8' },
    );
    t.is(r.status, 0, r.stderr);
    const [rec] = await importImage(archive, { imageRoot: root });
    t.deepEqual(rec.names, ['docker.io/library/mixed:saved']);
    const dirs = await unpackAll(root, rec);
    t.is(readFileSync(join(dirs[0], 'etc/os-release'), 'utf8'), 'ID=test\n');
    t.is(readFileSync(join(dirs[1], 'bin/b'), 'utf8'), 'second layer');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});
