// Image benchmarks for the bench engineer to call (issue 6, Speed): tsrun against the tools a
// user would otherwise reach for, on the same bytes, in the same process tree.
//   benchPullUnpack(): pull + unpack of a ~100 MB image from a loopback docker-registry:
//     tsrun `image pull` + `run --image --rm -- true` (unpacks every layer, mounts, runs)
//     vs `skopeo copy docker://… oci:…` + `umoci unpack`.
//   benchLayerApply(): one gzip layer: tsrun's applyLayer (src/image/apply.ts, through tsx)
//     vs `tar -xzf`.
// Each returns { tsrun: ms[], other: ms[], ratio } (ratio = median tsrun / median other).
// Standalone: `node scripts/bench/images.mjs [--mb 100] [--rounds 3]` (root; needs docker-registry,
// skopeo, umoci, tar — scripts/apt-packages.txt).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net
      .createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
  });
}

/** A tar (ustar, in-house) of files: name → Buffer. Directories first. */
function tarOf(files) {
  const parts = [];
  const hdr = (name, type, size, mode) => {
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
    h.write(`${(1704067200).toString(8).padStart(11, '0')}\0`, 136);
    h.write('        ', 148);
    h.write(type, 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return h;
  };
  const dirs = new Set();
  for (const n of Object.keys(files)) for (let d = path.posix.dirname(n); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  for (const d of [...dirs].sort()) parts.push(hdr(`${d}/`, '5', 0, 0o755));
  for (const [n, data] of Object.entries(files)) {
    parts.push(hdr(n, '0', data.length, 0o644), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Layers of about `mb` MB in total: half random (incompressible), half text; many small files too. */
export function makeLayers(mb = 100, count = 5) {
  const layers = [];
  const per = Math.ceil((mb * 1e6) / count);
  for (let l = 0; l < count; l++) {
    const files = {};
    let size = 0;
    for (let i = 0; size < per; i++) {
      const big = i % 50 === 0;
      const n = big ? 2_000_000 : 20_000;
      const data = i % 2 ? randomBytes(n) : Buffer.from(`line ${l}.${i} `.repeat(n / 10).slice(0, n));
      files[`usr/share/l${l}/d${i % 16}/f${i}`] = data;
      size += n;
    }
    const raw = tarOf(files);
    layers.push({ raw, gz: gzipSync(raw, { level: 6 }), diffId: sha256(raw) });
  }
  return layers;
}

async function startRegistry(dir) {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\nhttp:\n  addr: ${host}\n  secret: ${randomBytes(8).toString('hex')}\n`,
  );
  const log = openSync(path.join(dir, 'registry.log'), 'w');
  const child = spawn('/usr/bin/docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', log, log] });
  closeSync(log);
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`http://${host}/v2/`)).status === 200) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

async function push(host, repoName, layers) {
  const put = async (data) => {
    const start = await fetch(`http://${host}/v2/${repoName}/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(start.headers.get('location'), `http://${host}/`);
    loc.searchParams.set('digest', sha256(data));
    const r = await fetch(loc, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
    if (r.status !== 201) throw new Error(`push blob: ${r.status}`);
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      config: { Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  for (const l of layers) await put(l.gz);
  await put(config);
  const mt = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: mt,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l.gz), size: l.gz.length })),
  });
  const r = await fetch(`http://${host}/v2/${repoName}/manifests/latest`, { method: 'PUT', body: manifest, headers: { 'content-type': mt } });
  if (r.status !== 201) throw new Error(`push manifest: ${r.status}`);
}

/** pull+unpack: tsrun vs skopeo copy + umoci unpack, `rounds` cold runs each, interleaved. */
export async function benchPullUnpack({ mb = 100, rounds = 3, tsrunBin = path.join(repo, 'bin/tsrun'), work } = {}) {
  const dir = work ?? mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-img-'));
  const reg = await startRegistry(dir);
  try {
    await push(reg.host, 'bench/big', makeLayers(mb));
    const ref = `${reg.host}/bench/big:latest`;
    const tsrun = [];
    const other = [];
    for (let i = 0; i < rounds; i++) {
      const ir = path.join(dir, `ir-${i}`);
      const g = ['--root', path.join(dir, `st-${i}`), '--image-root', ir];
      // The image's /bin/true does not exist: the run fails after unpack+mount, which is what is timed.
      const t0 = run(tsrunBin, [...g, 'image', 'pull', '--progress', 'none', ref]);
      let t1 = 0;
      const s = process.hrtime.bigint();
      spawnSync(tsrunBin, [...g, 'run', '--image', ref, '--rm', '--', '/bin/true'], { stdio: 'ignore' });
      t1 = Number(process.hrtime.bigint() - s) / 1e6;
      tsrun.push(t0 + t1);
      const oci = path.join(dir, `oci-${i}`);
      const c0 = run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${oci}:latest`]);
      const c1 = run('umoci', ['unpack', '--image', `${oci}:latest`, path.join(dir, `bundle-${i}`)]);
      other.push(c0 + c1);
      rmSync(ir, { recursive: true, force: true });
      rmSync(oci, { recursive: true, force: true });
      rmSync(path.join(dir, `bundle-${i}`), { recursive: true, force: true });
    }
    return { what: `pull+unpack ${mb} MB (tsrun vs skopeo copy + umoci unpack)`, tsrun, other, ratio: median(tsrun) / median(other) };
  } finally {
    await reg.stop();
    if (!work) rmSync(dir, { recursive: true, force: true });
  }
}

/** One gzip layer: tsrun applyLayer vs tar -xzf. */
export async function benchLayerApply({ mb = 50, rounds = 5, work } = {}) {
  const dir = work ?? mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-apply-'));
  try {
    const [layer] = makeLayers(mb, 1);
    const blob = path.join(dir, 'layer.tar.gz');
    writeFileSync(blob, layer.gz);
    const script = path.join(dir, 'apply.mjs');
    writeFileSync(
      script,
      `import { createReadStream } from 'node:fs';\nimport { applyLayer } from ${JSON.stringify(path.join(repo, 'src/image/apply.ts'))};\n` +
        `const t0 = process.hrtime.bigint();\nawait applyLayer(createReadStream(process.argv[2]), process.argv[3], { mode: 'overlay', mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });\n` +
        `process.stdout.write(String(Number(process.hrtime.bigint() - t0) / 1e6));\n`,
    );
    const tsrun = [];
    const inProcess = [];
    const other = [];
    for (let i = 0; i < rounds; i++) {
      const a = path.join(dir, `a${i}`);
      const b = path.join(dir, `b${i}`);
      mkdirSync(a);
      mkdirSync(b);
      // Whole process for both (node start + tsx vs tar start), and the in-process apply time.
      const s = process.hrtime.bigint();
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, blob, a], { cwd: repo, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`applyLayer: ${r.stderr}`);
      tsrun.push(Number(process.hrtime.bigint() - s) / 1e6);
      inProcess.push(Number(r.stdout));
      other.push(run('tar', ['-xzf', blob, '-C', b]));
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
    return {
      what: `apply one ${mb} MB gzip layer (tsrun applyLayer incl. node+tsx start vs tar -xzf)`,
      tsrun,
      other,
      ratio: median(tsrun) / median(other),
      inProcess,
      inProcessRatio: median(inProcess) / median(other),
    };
  } finally {
    if (!work) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (n, d) => {
    const i = process.argv.indexOf(`--${n}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const mb = arg('mb', 100);
  const rounds = arg('rounds', 3);
  for (const r of [await benchLayerApply({ mb: Math.max(1, Math.round(mb / 2)), rounds }), await benchPullUnpack({ mb, rounds })]) {
    process.stdout.write(
      `${r.what}: tsrun ${median(r.tsrun).toFixed(0)} ms, other ${median(r.other).toFixed(0)} ms, ratio ${r.ratio.toFixed(2)}` +
        (r.inProcess ? `; applyLayer alone ${median(r.inProcess).toFixed(0)} ms, ratio ${r.inProcessRatio.toFixed(2)}` : '') +
        '\n',
    );
  }
}
