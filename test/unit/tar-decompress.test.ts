// Layer decompression: media types, magic-byte checks, gzip (zlib), zstd (zlib when this Node has
// it, and the `zstd` program), and errors surfacing from the source through the decompressor.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { compressionForMediaType, decompress, hasZlibZstd, sniffCompression } from '../../src/image/decompress.js';
import { chunked } from '../helpers/tar-writer.js';
import { need, needs } from '../helpers/skip.js';

const PLAIN = Buffer.concat([randomBytes(200_000), Buffer.alloc(300_000, 1)]);
const GZ = zlib.gzipSync(PLAIN);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function hasZstdCli(): boolean {
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

test('media types map to compressions; unknown ones are refused by name', (t) => {
  t.is(compressionForMediaType('application/vnd.oci.image.layer.v1.tar'), 'none');
  t.is(compressionForMediaType('application/vnd.oci.image.layer.v1.tar+gzip'), 'gzip');
  t.is(compressionForMediaType('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  t.is(compressionForMediaType('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'), 'gzip');
  t.is(compressionForMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  t.is(compressionForMediaType('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'), 'gzip');
  t.throws(() => compressionForMediaType('application/vnd.oci.image.layer.v1.tar+bzip2'), { message: /unsupported layer media type.*bzip2/ });
});

test('magic bytes', (t) => {
  t.is(sniffCompression(GZ), 'gzip');
  t.is(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
  t.is(sniffCompression(Buffer.from('ustar')), 'none');
});

test('gzip with the media type, and sniffed without one, split in odd chunks', async (t) => {
  const a = await collect(decompress(chunked(GZ, 333), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
  t.is(sha(a), sha(PLAIN));
  const b = await collect(decompress(chunked(GZ, 65536)));
  t.is(sha(b), sha(PLAIN));
  const c = await collect(decompress(chunked(PLAIN, 1000), { mediaType: 'application/vnd.oci.image.layer.v1.tar' }));
  t.is(sha(c), sha(PLAIN));
});

test('a media type that disagrees with the bytes is an error', async (t) => {
  await t.throwsAsync(collect(decompress(chunked(PLAIN, 1000), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', name: 'sha256:abc' })), {
    message: /layer sha256:abc: media type .*\+gzip says gzip, but the blob looks uncompressed/,
  });
  await t.throwsAsync(collect(decompress(chunked(GZ, 1000), { mediaType: 'application/vnd.oci.image.layer.v1.tar' })), { message: /looks gzip/ });
});

test('corrupt gzip and source errors surface from the iteration', async (t) => {
  const bad = Buffer.from(GZ);
  bad[bad.length - 6] ^= 0xff; // CRC32
  await t.throwsAsync(collect(decompress(chunked(bad, 4096))));
  async function* failing(): AsyncGenerator<Buffer> {
    yield GZ.subarray(0, 1000);
    throw new Error('source broke');
  }
  await t.throwsAsync(collect(decompress(failing())), { message: 'source broke' });
});

const zstdCli = need(hasZstdCli(), 'needs the zstd program (Debian package zstd)');
const withCli = needs(zstdCli);
const withZlib = needs(need(hasZlibZstd(), `Node ${process.version} has no zlib zstd (22.15 or later has)`), zstdCli);

withCli('zstd through the zstd program', async (t) => {
  const zst = execFileSync('zstd', ['-q', '-c'], { input: PLAIN, maxBuffer: 64 << 20 });
  const out = await collect(decompress(chunked(zst, 5000), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', zstd: 'cli' }));
  t.is(sha(out), sha(PLAIN));
  const bad = Buffer.from(zst);
  bad[20] ^= 0xff;
  await t.throwsAsync(collect(decompress(chunked(bad, 5000), { zstd: 'cli' })), { message: /zstd -d failed|source/ });
  async function* failing(): AsyncGenerator<Buffer> {
    yield zst.subarray(0, 100);
    throw new Error('digest mismatch upstream');
  }
  await t.throwsAsync(collect(decompress(failing(), { zstd: 'cli' })), { message: 'digest mismatch upstream' });
});

withZlib('zstd through zlib (Node >= 22.15)', async (t) => {
  const zst = execFileSync('zstd', ['-q', '-c'], { input: PLAIN, maxBuffer: 64 << 20 });
  const out = await collect(decompress(chunked(zst, 5000), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', zstd: 'zlib' }));
  t.is(sha(out), sha(PLAIN));
});
