// Regression tests for issue 13 (hardening), the image and spec parts: item 5 (a private image
// store), item 7 (extended-header limits, a decompressed-size bound, an overall download deadline)
// and the smaller ones (a device /etc/passwd, bad index platforms, a 200k-deep config.json, a PAX
// mtime of 1e20, megabyte names in messages, a plain-http redirect hop from a loopback registry).
// Each failed against the code before its fix.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { InvalidSpecError, TsrunError } from '../../src/errors.js';
import { applyLayer } from '../../src/image/apply.js';
import { ContentStore } from '../../src/image/content-store.js';
import { decompress } from '../../src/image/decompress.js';
import { ImageStore } from '../../src/image/image-store.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { httpRequest } from '../../src/image/registry/http.js';
import { OCI_INDEX, OCI_MANIFEST, parseManifest } from '../../src/image/registry/media-types.js';
import { selectManifest } from '../../src/image/registry/platform.js';
import { readTar } from '../../src/image/tar.js';
import { readAccounts } from '../../src/image/user.js';
import { loadSpec } from '../../src/spec/load.js';
import { validateSpec } from '../../src/spec/validate.js';
import { header, paxRecords, tarball } from '../helpers/tar-writer.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
const mode = (p: string) => fs.statSync(p).mode & 0o7777;

function tmp(t: { teardown(fn: () => void): void }, prefix = 'tsrun-harden-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function drain(src: Parameters<typeof readTar>[0]): Promise<number> {
  let n = 0;
  for await (const e of readTar(src)) {
    await e.skip();
    n++;
  }
  return n;
}

/** An extended header record of `flag` ('g', 'x', 'L') holding `data`. */
function extended(flag: string, data: Buffer): Buffer {
  return Buffer.concat([header({ name: 'ext', type: flag }, data.length), data, pad(data.length)]);
}

// ---- item 5: the image store is private ----

test('item 5: a new image store is private: root 0710, dirs 0700, blobs, records and leases 0600', async (t) => {
  const root = path.join(tmp(t), 'store');
  const store = new ImageStore(root);
  const digest = await store.content.put(Buffer.from('{"secret":true}'));
  const lease = await store.lease();
  await lease.add(digest);
  const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [] } }));
  const cfg = await store.content.put(config);
  await store.put({
    id: cfg,
    names: ['example.com/private/app:1'],
    repoDigests: [],
    manifestDigest: sha('m'),
    manifestMediaType: OCI_MANIFEST,
    configDigest: cfg,
    layers: [],
    diffIds: [],
    platform: { os: 'linux', architecture: 'amd64' },
    size: config.length,
    storedAt: new Date().toISOString(),
  });
  t.is(mode(root), 0o710);
  for (const d of ['blobs', 'blobs/sha256', 'images', 'leases']) t.is(mode(path.join(root, d)), 0o700, d);
  t.is(mode(store.content.blobPath(digest)), 0o600);
  for (const f of fs.readdirSync(path.join(root, 'images')).filter((n) => n.endsWith('.json'))) t.is(mode(path.join(root, 'images', f)), 0o600, f);
  for (const f of fs.readdirSync(path.join(root, 'leases'))) t.is(mode(path.join(root, 'leases', f)), 0o600, f);
  await lease.release();
});

