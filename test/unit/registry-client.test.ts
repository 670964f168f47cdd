// The registry client's checks against small real HTTP servers that misbehave on purpose:
// Content-Type vs mediaType, Docker-Content-Digest, digest references, redirects to another
// origin (no Authorization), timeouts, aborts, a server that ignores Range, oversized blobs.

import anyTest, { type TestFn } from 'ava';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ContentStore } from '../../src/image/content-store.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { OCI_MANIFEST } from '../../src/image/registry/media-types.js';
import { tempDir } from '../helpers/registry.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
interface Ctx {
  a: http.Server;
  b: http.Server;
  hostA: string;
  hostB: string;
  routes: Map<string, Handler>;
  seenB: http.IncomingHttpHeaders[];
}
const test = anyTest as TestFn<Ctx>;

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('{}'), size: 2 },
    layers: [],
  }),
);

function listen(s: http.Server): Promise<string> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(`127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

test.before(async (t) => {
  t.context.routes = new Map();
  t.context.seenB = [];
  t.context.a = http.createServer((req, res) => {
    const h = t.context.routes.get(req.url ?? '');
    if (req.url === '/v2/') res.writeHead(200).end('{}');
    else if (h) h(req, res);
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND","message":"nope"}]}');
  });
  t.context.b = http.createServer((req, res) => {
    t.context.seenB.push(req.headers);
    res.writeHead(200, { 'content-length': '5' }).end('hello');
  });
  t.context.hostA = await listen(t.context.a);
  t.context.hostB = await listen(t.context.b);
});

test.after.always((t) => {
  t.context.a?.closeAllConnections();
  t.context.b?.closeAllConnections();
  t.context.a?.close();
  t.context.b?.close();
});

function route(t: { context: Ctx }, path: string, h: Handler): string {
  t.context.routes.set(path, h);
  return path;
}

test('a manifest whose Content-Type disagrees with its mediaType is refused', async (t) => {
  route(t, '/v2/ct/x/manifests/1', (_q, res) => res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end(manifest));
  const c = new RegistryClient(t.context.hostA, { creds: 'u:p' });
  await t.throwsAsync(c.getManifest('ct/x', '1'), { message: /Content-Type "application\/vnd.oci.image.index.v1\+json" disagrees with manifest mediaType/ });
});

test('Docker-Content-Digest must match the body; a digest reference must match the body', async (t) => {
  route(t, '/v2/dcd/x/manifests/1', (_q, res) => res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha('other') }).end(manifest));
  const c = new RegistryClient(t.context.hostA, { creds: 'u:p' });
  const e = await t.throwsAsync(c.getManifest('dcd/x', '1'));
  t.is((e as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
  t.regex(e!.message, /Docker-Content-Digest/);

  const asked = sha('what I asked for');
  route(t, `/v2/dcd/x/manifests/${asked}`, (_q, res) => res.writeHead(200, { 'content-type': OCI_MANIFEST }).end(manifest));
  const e2 = await t.throwsAsync(c.getManifest('dcd/x', asked));
  t.is((e2 as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
  t.regex(e2!.message, /requested digest/);

  route(t, '/v2/dcd/x/manifests/ok', (_q, res) => res.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha(manifest) }).end(manifest));
  const m = await c.getManifest('dcd/x', 'ok');
  t.is(m.digest, sha(manifest));
  t.is(m.parsed.kind, 'manifest');
});

test('schema 1 manifests are refused by name', async (t) => {
  route(t, '/v2/s1/x/manifests/1', (_q, res) =>
    res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }).end('{"schemaVersion":1}'),
  );
  await t.throwsAsync(new RegistryClient(t.context.hostA, { creds: 'u:p' }).getManifest('s1/x', '1'), { message: /schema 1/ });
});

test('a blob redirect to another origin drops Authorization; the same origin keeps it', async (t) => {
  const blobDigest = sha('hello');
  route(t, `/v2/redir/x/blobs/${blobDigest}`, (req, res) => {
    if (req.headers.authorization !== 'Basic dTpw') {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="t"' }).end();
      return;
    }
    res.writeHead(307, { location: `http://${t.context.hostB}/storage/blob` }).end();
  });
  const c = new RegistryClient(t.context.hostA, { creds: 'u:p' });
  const before = t.context.seenB.length;
  const src = await c.openBlob('redir/x', blobDigest);
  const parts: Buffer[] = [];
  for await (const p of src.body) parts.push(Buffer.from(p));
  t.is(Buffer.concat(parts).toString(), 'hello');
  const seen = t.context.seenB.slice(before);
  t.is(seen.length, 1);
  t.is(seen[0].authorization, undefined, 'no credentials sent to the other origin');

  route(t, '/v2/redir/y/blobs/' + blobDigest, (req, res) => {
    if (req.headers.authorization !== 'Basic dTpw') {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="t"' }).end();
      return;
    }
    res.writeHead(307, { location: `/v2/redir/y/final` }).end();
  });
  let finalAuth: string | undefined;
  route(t, '/v2/redir/y/final', (req, res) => {
    finalAuth = req.headers.authorization;
    res.writeHead(200).end('hello');
  });
  const src2 = await c.openBlob('redir/y', blobDigest);
  for await (const _ of src2.body) {
    /* drain */
  }
  t.is(finalAuth, 'Basic dTpw');
});

