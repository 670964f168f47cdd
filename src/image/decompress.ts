// Layer decompression: gzip (zlib), zstd (zlib on Node ≥22.15/23.8, else Debian's `zstd -dc`),
// or none. The media type decides (image-spec media-types.md); the blob's magic bytes are checked
// against it, so a mislabelled blob fails with a clear error instead of a tar checksum error.
import { spawn } from 'node:child_process';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ImageError, TsrunError } from '../errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const CHUNK = 256 * 1024;
// Let zlib's thread run this far ahead of the tar consumer, so inflating overlaps with file writes
// (as `tar -xzf` overlaps with its gzip child) instead of starting only when the next chunk is pulled.
const AHEAD = 8 * 1024 * 1024;

/**
 * The compression a layer media type declares: OCI `…layer.v1.tar[+gzip|+zstd]` (and the
 * deprecated `nondistributable` forms), Docker `…rootfs.diff.tar.gzip` / `…rootfs.foreign.diff.tar.gzip`.
 */
export function compressionForMediaType(mediaType: string): Compression {
  const mt = mediaType.trim().toLowerCase();
  if (/^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar$/.test(mt)) return 'none';
  if (/^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar\+gzip$/.test(mt)) return 'gzip';
  if (/^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar\+zstd$/.test(mt)) return 'zstd';
  if (/^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar\.gzip$/.test(mt)) return 'gzip';
  if (/^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar$/.test(mt)) return 'none';
  throw new ImageError('TSRUN_IMAGE', `unsupported layer media type ${JSON.stringify(mediaType)}`);
}

/** What the first bytes say; anything that is neither gzip nor zstd is taken as a plain tar. */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (head.length >= 4 && head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  // zstd skippable frames (magic 0x184D2A50..5F, little-endian) may precede the data frame.
  if (head.length >= 4 && head[3] === 0x18 && head[2] === 0x4d && head[1] === 0x2a && (head[0] & 0xf0) === 0x50) return 'zstd';
  return 'none';
}

export interface DecompressOptions {
  /** The layer's media type; when absent the magic bytes decide alone. */
  mediaType?: string;
  /** Forces a compression (skips the media-type lookup, still checked against the magic). */
  compression?: Compression;
  /** zstd implementation: `zlib` needs Node ≥22.15; `cli` spawns `zstd -dc`; `auto` prefers zlib. */
  zstd?: 'auto' | 'zlib' | 'cli';
  /** Label for error messages (e.g. the blob digest). */
  name?: string;
  /**
   * The layer's declared uncompressed size, when one is known: more output than this is refused
   * as soon as it appears (a decompression bomb must not fill the disk before the diffID check).
   */
  maxBytes?: number;
}

/** Whether this Node has zlib zstd (added in 23.8.0, backported to 22.15.0; absent in 20). */
export function hasZlibZstd(): boolean {
  return typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
}

/** A blob as chunks: a stream, any (async) iterable of Buffers, or one Buffer. */
export type BlobSource = AsyncIterable<Buffer> | Iterable<Buffer> | Readable | Buffer;

