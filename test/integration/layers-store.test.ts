// The layer store: unpack once, verify the diffID (nothing published on mismatch), survive a
// SIGKILL mid-unpack, and let concurrent unpackers (in-process and in other processes) end with one
// correct copy. chainIDs per image-spec config.md.
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chainIDs, ensureLayer, getLayer, listLayers, removeLayer } from '../../src/image/layers.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('layer unpacking restores owners and devices'));

const LAYERS_TS = fileURLToPath(new URL('../../src/image/layers.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Fixture {
  dir: string;
  root: string;
  tar: Buffer;
  gz: string;
  diffID: string;
}

function fixture(t: ExecutionContext): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-layers-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(src, 'etc/os-release'), 'ID=test\n');
  fs.writeFileSync(path.join(src, 'big'), Buffer.alloc(3 << 20, 0x61)); // enough to kill mid-way
  execFileSync('mknod', [path.join(src, 'null'), 'c', '1', '3']);
  const tarPath = path.join(dir, 'layer.tar');
  execFileSync('tar', ['--format=pax', '-C', src, '-cf', tarPath, '.']);
  execFileSync('sh', ['-ec', 'gzip -c layer.tar > layer.tar.gz'], { cwd: dir });
  const tar = fs.readFileSync(tarPath);
  return { dir, root: path.join(dir, 'root'), tar, gz: path.join(dir, 'layer.tar.gz'), diffID: sha(tar) };
}

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

test('chainIDs follow image-spec config.md', (t) => {
  const d = [sha('a'), sha('b'), sha('c')];
  const c1 = sha(`${d[0]} ${d[1]}`);
  t.deepEqual(chainIDs(d), [d[0], c1, sha(`${c1} ${d[2]}`)]);
  t.deepEqual(chainIDs([]), []);
  t.throws(() => chainIDs(['md5:abc']), { message: /bad diffID/ });
});

rootTest('unpacks once, lists, reuses, removes', async (t) => {
  const f = fixture(t);
  const [chainID] = chainIDs([f.diffID]);
  let opened = 0;
  const spec = { diffID: f.diffID, chainID, mediaType: GZIP, open: () => (opened++, fs.createReadStream(f.gz)) };
  const a = await ensureLayer(f.root, spec);
  t.true(a.created);
  t.is(a.diffDir, path.join(f.root, 'layers', chainID.slice(7), 'diff'));
  t.is(fs.readFileSync(path.join(a.diffDir, 'etc/os-release'), 'utf8'), 'ID=test\n');
  t.true(fs.lstatSync(path.join(a.diffDir, 'null')).isCharacterDevice());
  t.is(a.size, f.tar.length);
  t.is(fs.statSync(path.join(f.root, 'layers')).mode & 0o777, 0o700);
  const b = await ensureLayer(f.root, spec);
  t.false(b.created);
  t.is(opened, 1, 'second call does not open the blob');
  t.deepEqual(
    listLayers(f.root).map((l) => l.chainID),
    [chainID],
  );
  t.deepEqual(getLayer(f.root, chainID)?.diffID, f.diffID);
  t.true(await removeLayer(f.root, chainID));
  t.false(await removeLayer(f.root, chainID));
  t.deepEqual(fs.readdirSync(path.join(f.root, 'layers')), [], 'no scratch or lock files left');
});