test('item 5: an existing world-readable store is tightened when it is opened', async (t) => {
  const root = path.join(tmp(t), 'old-store');
  // The shape an older tsrun left: 0755 dirs, 0644 blobs and records.
  const hex = createHash('sha256').update('x').digest('hex');
  fs.mkdirSync(path.join(root, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
  fs.mkdirSync(path.join(root, 'images'), { mode: 0o755 });
  fs.mkdirSync(path.join(root, 'layers', 'l', 'diff'), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(root, 'blobs', 'sha256', hex), 'x', { mode: 0o644 });
  fs.writeFileSync(path.join(root, 'images', `sha256-${hex}.json`), '{}', { mode: 0o644 });
  fs.writeFileSync(path.join(root, 'layers', 'l', 'diff', 'bin'), '', { mode: 0o755 });
  for (const d of [root, path.join(root, 'blobs'), path.join(root, 'blobs', 'sha256'), path.join(root, 'images'), path.join(root, 'layers')]) {
    fs.chmodSync(d, 0o755);
  }
  new ImageStore(root);
  t.is(mode(root), 0o710);
  for (const d of ['blobs', 'blobs/sha256', 'images', 'layers']) t.is(mode(path.join(root, d)), 0o700, d);
  t.is(mode(path.join(root, 'blobs', 'sha256', hex)), 0o600);
  t.is(mode(path.join(root, 'images', `sha256-${hex}.json`)), 0o600);
  // An unpacked layer's content keeps the image's own modes.
  t.is(mode(path.join(root, 'layers', 'l', 'diff', 'bin')), 0o755);
  t.is(mode(path.join(root, 'layers', 'l', 'diff')), 0o755);
  // A plain ContentStore (the registry tests' way in) tightens too.
  fs.chmodSync(root, 0o755);
  fs.chmodSync(path.join(root, 'blobs'), 0o755);
  new ContentStore(root);
  t.is(mode(root), 0o710);
  t.is(mode(path.join(root, 'blobs')), 0o700);
});

// ---- item 7: extended headers, decompressed size, download deadline ----

test('item 7: a PAX header over 1 MiB is refused before it is read', async (t) => {
  const big = paxRecords({ comment: Buffer.alloc(1100 * 1024, 0x61) });
  for (const flag of ['x', 'g', 'L']) {
    const err = await t.throwsAsync(drain(Buffer.concat([extended(flag, big), tarball([{ name: 'f', body: 'x' }])])));
    t.true(err instanceof TsrunError, flag);
    t.regex(err!.message, /too large \(limit 1048576\)/, flag);
  }
});

test('item 7: PAX global headers do not pile up: their total per archive is capped', async (t) => {
  // Twelve global headers of 512 KiB each (each under the per-header cap): refused early,
  // instead of merged into a map copied for every later entry.
  const parts: Buffer[] = [];
  for (let i = 0; i < 12; i++) parts.push(extended('g', paxRecords({ [`k${i}`]: Buffer.alloc(512 * 1024 - 32, 0x61) })));
  parts.push(tarball([{ name: 'f', body: 'x' }]));
  const t0 = Date.now();
  const err = await t.throwsAsync(drain(Buffer.concat(parts)));
  t.true(err instanceof TsrunError);
  t.regex(err!.message, /PAX global headers of this archive exceed 1048576 bytes/);
  t.true(Date.now() - t0 < 2000);
  // Many small keywords in one global header: capped by count.
  const many: Record<string, string> = {};
  for (let i = 0; i < 5000; i++) many[`k${i}`] = 'v';
  const err2 = await t.throwsAsync(drain(Buffer.concat([extended('g', paxRecords(many)), tarball([{ name: 'f' }])])));
  t.regex(err2!.message, /more than 1024 keywords/);
  // The total of every extended header of one archive is capped too (here set low).
  const entries = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, pax: { comment: 'y'.repeat(100) } }));
  const err3 = await t.throwsAsync(
    (async () => {
      for await (const e of readTar(tarball(entries), { maxExtendedBytes: 1000 })) await e.skip();
    })(),
  );
  t.regex(err3!.message, /extended headers of this archive exceed 1000 bytes/);
});

test('item 7: a layer that decompresses past its declared uncompressed size is refused', async (t) => {
  const tar = tarball([{ name: 'zeros', body: Buffer.alloc(1 << 20) }]);
  const gz = zlib.gzipSync(tar);
  const err = await t.throwsAsync(
    (async () => {
      for await (const _ of decompress(gz, { maxBytes: 64 * 1024, name: 'sha256:abc' })) {
        /* read */
      }
    })(),
  );
  t.true(err instanceof TsrunError);
  t.regex(err!.message, /more than its declared uncompressed size of 65536 bytes/);
  const dest = tmp(t);
  const err2 = await t.throwsAsync(applyLayer(gz, dest, { mode: 'flatten', chown: false, uncompressedSize: 4096 }));
  t.true(err2 instanceof TsrunError);
  t.regex(err2!.message, /declared uncompressed size of 4096/);
  // The exact size passes.
  const ok = await applyLayer(gz, tmp(t), { mode: 'flatten', chown: false, uncompressedSize: tar.length });
  t.is(ok.tarBytes, tar.length);
});

