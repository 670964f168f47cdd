// Registry auth against real docker-registry instances: htpasswd (Basic) and token auth (Bearer,
// with our small token server), credentials explicit or from a docker config.json.

import anyTest, { type TestFn } from 'ava';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pull } from '../../src/image/pull.js';
import { pushImage, REGISTRY_BIN, startRegistry, tempDir, type PushedImage, type TestRegistry } from '../helpers/registry.js';
import { gate, tool } from '../helpers/skip.js';

interface Ctx {
  basic: TestRegistry;
  token: TestRegistry;
  basicImg: PushedImage;
  tokenImg: PushedImage;
}
const test = anyTest as TestFn<Ctx>;
// The tools are in scripts/apt-packages.txt.
const live = gate(test, tool(REGISTRY_BIN, 'docker-registry'), tool('htpasswd', 'apache2-utils'), tool('openssl'));
// The token tests count token-server requests: they must not overlap.
const liveSerial = live.serial;

test.before(async (t) => {
  if (live.skipped) return;
  [t.context.basic, t.context.token] = await Promise.all([startRegistry('htpasswd'), startRegistry('token')]);
  t.context.basicImg = await pushImage(t.context.basic, 'auth/basic', '1', { layers: [{ files: { 'etc/x': 'basic' } }] });
  t.context.tokenImg = await pushImage(t.context.token, 'auth/token', '1', { layers: [{ files: { 'etc/x': 'token' } }] });
});

test.after.always(async (t) => {
  await Promise.all([t.context.basic?.stop(), t.context.token?.stop()]);
});

live('Basic auth: refused without credentials, works with creds and with docker config.json', async (t) => {
  const { basic, basicImg } = t.context;
  const root = tempDir();
  const emptyConfig = tempDir('tsrun-dockercfg-');
  try {
    const ref = `${basic.host}/auth/basic:1`;
    const e = await t.throwsAsync(pull(ref, { imageRoot: root, dockerConfigDir: emptyConfig }));
    t.is((e as { code?: string }).code, 'TSRUN_REGISTRY');
    t.regex(e!.message, /unauthorized.*requires credentials/);
    const wrong = await t.throwsAsync(pull(ref, { imageRoot: root, creds: 'tester:wrong' }));
    t.regex(wrong!.message, /unauthorized/);

    const rec = await pull(ref, { imageRoot: root, creds: basic.creds });
    t.is(rec.manifestDigest, basicImg.manifestDigest);

    const root2 = join(root, 'second');
    const cfgDir = join(root, 'docker');
    mkdirSync(cfgDir);
    writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(basic.creds!).toString('base64') } } }));
    const rec2 = await pull(ref, { imageRoot: root2, dockerConfigDir: cfgDir });
    t.is(rec2.manifestDigest, basicImg.manifestDigest);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(emptyConfig, { recursive: true, force: true });
  }
});

liveSerial('Bearer token flow: anonymous pull gets a pull-scoped token once; cached for the next pull', async (t) => {
  const { token, tokenImg } = t.context;
  const root = tempDir();
  const emptyConfig = tempDir('tsrun-dockercfg-');
  try {
    const before = token.tokenRequests.length;
    const rec = await pull(`${token.host}/auth/token:1`, { imageRoot: root, dockerConfigDir: emptyConfig });
    t.is(rec.manifestDigest, tokenImg.manifestDigest);
    const asked = token.tokenRequests.slice(before);
    t.deepEqual(asked, [{ scope: 'repository:auth/token:pull', user: undefined }]);
    // A second pull in the same process reuses the cached token (same realm, service, scope).
    const rec2 = await pull(`${token.host}/auth/token:1`, { imageRoot: join(root, 'b'), dockerConfigDir: emptyConfig });
    t.is(rec2.manifestDigest, tokenImg.manifestDigest);
    t.is(token.tokenRequests.length, before + 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(emptyConfig, { recursive: true, force: true });
  }
});

liveSerial('Bearer token flow with credentials sends them to the token realm; wrong ones fail clearly', async (t) => {
  const { token, tokenImg } = t.context;
  const root = tempDir();
  try {
    const before = token.tokenRequests.length;
    const rec = await pull(`${token.host}/auth/token:1`, { imageRoot: root, creds: token.creds });
    t.is(rec.manifestDigest, tokenImg.manifestDigest);
    t.deepEqual(token.tokenRequests.slice(before), [{ scope: 'repository:auth/token:pull', user: 'tester' }]);
    const e = await t.throwsAsync(pull(`${token.host}/auth/token:1`, { imageRoot: join(root, 'x'), creds: 'tester:nope' }));
    t.regex(e!.message, /authentication failed: token request/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