rootTest('a diffID mismatch publishes nothing', async (t) => {
  const f = fixture(t);
  const wrong = sha('not this layer');
  const err = await t.throwsAsync(ensureLayer(f.root, { diffID: wrong, chainID: wrong, mediaType: GZIP, open: () => fs.createReadStream(f.gz) }));
  t.is((err as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
  t.regex(err!.message, new RegExp(`${f.diffID}.*expected diffID ${wrong}`));
  t.deepEqual(fs.readdirSync(path.join(f.root, 'layers')), []);
  t.is(getLayer(f.root, wrong), undefined);
  // a corrupt blob (truncated gzip) fails too, and leaves nothing either
  const half = fs.readFileSync(f.gz).subarray(0, 2000);
  await t.throwsAsync(ensureLayer(f.root, { diffID: f.diffID, chainID: f.diffID, mediaType: GZIP, open: () => [half] }));
  t.deepEqual(fs.readdirSync(path.join(f.root, 'layers')), []);
});

/** A child process that unpacks the layer; with `hang`, it stops half-way and waits to be killed. */
function child(f: Fixture, chainID: string, hang: boolean) {
  const script = path.join(f.dir, `child-${hang ? 'hang' : 'run'}.mts`);
  fs.writeFileSync(
    script,
    `
    import fs from 'node:fs';
    import { ensureLayer } from ${JSON.stringify(LAYERS_TS)};
    const tar = fs.readFileSync(${JSON.stringify(path.join(f.dir, 'layer.tar'))});
    async function* hanging() {
      yield tar.subarray(0, tar.length >> 1);
      process.stdout.write('half\\n');
      setInterval(() => {}, 1000);
      await new Promise(() => {});
    }
    const r = await ensureLayer(${JSON.stringify(f.root)}, {
      diffID: ${JSON.stringify(f.diffID)}, chainID: ${JSON.stringify(chainID)},
      open: () => ${hang ? 'hanging()' : '[tar]'},
    });
    process.stdout.write(JSON.stringify({ created: r.created }) + '\\n');
  `,
  );
  const p = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  // Output is collected from the start, and the end is 'close' (stdout drained), not 'exit':
  // the exit can be reported before the last line has been read from the pipe.
  let out = '';
  const seen: { s: string; resolve: (o: string) => void }[] = [];
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d: string) => {
    out += d;
    for (const w of seen) if (out.includes(w.s)) w.resolve(out);
  });
  const closed = new Promise<number | null>((resolve) => p.once('close', (code) => resolve(code)));
  const waitFor = (s: string) =>
    new Promise<string>((resolve, reject) => {
      if (out.includes(s)) return resolve(out);
      seen.push({ s, resolve });
      void closed.then((code) => (out.includes(s) ? resolve(out) : reject(new Error(`child exited ${code}: ${out}`))));
    });
  return { p, waitFor };
}

rootTest('SIGKILL mid-unpack leaves no visible layer; the next ensureLayer completes and cleans up', async (t) => {
  const f = fixture(t);
  const [chainID] = chainIDs([f.diffID]);
  const c = child(f, chainID, true);
  t.teardown(() => {
    if (c.p.exitCode === null) c.p.kill('SIGKILL');
  });
  await c.waitFor('half');
  const layers = path.join(f.root, 'layers');
  t.true(
    fs.readdirSync(layers).some((n) => n.startsWith('.tmp-')),
    'scratch dir exists mid-unpack',
  );
  c.p.kill('SIGKILL');
  await new Promise((r) => c.p.once('exit', r));
  t.is(getLayer(f.root, chainID), undefined);
  t.false(fs.existsSync(path.join(layers, chainID.slice(7))));
  const r = await ensureLayer(f.root, { diffID: f.diffID, chainID, open: () => [f.tar] });
  t.true(r.created);
  t.is(fs.statSync(path.join(r.diffDir, 'big')).size, 3 << 20);
  t.deepEqual(fs.readdirSync(layers), [chainID.slice(7)], 'scratch and lock removed');
});

rootTest('concurrent unpackers (two processes, two in-process calls) end with one copy', async (t) => {
  const f = fixture(t);
  const [chainID] = chainIDs([f.diffID]);
  const kids = [child(f, chainID, false), child(f, chainID, false)];
  t.teardown(() =>
    kids.forEach((k) => {
      if (k.p.exitCode === null) k.p.kill('SIGKILL');
    }),
  );
  let opened = 0;
  const local = [0, 1].map(() => ensureLayer(f.root, { diffID: f.diffID, chainID, open: () => (opened++, [f.tar]) }));
  const results = [
    ...(await Promise.all(local)).map((r) => r.created),
    ...(await Promise.all(kids.map((k) => k.waitFor('}')))).map((o) => JSON.parse(o.trim().split('\n').pop()!).created as boolean),
  ];
  t.is(results.filter(Boolean).length, 1, `exactly one unpack: ${JSON.stringify(results)}`);
  t.true(opened <= 1);
  const layers = path.join(f.root, 'layers');
  t.deepEqual(fs.readdirSync(layers), [chainID.slice(7)]);
  t.is(fs.readFileSync(path.join(layers, chainID.slice(7), 'diff/etc/os-release'), 'utf8'), 'ID=test\n');
});