test('item 7: a blob download that trickles forever hits the overall deadline (idle timeout alone never fires)', async (t) => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const iv = setInterval(() => res.write('x'), 50);
    res.on('close', () => clearInterval(iv));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`;
  const read = async () => {
    const res = await httpRequest(url, { headers: {}, timeoutMs: 1000, deadlineMs: 400, insecure: false });
    for await (const _ of res.body) {
      /* trickle */
    }
  };
  const t0 = Date.now();
  const outcome = await Promise.race([
    read().then(
      () => 'ended',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('still running after 4 s'), 4000)),
  ]);
  t.true(outcome instanceof TsrunError, String(outcome));
  t.regex((outcome as Error).message, /overall deadline/);
  t.true(Date.now() - t0 < 3000);
});

// ---- smaller ones ----

/** A character-device major no driver has registered, so opening the node fails with ENXIO. */
function unusedCharMajor(): number {
  const used = new Set(
    fs
      .readFileSync('/proc/devices', 'utf8')
      .split('Block devices:')[0]
      .split('\n')
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .filter((n) => Number.isInteger(n)),
  );
  for (let m = 240; m < 255; m++) if (!used.has(m)) return m;
  return 240;
}

test("an image's /etc/passwd that is a device or a FIFO is refused by type before it is opened", (t) => {
  // Before the fix the device was opened (ENXIO from its driver, a raw SyscallError): the open ran.
  const r = tmp(t);
  fs.mkdirSync(path.join(r, 'etc'));
  const mknod = (p: string, type: 'c' | 'p', major = 0) => {
    const args = type === 'c' ? [p, 'c', String(major), '0'] : [p, 'p'];
    const res = spawnSync('mknod', args);
    if (res.status !== 0) throw new Error(`mknod ${args.join(' ')}: ${String(res.stderr)}`);
  };
  mknod(path.join(r, 'etc', 'passwd'), 'c', unusedCharMajor());
  const err = t.throws(() => readAccounts(r));
  t.true(err instanceof TsrunError);
  t.is((err as TsrunError).code, 'TSRUN_IMAGE');
  t.regex(err!.message, /\/etc\/passwd in the image is a character device, not a regular file/);
  fs.rmSync(path.join(r, 'etc', 'passwd'));
  mknod(path.join(r, 'etc', 'passwd'), 'p');
  t.throws(() => readAccounts(r), { message: /is a FIFO, not a regular file/ });
  fs.rmSync(path.join(r, 'etc', 'passwd'));
  fs.writeFileSync(path.join(r, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  t.deepEqual(readAccounts(r).passwd?.[0].name, 'root');
});

test('bad platform objects in an index are a TsrunError naming the field, not a TypeError', (t) => {
  const d = { mediaType: OCI_MANIFEST, digest: sha('m'), size: 2 };
  for (const [platform, field] of [
    [{ os: 5 }, /manifests\[0\]: platform\.os must be a non-empty string, got 5/],
    [{}, /manifests\[0\]: platform\.os must be/],
    [{ os: 'linux' }, /platform\.architecture must be/],
    [{ os: 'linux', architecture: 'amd64', variant: 7 }, /platform\.variant must be a string/],
    [{ os: 'linux', architecture: 'amd64', 'os.features': 'x' }, /platform\.os\.features/],
    [null, /platform is not an object/],
    ['linux/amd64', /platform is not an object/],
  ] as const) {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...d, platform }] }));
    const err = t.throws(() => {
      const r = parseManifest(body, OCI_INDEX, 'index x');
      if (r.kind === 'index') selectManifest(r.index, { os: 'linux', architecture: 'amd64' }, 'index x');
    });
    t.true(err instanceof TsrunError, `${JSON.stringify(platform)}: ${String(err)}`);
    t.regex(err!.message, field);
  }
  // An architecture named like an Object.prototype member is just an unknown architecture.
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ ...d, platform: { os: 'linux', architecture: 'constructor' } }] }));
  const r = parseManifest(body, undefined, 'index y');
  t.is(r.kind, 'index');
  if (r.kind === 'index') t.is(selectManifest(r.index, { os: 'linux', architecture: 'constructor' }, 'index y').digest, d.digest);
});

test('a 200k-deep config.json is an InvalidSpecError naming the problem, not a stack overflow', (t) => {
  const dir = tmp(t);
  const depth = 200_000;
  const base = { ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { cwd: '/', user: { uid: 0, gid: 0 }, args: ['sh'] } };
  const json = JSON.stringify(base).slice(0, -1) + `,"x-extra":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  fs.writeFileSync(path.join(dir, 'config.json'), json);
  // Before: loadSpec accepted it, and the first JSON.stringify (the saved state) threw RangeError.
  const err = t.throws(() => JSON.stringify(loadSpec(dir)));
  t.true(err instanceof InvalidSpecError, String(err));
  t.regex(err!.message, /invalid config\.json: x-extra: nests more than 1000 levels deep/);
  // A library caller's object that contains itself.
  const cyclic: Record<string, unknown> = { ...base };
  cyclic.annotations = { a: 'b' };
  (cyclic as { self?: unknown }).self = cyclic;
  t.throws(() => validateSpec(cyclic), { instanceOf: InvalidSpecError, message: /self: refers to itself/ });
});