test('a stalled response times out; an abort signal stops a request', async (t) => {
  route(t, '/v2/slow/x/manifests/hang', () => {
    /* never answers */
  });
  route(t, '/v2/slow/x/manifests/stall', (_q, res) => {
    res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(manifest.length) });
    res.write(manifest.subarray(0, 10)); // then nothing more
  });
  const c = new RegistryClient(t.context.hostA, { creds: 'u:p', timeoutMs: 300 });
  await t.throwsAsync(c.getManifest('slow/x', 'hang'), { message: /no (response|data) for 300 ms/ });
  await t.throwsAsync(c.getManifest('slow/x', 'stall'), { message: /no data for 300 ms/ });
  // Cancelled once the request is in flight: the server has it and will never answer.
  const ctl = new AbortController();
  route(t, '/v2/slow/x/manifests/cancel', () => ctl.abort(new Error('user cancelled')));
  const slow = new RegistryClient(t.context.hostA, { creds: 'u:p', timeoutMs: 10_000, signal: ctl.signal });
  await t.throwsAsync(slow.getManifest('slow/x', 'cancel'), { message: 'user cancelled' });
});

test('a server that ignores Range makes the store restart the blob from 0, correctly', async (t) => {
  const data = Buffer.alloc(100_000, 7);
  const digest = sha(data);
  let ranges: (string | undefined)[] = [];
  route(t, `/v2/norange/x/blobs/${digest}`, (req, res) => {
    ranges.push(req.headers.range);
    res.writeHead(200, { 'content-length': String(data.length) }).end(data);
  });
  const root = tempDir();
  try {
    const store = new ContentStore(root);
    mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
    // A partial left by an earlier interrupted pull: its first 40 000 bytes.
    writeFileSync(join(root, 'blobs', 'sha256', `.${digest.slice(7)}.partial`), data.subarray(0, 40_000));
    const c = new RegistryClient(t.context.hostA, { creds: 'u:p' });
    const r = await store.ingest({ digest, size: data.length, open: (off) => c.openBlob('norange/x', digest, off) });
    t.deepEqual(ranges, ['bytes=40000-']);
    t.is(r.resumedFrom, 0);
    t.is(r.written, data.length);
    t.true((await store.read(digest)).equals(data));
    ranges = [];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a blob longer than its descriptor is cut off with a digest error and not published', async (t) => {
  const data = Buffer.alloc(1000, 1);
  const digest = sha(data);
  route(t, `/v2/long/x/blobs/${digest}`, (_q, res) => res.writeHead(200).end(Buffer.concat([data, Buffer.alloc(5000)])));
  const root = tempDir();
  try {
    const store = new ContentStore(root);
    const c = new RegistryClient(t.context.hostA, { creds: 'u:p' });
    const e = await t.throwsAsync(store.ingest({ digest, size: data.length, open: (off) => c.openBlob('long/x', digest, off) }));
    t.is((e as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
    t.false(await store.has(digest));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('registry errors carry the distribution error code and message', async (t) => {
  const c = new RegistryClient(t.context.hostA, { creds: 'u:p' });
  const e = await t.throwsAsync(c.getManifest('missing/x', 'v1'));
  t.is((e as { code?: string }).code, 'TSRUN_IMAGE_NOT_FOUND');
  t.regex(e!.message, /missing\/x:v1 not found: HTTP 404 \(NOT_FOUND: nope\)/);
});
