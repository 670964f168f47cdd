// Reference parsing and normalisation, checked against what `docker pull` accepts and prints.

import test from 'ava';
import { familiarReference, formatReference, isLoopbackRegistry, parseReference, registryEndpoint } from '../../src/image/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

const cases: [string, string, string][] = [
  // input, fully qualified, familiar
  ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
  ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
  ['ghcr.io/o/r/deep/name:v1.2_3-rc', 'ghcr.io/o/r/deep/name:v1.2_3-rc', 'ghcr.io/o/r/deep/name:v1.2_3-rc'],
  ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
  ['localhost:5000/app:tag', 'localhost:5000/app:tag', 'localhost:5000/app:tag'],
  ['127.0.0.1:5000/a/b', '127.0.0.1:5000/a/b:latest', '127.0.0.1:5000/a/b:latest'],
  ['[::1]:5000/a', '[::1]:5000/a:latest', '[::1]:5000/a:latest'],
  [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
  [`r.io/x:t@${D}`, `r.io/x:t@${D}`, `r.io/x:t@${D}`],
  ['x/a__b.c-d---e', 'docker.io/x/a__b.c-d---e:latest', 'x/a__b.c-d---e:latest'],
];

for (const [input, full, familiar] of cases) {
  test(`parses ${input}`, (t) => {
    const ref = parseReference(input);
    t.is(formatReference(ref), full);
    t.is(familiarReference(ref), familiar);
    // Normalisation is idempotent.
    t.is(formatReference(parseReference(full)), full);
  });
}

test('splits registry, repository, tag and digest', (t) => {
  t.deepEqual(parseReference(`localhost:5000/a/b:t@${D}`), { registry: 'localhost:5000', repository: 'a/b', tag: 't', digest: D });
  t.deepEqual(parseReference(`a@${D}`), { registry: 'docker.io', repository: 'library/a', digest: D });
  t.deepEqual(parseReference('a', { defaultTag: 'edge' }).tag, 'edge');
});

const bad: [string, RegExp][] = [
  ['', /empty/],
  [' busybox', /whitespace/],
  ['Busybox', /lowercase/],
  ['docker.io/Library/busybox', /lowercase/],
  ['busybox:', /tag ""/],
  ['busybox:-x', /tag "-x"/],
  [`busybox:${'t'.repeat(129)}`, /tag/],
  ['busybox@sha256:abc', /digest "sha256:abc"/],
  [`busybox@md5:${'a'.repeat(32)}`, /digest/],
  ['a//b', /empty path component/],
  ['a/b/', /empty path component/],
  ['host:99999/a', /port 99999/],
  ['a/-b', /path component "-b"/],
  ['a/b..c', /path component "b..c"/],
  [`${'a'.repeat(250)}/bbbbbbbbbb`, /longer than 255/],
  ['bad_host.x:5000/a', /registry "bad_host.x:5000"/],
];

for (const [input, why] of bad) {
  test(`rejects ${JSON.stringify(input.slice(0, 40))}`, (t) => {
    const e = t.throws(() => parseReference(input));
    t.is((e as { code?: string }).code, 'TSRUN_INVALID_ARGUMENT');
    t.true(e!.message.startsWith(`invalid image reference "${input}"`), e!.message);
    t.regex(e!.message, why);
  });
}

test('endpoints and loopback detection', (t) => {
  t.is(registryEndpoint('docker.io'), 'registry-1.docker.io');
  t.is(registryEndpoint('ghcr.io'), 'ghcr.io');
  for (const r of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) t.true(isLoopbackRegistry(r), r);
  for (const r of ['docker.io', '10.0.0.1:5000', 'localhost.example.com', '128.0.0.1', '[::2]:5000']) t.false(isLoopbackRegistry(r), r);
});