test('a PAX mtime of 1e20 is a TsrunError naming the entry, not a RangeError', async (t) => {
  for (const type of ['5', '0']) {
    const layer = tarball([{ name: `d${type}/`, type, pax: { mtime: '100000000000000000000' } }]);
    const err = await t.throwsAsync(applyLayer(layer, tmp(t), { mode: 'flatten', chown: false }));
    t.true(err instanceof TsrunError, String(err));
    t.regex(err!.message, new RegExp(`tar entry 'd${type}/' \\(header at offset 1024\\): PAX mtime "100000000000000000000" is out of range`));
  }
  const err = await t.throwsAsync(drain(tarball([{ name: 'f', pax: { atime: '-99999999999999999999.5' } }])));
  t.regex(err!.message, /PAX atime .* is out of range/);
});

test('a huge GNU long name is refused, and long names are cut in messages', async (t) => {
  // 10 MB: over the 1 MiB cap, refused by size without quoting it.
  const huge = Buffer.concat([Buffer.alloc(10 << 20, 0x61), Buffer.alloc(1)]);
  const err = await t.throwsAsync(drain(Buffer.concat([extended('L', huge), tarball([{ name: 'f' }])])));
  t.regex(err!.message, /GNU long name of 10485761 bytes is too large/);
  t.true(err!.message.length < 300);
  // 900 KB: allowed, but an error about the entry quotes only its head.
  const long = 'b'.repeat(900 * 1024);
  const err2 = await t.throwsAsync(drain(tarball([{ name: long, gnuLongName: true, type: 'Z' }])));
  t.true(err2 instanceof TsrunError);
  t.regex(err2!.message, /^tar entry 'b{256}…\(921344 more\)' \(header at offset 922624\): unsupported entry type 'Z'$/);
  // The same through applyLayer (the hardlink error path) and spec validation.
  const err3 = await t.throwsAsync(
    applyLayer(tarball([{ name: 'l', type: '1', linkname: 'x', pax: { linkpath: long } }]), tmp(t), { mode: 'flatten', chown: false }),
  );
  t.true(err3!.message.length < 2000, `${err3!.message.length} characters`);
  const err4 = t.throws(() => validateSpec({ ociVersion: '1.2.0', root: { path: 'r' }, linux: { seccomp: { defaultAction: long } } }));
  t.true(err4!.message.length < 2000, `${err4!.message.length} characters`);
  const err5 = t.throws(() => validateSpec({ ociVersion: '1.2.0', root: { path: 'r' }, annotations: { [long]: 5 } }));
  t.true(err5!.message.length < 2000, `${err5!.message.length} characters`);
});

test('a loopback registry cannot redirect to plain http on a non-loopback host ([::ffff:127.0.0.1]) without insecure', async (t) => {
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
  let port = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/v2/') res.writeHead(200).end('{}');
    else if (req.url === '/v2/r/manifests/t') res.writeHead(302, { location: `http://[::ffff:127.0.0.1]:${port}/v2/r/manifests/moved` }).end();
    else if (req.url === '/v2/r/manifests/moved') res.writeHead(200, { 'content-type': OCI_INDEX }).end(index);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const err = await t.throwsAsync(new RegistryClient(`127.0.0.1:${port}`).getManifest('r', 't'));
  t.true(err instanceof TsrunError, String(err));
  t.regex(err!.message, /refusing redirect to plain http http:\/\/\[::ffff:7f00:1\]/);
  // With insecure the hop is allowed (and the target, an IPv4-mapped loopback, answers).
  const got = await new RegistryClient(`127.0.0.1:${port}`, { insecure: true }).getManifest('r', 't');
  t.is(got.parsed.kind, 'index');
});
