// A real registry for tests: Debian's `docker-registry` (distribution 2.8) started with its own
// config on 127.0.0.1:<free port> (never the package default, which listens on all interfaces),
// optionally behind htpasswd (Basic) or token auth served by a small Node token server that
// signs RS256 JWTs with a cert made by openssl (distribution docs/spec/auth/jwt.md). Fixtures
// are written here with the `tar` package and pushed with the distribution-spec push API.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRegistry {
  host: string; // 127.0.0.1:port
  dir: string;
  storage: string; // filesystem driver root
  creds?: string; // user:pass for pushes (and authenticated pulls)
  tokenRequests: { scope: string; user?: string }[];
  /** Authorization header for pushing to `repo`. */
  pushAuth(repo: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

export type AuthMode = 'none' | 'htpasswd' | 'token';

function sh(cmd: string, args: string[], input?: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr?.toString() || r.error}`);
  return r.stdout;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

async function startTokenServer(
  dir: string,
  user: string,
  pass: string,
  tokenRequests: TestRegistry['tokenRequests'],
): Promise<{ server: http.Server; port: number; issue: (scope: string, who?: string) => string }> {
  sh('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'token.key'),
    '-out',
    join(dir, 'token.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=tsrun-test-token',
  ]);
  const key = createPrivateKey(readFileSync(join(dir, 'token.key')));
  const der = new X509Certificate(readFileSync(join(dir, 'token.crt'))).raw;
  const issue = (scope: string, who?: string): string => {
    const access = scope
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop()!.split(',');
        return { type, name: rest.join(':'), actions: who ? actions : actions.filter((a) => a === 'pull') };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] }));
    const claims = b64url(
      JSON.stringify({
        iss: 'tsrun-test-issuer',
        sub: who ?? '',
        aud: 'tsrun-test-registry',
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const sig = sign('sha256', Buffer.from(`${header}.${claims}`), key);
    return `${header}.${claims}.${b64url(sig)}`;
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let who: string | undefined;
    const auth = req.headers.authorization;
    if (auth) {
      const [u, p] = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':');
      if (u !== user || p !== pass) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      who = u;
    }
    const scope = url.searchParams.get('scope') ?? '';
    tokenRequests.push({ scope, user: who });
    const token = issue(scope, who);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port, issue };
}

async function waitReady(host: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${readFileSync(log, 'utf8')}`);
    try {
      const r = await fetch(`http://${host}/v2/`);
      await r.arrayBuffer();
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry on ${host} not ready: ${readFileSync(log, 'utf8')}`);
}

export async function startRegistry(auth: AuthMode = 'none'): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-registry-'));
  const storage = join(dir, 'data');
  mkdirSync(storage);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const user = 'tester';
  const pass = randomBytes(6).toString('hex');
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let token: Awaited<ReturnType<typeof startTokenServer>> | undefined;
  let authYaml = '';
  if (auth === 'htpasswd') {
    writeFileSync(join(dir, 'htpasswd'), sh('htpasswd', ['-Bbn', user, pass]));
    authYaml = `auth:\n  htpasswd:\n    realm: tsrun-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    token = await startTokenServer(dir, user, pass, tokenRequests);
    authYaml =
      `auth:\n  token:\n    realm: http://127.0.0.1:${token.port}/token\n    service: tsrun-test-registry\n` +
      `    issuer: tsrun-test-issuer\n    rootcertbundle: ${join(dir, 'token.crt')}\n`;
  }
  const config =
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n` +
    `  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n` +
    `http:\n  addr: ${host}\n  secret: ${randomBytes(16).toString('hex')}\n${authYaml}`;
  writeFileSync(join(dir, 'config.yml'), config);
  const log = join(dir, 'registry.log');
  const fd = openSync(log, 'w');
  const child = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    if (token) await new Promise((r) => token!.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(host, child, log);
  } catch (e) {
    await stop();
    throw e;
  }
  const creds = auth === 'none' ? undefined : `${user}:${pass}`;
  return {
    host,
    dir,
    storage,
    creds,
    tokenRequests,
    stop,
    async pushAuth(repo: string) {
      if (auth === 'htpasswd') return `Basic ${Buffer.from(creds!).toString('base64')}`;
      if (auth === 'token') return `Bearer ${token!.issue(`repository:${repo}:pull,push`, user)}`;
      return undefined;
    },
  };
}

// ---- fixtures ----

export function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

/** A tar of `files` (path → content), made with the `tar` package, deterministic. */
export async function makeTar(files: Record<string, string | Buffer>): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-layer-'));
  try {
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
    const chunks: Buffer[] = [];
    const stream = tar.c({ cwd: dir, portable: true, mtime: new Date(0) }, Object.keys(files).sort());
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type Compression = 'gzip' | 'zstd' | 'none';
export type Format = 'oci' | 'docker';

/** A layer blob and its diffID (sha256 of the uncompressed tar). */
export async function makeLayer(
  files: Record<string, string | Buffer>,
  compression: Compression,
  format: Format = 'oci',
): Promise<{ blob: Blob; diffId: string }> {
  const raw = await makeTar(files);
  const data = compression === 'gzip' ? gzipSync(raw) : compression === 'zstd' ? sh('zstd', ['-q', '-c', '-3'], raw) : raw;
  const mediaType =
    format === 'docker'
      ? compression === 'none'
        ? 'application/vnd.docker.image.rootfs.diff.tar'
        : 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : `application/vnd.oci.image.layer.v1.tar${compression === 'none' ? '' : `+${compression}`}`;
  return { blob: { mediaType, digest: sha256(data), size: data.length, data }, diffId: sha256(raw) };
}

export async function pushBlob(reg: TestRegistry, repo: string, data: Buffer): Promise<void> {
  const auth = await reg.pushAuth(repo);
  const headers: Record<string, string> = auth ? { authorization: auth } : {};
  const start = await fetch(`http://${reg.host}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`upload start ${repo}: ${start.status}`);
  const loc = new URL(start.headers.get('location')!, `http://${reg.host}/`);
  loc.searchParams.set('digest', sha256(data));
  const put = await fetch(loc, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: data });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`upload ${repo} ${sha256(data)}: ${put.status} ${text}`);
}

