// The attach client's frame reader (src/front/attach.ts) and the --platform matching of stored
// images (src/front/platform.ts): pure parts, without a container.
import test from 'ava';
import { frameReader } from '../../src/front/attach.js';
import { platformMatches, showPlatform } from '../../src/front/platform.js';

function frame(stream: number, text: string): Buffer {
  const data = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, data]);
}

test('frames are split by stream, whole however the bytes arrive', (t) => {
  const all = Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, ''), frame(1, 'x'.repeat(70000))]);
  for (const step of [1, 3, 8, 9, 4096, all.length]) {
    const got: [number, string][] = [];
    const read = frameReader((s, d) => got.push([s, d.toString()]));
    for (let i = 0; i < all.length; i += step) read(all.subarray(i, i + step));
    t.deepEqual(got, [
      [1, 'out\n'],
      [2, 'err\n'],
      [1, ''],
      [1, 'x'.repeat(70000)],
    ]);
  }
});

test("--platform matching: os and architecture, the variant when named; containerd's format", (t) => {
  t.true(platformMatches('linux/amd64', { os: 'linux', architecture: 'amd64' }));
  t.false(platformMatches('linux/arm64', { os: 'linux', architecture: 'amd64' }));
  t.true(platformMatches('linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  t.true(platformMatches('linux/arm64', { os: 'linux', architecture: 'aarch64' }));
  t.true(platformMatches('linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }));
  t.false(platformMatches('linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v7' }));
  t.is(showPlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }), 'linux/arm64');
  t.is(showPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
  t.throws(() => platformMatches('linux', { os: 'linux', architecture: 'amd64' }), { message: /invalid platform/ });
});
