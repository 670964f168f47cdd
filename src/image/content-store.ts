// Content-addressed blob store: `<imageRoot>/blobs/<alg>/<hex>` (the OCI image-layout shape).
// A blob becomes visible only by rename(2) of a fully written, fsync'd and verified temp file in
// the same directory, so a crash or kill never leaves a half-visible blob. An ingest keeps its
// partial file (`.<hex>.partial`) so a later ingest resumes from it; one writer per digest at a
// time (a `.<hex>.lock` file), so concurrent pulls of the same blob end with one correct copy.

import { createHash, randomBytes, type Hash } from 'node:crypto';
import { constants, createReadStream, type ReadStream } from 'node:fs';
import { open, readFile, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError, InvalidArgumentError } from '../errors.js';
import { FILE_MODE, mkdirPrivate, openPrivateStore } from './private-store.js';

const DIGEST_RE = /^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$/;

export function splitDigest(digest: string): { alg: 'sha256' | 'sha512'; hex: string } {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new InvalidArgumentError(`invalid digest "${digest}"`);
  return m[1] ? { alg: 'sha256', hex: m[2] } : { alg: 'sha512', hex: m[4] };
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** What an ingest reads from: a byte stream starting at `offset` (0 when a Range was refused). */
export interface IngestSource {
  offset: number;
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

export interface IngestOptions {
  digest: string;
  size?: number;
  /** Opens the source, asked to start at `offset` (resume). */
  open: (offset: number) => Promise<IngestSource>;
  signal?: AbortSignal;
  /** Called as bytes land: total bytes present, and where this ingest started. */
  onProgress?: (done: number, resumedFrom: number) => void;
}

export interface IngestResult {
  existed: boolean;
  resumedFrom: number;
  written: number;
}

export class ContentStore {
  readonly root: string;
  private readonly imageRoot: string;
  constructor(imageRoot: string) {
    this.imageRoot = imageRoot;
    this.root = join(imageRoot, 'blobs');
    openPrivateStore(imageRoot); // tightens a store made by an older tsrun; creates nothing
  }

  blobPath(digest: string): string {
    const { alg, hex } = splitDigest(digest);
    return join(this.root, alg, hex);
  }

  private side(digest: string, suffix: string): string {
    const { alg, hex } = splitDigest(digest);
    return join(this.root, alg, `.${hex}.${suffix}`);
  }

  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async has(digest: string, size?: number): Promise<boolean> {
    const s = await this.size(digest);
    return s !== undefined && (size === undefined || s === size);
  }

  /** Read a (small) blob whole and check it against its digest. */
  async read(digest: string): Promise<Buffer> {
    const { alg } = splitDigest(digest);
    const buf = await readFile(this.blobPath(digest));
    const got = `${alg}:${createHash(alg).update(buf).digest('hex')}`;
    if (got !== digest) throw new ImageError('TSRUN_IMAGE_DIGEST', `blob ${digest} in the store is corrupt (has ${got})`);
    return buf;
  }

  createReadStream(digest: string): ReadStream {
    return createReadStream(this.blobPath(digest));
  }

  /** Store bytes already in memory; `digest` (if given) must match. Returns the digest. */
  async put(data: Uint8Array, digest?: string): Promise<string> {
    const d = digest ?? sha256Digest(data);
    await this.ingest({
      digest: d,
      size: data.length,
      open: async () => ({ offset: 0, body: [data] }),
    });
    return d;
  }

  /**
   * Stream a blob into the store, verifying size and digest while the bytes pass. A digest or
   * size mismatch throws TSRUN_IMAGE_DIGEST and publishes nothing. An interruption keeps the
   * partial file; the next ingest of the digest re-hashes it and asks `open` for the rest.
   */
  async ingest(opts: IngestOptions): Promise<IngestResult> {
    const { digest, size } = opts;
    const { alg } = splitDigest(digest);
    if (await this.has(digest, size)) return { existed: true, resumedFrom: 0, written: 0 };
    await mkdirPrivate(this.imageRoot, join(this.root, alg));
    return withFileLock(
      this.side(digest, 'lock'),
      async () => {
        // Another writer may have finished while we waited for the lock.
        if (await this.has(digest, size)) return { existed: true, resumedFrom: 0, written: 0 };
        return this.ingestLocked(opts, alg);
      },
      { signal: opts.signal },
    );
  }

  private async ingestLocked(opts: IngestOptions, alg: 'sha256' | 'sha512'): Promise<IngestResult> {
    const { digest, size } = opts;
    const partial = this.side(digest, 'partial');
    // O_RDWR without O_APPEND: writes are positional, so a Range refusal can rewrite from 0.
    const fh = await open(partial, constants.O_RDWR | constants.O_CREAT, FILE_MODE);
    let closed = false;
    try {
      let have = (await fh.stat()).size;
      if (size !== undefined && have > size) {
        await fh.truncate(0);
        have = 0;
      }
      let hash = createHash(alg);
      if (have > 0) hash = await hashPrefix(fh, have, alg);
      const resumed = have;
      let start = have;
      // A previous ingest may have left exactly the whole blob: then no request at all.
      if (size === undefined || have < size) {
        const src = await opts.open(have);
        if (src.offset !== have) {
          if (src.offset !== 0) throw new ImageError('TSRUN_REGISTRY', `blob ${digest}: source started at ${src.offset}, wanted ${have} or 0`);
          await fh.truncate(0);
          have = 0;
          hash = createHash(alg);
          start = 0;
        }
        // Network chunks are ~64 KiB; gather ~1 MiB per write to save syscalls and pool hops.
        const batch = new WriteBatch(fh, have);
        try {
          for await (const chunk of src.body) {
            opts.signal?.throwIfAborted();
            if (size !== undefined && have + chunk.length > size) {
              await fh.truncate(0);
              batch.drop();
              throw new ImageError('TSRUN_IMAGE_DIGEST', `blob ${digest}: more than the expected ${size} bytes`);
            }
            hash.update(chunk);
            await batch.add(chunk);
            have += chunk.length;
            opts.onProgress?.(have, resumed);
          }
        } finally {
          // What arrived before an interruption is kept for the next resume.
          await batch.flush();
        }
      }
      const got = `${alg}:${hash.digest('hex')}`;
      if ((size !== undefined && have !== size) || got !== digest) {
        await fh.close();
        closed = true;
        await unlink(partial).catch(() => {});
        const why = size !== undefined && have !== size ? `got ${have} bytes, expected ${size}` : `content has digest ${got}`;
        throw new ImageError('TSRUN_IMAGE_DIGEST', `blob ${digest} failed verification: ${why}`);
      }
      await fh.sync();
      await fh.close();
      closed = true;
      await rename(partial, this.blobPath(digest));
      await fsyncDir(join(this.root, alg));
      return { existed: false, resumedFrom: start, written: have - start };
    } finally {
      if (!closed) {
        // Nothing worth resuming (e.g. the source failed before any byte): no empty partial.
        const empty = await fh.stat().then(
          (st) => st.size === 0,
          () => false,
        );
        await fh.close().catch(() => {});
        if (empty) await unlink(partial).catch(() => {});
      }
    }
  }

  /**
   * Remove scratch files nobody is using: partials whose lock is gone, temp files of dead
   * processes. Returns the bytes freed.
   */
  async pruneScratch(): Promise<number> {
    let freed = 0;
    for (const alg of ['sha256', 'sha512']) {
      const dir = join(this.root, alg);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        const partial = /^\.([a-f0-9]+)\.partial$/.exec(n);
        const tmp = /^\.tmp-(\d+)-/.exec(n);
        if (tmp && !pidAlive(Number(tmp[1]))) {
          freed += await unlinkSize(join(dir, n));
        } else if (partial) {
          // Take the blob's lock without waiting, so an ingest cannot start on it meanwhile.
          const lock = join(dir, `.${partial[1]}.lock`);
          const fh = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE).catch(() => undefined);
          if (!fh) continue;
          await fh.close();
          freed += await unlinkSize(join(dir, n));
          await unlink(lock).catch(() => {});
        }
      }
    }
    return freed;
  }

  /** Ingest a stream whose digest is not known beforehand (imports); returns digest and size. */
  async ingestUnknown(body: AsyncIterable<Uint8Array>): Promise<{ digest: string; size: number }> {
    const dir = join(this.root, 'sha256');
    await mkdirPrivate(this.imageRoot, dir);
    const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', FILE_MODE);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of body) {
        hash.update(chunk);
        await writeAll(fh, chunk, size);
        size += chunk.length;
      }
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    const digest = `sha256:${hash.digest('hex')}`;
    await rename(tmp, this.blobPath(digest));
    await fsyncDir(dir);
    return { digest, size };
  }

  /** Every complete blob's digest (temp, partial and lock files are skipped). */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for (const alg of ['sha256', 'sha512']) {
      let names: string[];
      try {
        names = await readdir(join(this.root, alg));
      } catch {
        continue;
      }
      const re = alg === 'sha256' ? /^[a-f0-9]{64}$/ : /^[a-f0-9]{128}$/;
      for (const n of names) if (re.test(n)) out.push(`${alg}:${n}`);
    }
    return out;
  }

  /** Remove a blob and any partial of it; returns the bytes freed. */
  async delete(digest: string): Promise<number> {
    let freed = 0;
    for (const p of [this.blobPath(digest), this.side(digest, 'partial')]) {
      try {
        freed += (await stat(p)).size;
        await unlink(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return freed;
  }
}

async function unlinkSize(path: string): Promise<number> {
  try {
    const { size } = await stat(path);
    await unlink(path);
    return size;
  } catch {
    return 0; // removed meanwhile
  }
}

class WriteBatch {
  private parts: Uint8Array[] = [];
  private bytes = 0;
  constructor(
    private readonly fh: FileHandle,
    private position: number,
  ) {}
  async add(chunk: Uint8Array): Promise<void> {
    this.parts.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= 1 << 20) await this.flush();
  }
  drop(): void {
    this.parts = [];
    this.bytes = 0;
  }
  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const parts = this.parts;
    const at = this.position;
    this.position += this.bytes;
    this.drop();
    // writev(2): one syscall, no copy into a joined buffer; a short write falls back to writeAll.
    const { bytesWritten } = await this.fh.writev(parts as NodeJS.ArrayBufferView[], at);
    let skip = bytesWritten;
    let pos = at;
    for (const p of parts) {
      if (skip < p.length) await writeAll(this.fh, p.subarray(skip), pos + skip);
      skip = Math.max(0, skip - p.length);
      pos += p.length;
    }
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

async function hashPrefix(fh: FileHandle, length: number, alg: string): Promise<Hash> {
  const hash = createHash(alg);
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  while (pos < length) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash;
}

// ---- locking shared by the content and image stores ----

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const heldLocks = new Set<string>();

/** True while a process with this pid exists (EPERM: it exists, we may not signal it). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file is stale when its owner process is gone (or is us, but not holding it). */
async function staleLock(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
  const m = /^(\d+) (\S+)/.exec(text);
  // A lock file still being written (empty) by a live process is not stale; give it a moment.
  if (!m)
    return (
      Date.now() -
        (await stat(path).then(
          (s) => s.mtimeMs,
          () => 0,
        )) >
      10_000
    );
  const pid = Number(m[1]);
  if (pid === process.pid) return !heldLocks.has(`${path}\n${m[2]}`);
  return !pidAlive(pid);
}

/**
 * Run `fn` holding an O_EXCL lock file (`pid token`). A stale lock (dead owner) is broken; a
 * live one is waited for, polling, until it goes away. (Two processes breaking the same stale
 * lock at once can race; that needs a crash first and costs at worst a duplicate download.)
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
  const token = randomBytes(8).toString('hex');
  let delay = 10;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE);
      heldLocks.add(`${path}\n${token}`);
      try {
        await fh.writeFile(`${process.pid} ${token}\n`);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (await staleLock(path)) {
      // Break it by renaming to a unique name first, so two breakers cannot both win.
      const grave = `${path}.stale-${token}`;
      await rename(path, grave).then(
        () => unlink(grave),
        () => {},
      );
      continue;
    }
    await sleep(delay, opts.signal);
    delay = Math.min(delay * 2, 200);
  }
  try {
    return await fn();
  } finally {
    heldLocks.delete(`${path}\n${token}`);
    await unlink(path).catch(() => {});
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
