// --platform for stored images (issue 17): a stored image of another platform is refused with
// Docker's words and 125, never pulled over; a stored multi-platform index gives the record of
// the wanted platform.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { needs, root } from '../helpers/skip.js';
import { frontEnv, NONE, SHIPPED } from './front-fixtures.js';

const rootTest = needs(root('namespaces, overlay mounts'));

function putBlob(layout: string, data: string): { digest: string; size: number } {
  const hex = createHash('sha256').update(data).digest('hex');
  fs.writeFileSync(path.join(layout, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
}

/**
 * The shipped layout made a two-platform index: its amd64 manifest and an arm64 one (the same
 * layers, a config saying arm64), under the shipped name. Returns the arm64 config digest.
 */
function twoPlatforms(layout: string): { arm64Id: string; amd64Id: string } {
  const top = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations: Record<string, string>; mediaType: string; size: number }[];
  };
  const entry = top.manifests[0];
  const blob = (d: string) => fs.readFileSync(path.join(layout, 'blobs', 'sha256', d.slice('sha256:'.length)), 'utf8');
  const manifest = JSON.parse(blob(entry.digest)) as { config: { digest: string; size: number; mediaType: string } };
  const config = JSON.parse(blob(manifest.config.digest)) as Record<string, unknown>;
  const armConfig = putBlob(layout, JSON.stringify({ ...config, architecture: 'arm64', variant: 'v8' }));
  const armManifest = putBlob(layout, JSON.stringify({ ...manifest, config: { ...manifest.config, ...armConfig } }));
  const index = putBlob(
    layout,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: entry.mediaType, digest: entry.digest, size: entry.size, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: entry.mediaType, ...armManifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }),
  );
  top.manifests = [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...index, annotations: entry.annotations }];
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(top));
  return { arm64Id: armConfig.digest, amd64Id: manifest.config.digest };
}

rootTest.serial('container run --platform: a stored image of another platform is refused with 125 and nothing is made', async (t) => {
  const env = await frontEnv(t);
  const r = await env.container(['run', ...NONE, '--rm', '--platform', 'linux/arm64', SHIPPED, 'true']);
  t.is(r.code, 125);
  t.regex(r.stderr, new RegExp(`image with reference ${SHIPPED} was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64`));
  t.is((await env.container(['ls', '-a', '-q'])).stdout, '', 'no container made');
  const never = await env.container(['create', ...NONE, '--pull', 'never', '--platform', 'linux/s390x', SHIPPED]);
  t.is(never.code, 125);
  t.regex(never.stderr, /wanted linux\/s390x, actual: linux\/amd64/);
  const ok = await env.container(['run', ...NONE, '--rm', '--platform', 'linux/amd64', SHIPPED, 'echo', 'amd64']);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, 'amd64\n');
});

rootTest.serial('container run --platform picks the matching record of a stored multi-platform index', async (t) => {
  const env = await frontEnv(t);
  const layout = path.join(env.dir, 'two-platforms');
  fs.cpSync(env.layout(), layout, { recursive: true });
  const { arm64Id, amd64Id } = twoPlatforms(layout);
  for (const p of ['linux/amd64', 'linux/arm64']) {
    const imp = await env.tsrun(['image', 'import', '--platform', p, layout]);
    t.is(imp.code, 0, imp.stderr);
  }
  // The name went to the last import (arm64); the amd64 record of the same index is still stored.
  const amd = await env.container(['create', ...NONE, '--platform', 'linux/amd64', '--name', 'amd', SHIPPED, 'true']);
  t.is(amd.code, 0, amd.stderr);
  const arm = await env.container(['create', ...NONE, '--platform', 'linux/arm64', '--name', 'arm', SHIPPED, 'true']);
  t.is(arm.code, 0, arm.stderr);
  const images = JSON.parse((await env.container(['inspect', 'amd', 'arm'])).stdout) as { Image: string }[];
  t.deepEqual(
    images.map((i) => i.Image),
    [amd64Id, arm64Id],
  );
  const none = await env.container(['create', ...NONE, '--platform', 'linux/ppc64le', SHIPPED, 'true']);
  t.is(none.code, 125);
  t.regex(none.stderr, /wanted linux\/ppc64le, actual: linux\/arm64\n/);
  t.is((await env.container(['rm', 'amd', 'arm'])).code, 0);
});