export async function pushManifest(reg: TestRegistry, repo: string, ref: string, body: Buffer, mediaType: string): Promise<string> {
  const auth = await reg.pushAuth(repo);
  const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType, ...(auth ? { authorization: auth } : {}) },
    body,
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest PUT ${repo}:${ref}: ${res.status} ${text}`);
  return sha256(body);
}

export interface PushedImage {
  repo: string;
  manifestDigest: string;
  manifest: Buffer;
  config: Blob;
  layers: Blob[];
  diffIds: string[];
}

/** Push config, layers and manifest; the tag is optional (index children are pushed by digest). */
export async function pushImage(
  reg: TestRegistry,
  repo: string,
  tag: string | undefined,
  opts: {
    layers: { files: Record<string, string | Buffer>; compression?: Compression }[];
    format?: Format;
    architecture?: string;
    variant?: string;
  },
): Promise<PushedImage> {
  const format = opts.format ?? 'oci';
  const made = [];
  for (const l of opts.layers) made.push(await makeLayer(l.files, l.compression ?? 'gzip', format));
  const cfg = {
    created: '2024-01-01T00:00:00Z',
    architecture: opts.architecture ?? 'amd64',
    ...(opts.variant ? { variant: opts.variant } : {}),
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: made.map((m) => m.diffId) },
  };
  const cfgData = Buffer.from(JSON.stringify(cfg));
  const config: Blob = {
    mediaType: format === 'oci' ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json',
    digest: sha256(cfgData),
    size: cfgData.length,
    data: cfgData,
  };
  for (const b of [config, ...made.map((m) => m.blob)]) await pushBlob(reg, repo, b.data);
  const mediaType = format === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const desc = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: desc(config), layers: made.map((m) => desc(m.blob)) }));
  const manifestDigest = await pushManifest(reg, repo, tag ?? sha256(manifest), manifest, mediaType);
  return { repo, manifestDigest, manifest, config, layers: made.map((m) => m.blob), diffIds: made.map((m) => m.diffId) };
}

/** Push an OCI index over already pushed manifests with their platforms. */
export async function pushIndex(
  reg: TestRegistry,
  repo: string,
  tag: string,
  entries: { image: PushedImage; architecture: string; variant?: string }[],
  format: Format = 'oci',
): Promise<string> {
  const mediaType = format === 'oci' ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.docker.distribution.manifest.list.v2+json';
  const childType = format === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((e) => ({
        mediaType: childType,
        digest: e.image.manifestDigest,
        size: e.image.manifest.length,
        platform: { os: 'linux', architecture: e.architecture, ...(e.variant ? { variant: e.variant } : {}) },
      })),
    }),
  );
  return pushManifest(reg, repo, tag, body, mediaType);
}

/** Path of a blob's data file in the registry's filesystem storage (for tampering tests). */
export function registryBlobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(reg.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

export function tempDir(prefix = 'tsrun-img-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