function iterate(source: BlobSource): AsyncIterator<Buffer> {
  if (Buffer.isBuffer(source)) source = [source];
  if (Symbol.asyncIterator in source) return (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const sync = source as Iterable<Buffer>;
  return (async function* () {
    yield* sync;
  })();
}

/** The uncompressed bytes of a layer blob, as chunks; at most `maxBytes` of them when it is set. */
export async function* decompress(source: BlobSource, opts: DecompressOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  const max = opts.maxBytes;
  if (max === undefined) {
    yield* decompressAll(source, opts);
    return;
  }
  if (!Number.isSafeInteger(max) || max < 0) throw new ImageError('TSRUN_IMAGE', `bad uncompressed size ${String(max)}`);
  let n = 0;
  for await (const c of decompressAll(source, opts)) {
    n += c.length;
    if (n > max) {
      throw new ImageError(
        'TSRUN_IMAGE',
        `${opts.name ? `layer ${opts.name}` : 'layer'}: decompresses to more than its declared uncompressed size of ${max} bytes`,
      );
    }
    yield c;
  }
}

async function* decompressAll(source: BlobSource, opts: DecompressOptions): AsyncGenerator<Buffer, void, undefined> {
  const it = iterate(source);
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  try {
    while (headLen < 4) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head.push(r.value);
      headLen += r.value.length;
    }
    const sniffed = sniffCompression(Buffer.concat(head));
    const declared = opts.compression ?? (opts.mediaType !== undefined ? compressionForMediaType(opts.mediaType) : undefined);
    const label = opts.name ? `layer ${opts.name}` : 'layer';
    if (declared !== undefined && declared !== sniffed && headLen > 0) {
      throw new ImageError(
        'TSRUN_IMAGE',
        `${label}: media type ${opts.mediaType ?? declared} says ${declared}, but the blob looks ${sniffed === 'none' ? 'uncompressed' : sniffed}`,
      );
    }
    const comp = declared ?? sniffed;
    async function* rest(): AsyncGenerator<Buffer> {
      yield* head;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    if (comp === 'none') {
      yield* rest();
    } else if (comp === 'gzip') {
      yield* through(rest(), zlib.createGunzip({ chunkSize: CHUNK, readableHighWaterMark: AHEAD } as zlib.ZlibOptions));
    } else if (opts.zstd !== 'cli' && hasZlibZstd()) {
      const z = zlib as unknown as { createZstdDecompress(o?: object): Transform };
      yield* through(rest(), z.createZstdDecompress({ chunkSize: CHUNK, readableHighWaterMark: AHEAD }));
    } else if (opts.zstd === 'zlib') {
      throw new TsrunError('TSRUN_UNSUPPORTED', `${label}: zlib zstd needs Node ≥22.15 (this is ${process.version})`);
    } else {
      yield* zstdCli(rest(), label);
    }
  } finally {
    await it.return?.();
  }
}

/** Pipes chunks through a zlib transform; errors on either side surface from the iteration. */
async function* through(input: AsyncGenerator<Buffer>, t: Transform): AsyncGenerator<Buffer> {
  const src = Readable.from(input, { objectMode: false });
  const done = pipeline(src, t);
  done.catch(() => {
    /* surfaced through t's iteration */
  });
  try {
    for await (const c of t) {
      yield c as Buffer;
      // The consumer (tar parsing, file writes) runs synchronously between awaits, so zlib's
      // thread-pool completions would wait for it; one event-loop turn per chunk lets zlib start
      // inflating the next chunk while the consumer works on this one.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await done;
  } finally {
    src.destroy();
    t.destroy();
  }
}

/** `zstd -dc` (Debian package zstd) for Nodes without zlib zstd. */
async function* zstdCli(input: AsyncGenerator<Buffer>, label: string): AsyncGenerator<Buffer> {
  const child = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new ImageError('TSRUN_IMAGE', `${label}: zstd layers need Node ≥22.15 or the zstd program (Debian package zstd)`, { cause: err })
          : err,
      ),
    );
    child.once('close', (code, signal) => resolve(signal ? 128 : code));
  });
  exited.catch(() => {
    /* awaited below */
  });
  const src = Readable.from(input, { objectMode: false });
  let feedErr: unknown;
  const fed = pipeline(src, child.stdin).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') feedErr = err;
  });
  try {
    for await (const c of child.stdout) yield c as Buffer;
    await fed;
    const code = await exited; // a spawn failure (no zstd program) first,
    if (feedErr) throw feedErr; // then the source's own error (e.g. a digest mismatch)
    if (code !== 0) throw new ImageError('TSRUN_IMAGE', `${label}: zstd -d failed (exit ${code}): ${stderr.trim()}`);
  } finally {
    src.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
