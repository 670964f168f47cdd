// Platform selection from an index, WWW-Authenticate parsing, docker config.json credentials,
// the token cache, and the progress renderer's three modes.

import test from 'ava';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProgressRenderer, type PullProgress } from '../../src/image/progress.js';
import { dockerConfigCredentials, parseChallenges, parseCreds, parseTokenResponse, TokenCache } from '../../src/image/registry/auth.js';
import { OCI_INDEX, type ImageIndex } from '../../src/image/registry/media-types.js';
import { hostPlatform, parsePlatform, selectManifest } from '../../src/image/registry/platform.js';
import { tempDir } from '../helpers/registry.js';
import { waitFor } from '../helpers/wait.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const index: ImageIndex = {
  schemaVersion: 2,
  mediaType: OCI_INDEX,
  manifests: [
    { mediaType: 'x', digest: d('1'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'x', digest: d('2'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: 'x', digest: d('3'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { mediaType: 'x', digest: d('4'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    { mediaType: 'x', digest: d('5'), size: 1, platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } },
  ],
};

test('platform selection: os, architecture and variant, with arm64 = arm64/v8', (t) => {
  t.is(selectManifest(index, parsePlatform('linux/amd64'), 'i').digest, d('1'));
  t.is(selectManifest(index, parsePlatform('linux/amd64/v3'), 'i').digest, d('5'));
  t.is(selectManifest(index, parsePlatform('linux/arm64'), 'i').digest, d('2'));
  t.is(selectManifest(index, parsePlatform('linux/aarch64/v8'), 'i').digest, d('2'));
  // An arm/v7 host runs v6 images.
  t.is(selectManifest(index, parsePlatform('linux/arm/v7'), 'i').digest, d('3'));
  t.throws(() => selectManifest(index, parsePlatform('linux/arm/v5'), 'i'), { message: /no manifest for platform linux\/arm\/v5/ });
  t.throws(() => selectManifest(index, parsePlatform('linux/riscv64'), 'idx'), {
    message: /idx: no manifest for platform linux\/riscv64 \(index has: linux\/amd64, linux\/arm64\/v8, linux\/arm\/v6, unknown\/unknown, linux\/amd64\/v3\)/,
  });
  // arm64 entries without a variant match an arm64/v8 request.
  const bare: ImageIndex = { ...index, manifests: [{ mediaType: 'x', digest: d('6'), size: 1, platform: { os: 'linux', architecture: 'arm64' } }] };
  t.is(selectManifest(bare, parsePlatform('linux/arm64/v8'), 'i').digest, d('6'));
  t.throws(() => parsePlatform('linux'), { message: /invalid platform "linux"/ });
  const host = hostPlatform();
  t.is(host.os, 'linux');
  t.is(host.architecture, process.arch === 'x64' ? 'amd64' : process.arch);
  if (process.arch === 'arm64') t.is(host.variant, 'v8');
});

test('WWW-Authenticate challenges, quoted and unquoted, several per header', (t) => {
  t.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  t.deepEqual(parseChallenges('Basic realm="Registry Realm", Bearer realm=https://x/t, service=reg'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'https://x/t', service: 'reg' } },
  ]);
  t.deepEqual(parseChallenges('Bearer realm="a\\"b"'), [{ scheme: 'bearer', params: { realm: 'a"b' } }]);
});

test('credentials: user:pass, docker config.json auths (auth, username/password, registrytoken)', (t) => {
  t.deepEqual(parseCreds('me:se:cret'), { kind: 'basic', username: 'me', password: 'se:cret' });
  t.throws(() => parseCreds('nocolon'), { message: /user:password/ });
  const dir = tempDir('tsrun-dockercfg-');
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') },
          'r.example:5000': { username: 'u', password: 'p' },
          'tok.example': { registrytoken: 'TOKEN' },
        },
      }),
    );
    t.deepEqual(dockerConfigCredentials('docker.io', dir), { kind: 'basic', username: 'hub', password: 'pw' });
    t.deepEqual(dockerConfigCredentials('r.example:5000', dir), { kind: 'basic', username: 'u', password: 'p' });
    t.deepEqual(dockerConfigCredentials('tok.example', dir), { kind: 'bearer', token: 'TOKEN' });
    t.is(dockerConfigCredentials('other.example', dir), undefined);
    t.is(dockerConfigCredentials('docker.io', join(dir, 'absent')), undefined);
    writeFileSync(join(dir, 'config.json'), '{not json');
    t.throws(() => dockerConfigCredentials('docker.io', dir), { message: /config.json: not valid JSON/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('token responses and the token cache expiry', (t) => {
  t.deepEqual(parseTokenResponse({ access_token: 'a', expires_in: 300 }, 'r'), { token: 'a', expiresIn: 300, issuedAt: undefined });
  t.is(parseTokenResponse({ token: 'b' }, 'r').expiresIn, 60);
  t.throws(() => parseTokenResponse({}, 'https://realm'), { message: /token server https:\/\/realm returned no token/ });
  const cache = new TokenCache();
  const k = TokenCache.key('realm', 'svc', 'repository:a:pull');
  cache.set(k, 'tok', 300);
  t.is(cache.get(k), 'tok');
  t.is(cache.get(TokenCache.key('realm', 'svc', 'repository:b:pull')), undefined);
  // Issued long ago: already expired.
  cache.set(k, 'old', 60, new Date(Date.now() - 120_000).toISOString());
  t.is(cache.get(k), undefined);
});

const events: PullProgress[] = [
  { type: 'resolving', ref: 'r/x:1' },
  { type: 'resolved', ref: 'r/x:1', digest: d('a'), platform: 'linux/amd64', layers: [{ digest: d('b'), size: 2_000_000 }] },
  { type: 'layer', digest: d('b'), status: 'downloading', done: 1_000_000, total: 2_000_000, bytesPerSecond: 500_000 },
  { type: 'layer', digest: d('b'), status: 'done', done: 2_000_000, total: 2_000_000, bytesPerSecond: 0 },
  { type: 'done', ref: 'r/x:1', digest: d('a'), id: d('c'), downloaded: 2_000_000, seconds: 1.5 },
];

test('progress: bars on a TTY, JSON lines on request, silence on a pipe', async (t) => {
  const tty = {
    out: '',
    isTTY: true,
    columns: 100,
    write(s: string) {
      this.out += s;
    },
  };
  const r = createProgressRenderer(tty);
  for (const e of events.slice(0, 3)) r.onProgress(e);
  // Bar updates are throttled to 10 per second; the latest one is drawn shortly after.
  const bar = /bbbbbbbbbbbb: Downloading \[=+> +\] 1\.00MB\/2\.00MB 500\.0kB\/s/;
  await waitFor(() => bar.test(tty.out), { timeoutMs: 2000, what: () => `the throttled bar update (output so far: ${JSON.stringify(tty.out)})` });
  for (const e of events.slice(3)) r.onProgress(e);
  r.end();
  // eslint-disable-next-line no-control-regex -- the ANSI cursor-up sequence is what is tested
  t.regex(tty.out, /\x1b\[\d+A/, 'redraws in place');
  t.regex(tty.out, /bbbbbbbbbbbb: Pull complete/);
  t.regex(tty.out, /Downloaded 2\.00MB in 1\.5s/);

  const pipe = {
    out: '',
    isTTY: false,
    write(s: string) {
      this.out += s;
    },
  };
  const quiet = createProgressRenderer(pipe);
  for (const e of events) quiet.onProgress(e);
  quiet.end();
  t.is(pipe.out, '');

  const json = {
    out: '',
    write(s: string) {
      this.out += s;
    },
  };
  const j = createProgressRenderer(json, 'json');
  for (const e of events) j.onProgress(e);
  const lines = json.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    lines.map((l) => l.type),
    ['resolving', 'resolved', 'layer', 'layer', 'done'],
  );
  t.is(lines[2].done, 1_000_000);
  t.false(json.out.includes('\x1b'));
});
