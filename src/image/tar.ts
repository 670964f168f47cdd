// A streaming tar reader for OCI layers (image-spec layer.md: POSIX ustar/pax; GNU long names seen
// in the wild). Written in-house because node-tar drops SCHILY.xattr and tar-stream decodes PAX
// values as UTF-8, corrupting binary security.capability.
// PAX values stay raw Buffers; paths are exposed both raw and decoded.
import type { Readable } from 'node:stream';
import { ImageError } from '../errors.js';
import { cut, quote } from '../spec/cut.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarTime {
  sec: number;
  nsec: number;
}

export interface TarHeader {
  /** Byte offset of this entry's own header block in the uncompressed stream. */
  offset: number;
  /** The name exactly as stored (PAX `path`, GNU `L`, or ustar prefix + name). */
  rawPath: Buffer;
  /** rawPath decoded as UTF-8, for messages. */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Size of the body in bytes (0 for every type but `file`). */
  size: number;
  mtime: TarTime;
  atime?: TarTime;
  rawLinkpath: Buffer;
  linkpath: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** From `SCHILY.xattr.<name>` (and `LIBARCHIVE.xattr.*`), values byte-exact. */
  xattrs: Map<string, Buffer>;
  /** Every PAX record in effect for this entry (global `g` then per-entry `x`). */
  pax: Map<string, Buffer>;
}

export interface TarEntry extends TarHeader {
  /** The body, in chunks. Consume it or call skip(); the reader skips whatever is left. */
  body(): AsyncGenerator<Buffer, void, undefined>;
  /**
   * The whole body if it is already buffered (consumed, zero-copy, valid until the next entry),
   * else undefined and nothing consumed: a fast path for the many small files of a layer.
   */
  bufferedBody(): Buffer | undefined;
  skip(): Promise<void>;
}

/** A stream, any (async) iterable of Buffers, or one Buffer. */
export type TarSource = AsyncIterable<Buffer> | Iterable<Buffer> | Readable | Buffer;

const BLOCK = 512;

/** Limits on extended headers (PAX `x`/`g`, GNU `L`/`K`): hostile layers make them huge. */
export interface TarLimits {
  /** One extended header's size (Go archive/tar's maxSpecialFileSize: 1 MiB). */
  maxHeaderBytes?: number;
  /** All PAX global (`g`) headers of one archive together, and the keywords they set. */
  maxGlobalBytes?: number;
  maxGlobalKeys?: number;
  /** Every extended header of one archive together (x, g, L, K). */
  maxExtendedBytes?: number;
}

export const TAR_LIMITS: Required<TarLimits> = {
  maxHeaderBytes: 1 << 20,
  maxGlobalBytes: 1 << 20,
  maxGlobalKeys: 1024,
  // A layer of a million files each with a 256-byte PAX header stays under this.
  maxExtendedBytes: 256 << 20,
};

function tarError(message: string): ImageError {
  return new ImageError('TSRUN_IMAGE', message);
}

/** Pulls exact byte counts out of a chunked source without copying when it can. */
class ByteReader {
  private it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private eof = false;
  offset = 0;

  constructor(source: TarSource) {
    if (Buffer.isBuffer(source)) source = [source];
    if (Symbol.asyncIterator in source) this.it = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    else {
      const sync = source as Iterable<Buffer>;
      this.it = (async function* () {
        yield* sync;
      })();
    }
  }

  private async fill(): Promise<boolean> {
    while (this.pos >= this.buf.length) {
      if (this.eof) return false;
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        return false;
      }
      this.buf = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      this.pos = 0;
    }
    return true;
  }

  /** n bytes if they are already buffered (no promise, no copy), else undefined. */
  tryRead(n: number): Buffer | undefined {
    if (this.buf.length - this.pos < n) return undefined;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  /** Up to n bytes; fewer only at end of stream. */
  async read(n: number): Promise<Buffer> {
    if (this.buf.length - this.pos >= n) {
      const out = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.buf.length - this.pos);
      parts.push(this.buf.subarray(this.pos, this.pos + take));
      this.pos += take;
      got += take;
    }
    this.offset += got;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, got);
  }

  /** Chunks adding up to at most n bytes; stops early only at end of stream. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    while (n > 0 && (await this.fill())) {
      const take = Math.min(n, this.buf.length - this.pos);
      const out = this.buf.subarray(this.pos, this.pos + take);
      this.pos += take;
      this.offset += take;
      n -= take;
      yield out;
    }
  }

  /** Consumes everything left (the archive's trailing padding must still reach the digest). */
  async drain(): Promise<void> {
    this.offset += this.buf.length - this.pos;
    this.pos = this.buf.length;
    while (await this.fill()) {
      this.offset += this.buf.length - this.pos;
      this.pos = this.buf.length;
    }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/** A NUL-terminated header field. */
function field(h: Buffer, off: number, len: number): Buffer {
  const f = h.subarray(off, off + len);
  const z = f.indexOf(0);
  return z < 0 ? f : f.subarray(0, z);
}

/** Octal ASCII, or GNU base-256 when the high bit of the first byte is set. */
export function parseNumeric(f: Buffer, what: string, at: number): number {
  if (f.length > 0 && (f[0] & 0x80) !== 0) {
    let v = BigInt(f[0] & 0x7f) - (f[0] & 0x40 ? 0x80n : 0n); // two's complement (0xff… negative)
    for (let i = 1; i < f.length; i++) v = (v << 8n) | BigInt(f[i]);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw tarError(`tar header at offset ${at}: ${what} ${v} is too large`);
    }
    return Number(v);
  }
  // Hand-rolled (this runs several times per entry): leading spaces, octal digits, then NUL/space.
  let i = 0;
  while (i < f.length && f[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < f.length; i++) {
    const c = f[i];
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < f.length; i++) {
    if (f[i] !== 0 && f[i] !== 0x20) {
      throw tarError(`tar header at offset ${at}: bad ${what} field ${quote(f.toString('latin1').replace(/\0+$/, ''))}`);
    }
  }
  if (digits > 17 && !Number.isSafeInteger(v)) throw tarError(`tar header at offset ${at}: ${what} is too large`);
  return v;
}

/** Sum of all header bytes (0 means a zero block); the checksum field counts as spaces. */
function headerSum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  return sum;
}

function checksumOk(h: Buffer, sum: number, at: number): void {
  const stored = parseNumeric(h.subarray(148, 156), 'checksum', at);
  let unsigned = sum + 8 * 0x20;
  for (let i = 148; i < 156; i++) unsigned -= h[i];
  if (stored === unsigned) return;
  let signed = 0; // some old tars summed signed chars (POSIX asks for unsigned)
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i];
    signed += c > 127 ? c - 256 : c;
  }
  if (stored !== signed) {
    throw tarError(`bad tar header checksum at offset ${at} (stored ${stored}, computed ${unsigned}): not a tar archive, or corrupt`);
  }
}

/** `<len> <key>=<value>\n` records; values kept as raw bytes (POSIX pax "Extended header"). */
export function parsePax(data: Buffer, at: number, into: Map<string, Buffer>): void {
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    const sp = data.indexOf(0x20, i);
    const lenStr = sp < 0 ? '' : data.toString('latin1', i, sp);
    const len = Number(lenStr);
    if (!/^[0-9]+$/.test(lenStr) || len <= sp - i + 1 || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw tarError(`bad PAX record at offset ${at + BLOCK + i}`);
    }
    const rec = data.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw tarError(`bad PAX record (no key=value) at offset ${at + BLOCK + i}`);
    into.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    i += len;
  }
}

function paxInt(v: Buffer, key: string, where: string): number {
  const s = v.toString('latin1');
  if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) throw tarError(`${where}: bad PAX ${key} ${quote(s)}`);
  return Number(s);
}

/** PAX times: decimal seconds with an optional fraction, possibly negative; seconds must be a safe integer. */
function paxTime(v: Buffer, key: string, where: string): TarTime {
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(v.toString('latin1'));
  if (!m) throw tarError(`${where}: bad PAX ${key} ${quote(v.toString('latin1'))}`);
  let sec = Number(m[2]);
  if (!Number.isSafeInteger(sec)) throw tarError(`${where}: PAX ${key} ${quote(v.toString('latin1'))} is out of range`);
  let nsec = Number(((m[3] ?? '') + '000000000').slice(0, 9));
  if (m[1] === '-') {
    sec = -sec;
    if (nsec > 0) {
      sec -= 1;
      nsec = 1e9 - nsec;
    }
  }
  return { sec, nsec };
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
  D: 'dir',
};

/**
 * Reads a tar stream entry by entry. The whole source is consumed, including what follows the
 * end-of-archive blocks, so a digest computed over the source covers every byte.
 */
export async function* readTar(source: TarSource, limits: TarLimits = {}): AsyncGenerator<TarEntry, void, undefined> {
  const lim = { ...TAR_LIMITS, ...limits };
  const r = new ByteReader(source);
  // Entries share this map until a later `g` header replaces it (copy on write), so many
  // entries cost no copy of it each.
  let global = new Map<string, Buffer>();
  let globalBytes = 0; // bytes of every `g` header read so far
  let extendedBytes = 0; // bytes of every extended header read so far
  let local: Map<string, Buffer> | null = null;
  let longName: Buffer | null = null;
  let longLink: Buffer | null = null;
  let pending = 0; // body + padding of the previous entry not read by the consumer
  let current = 0; // entries yielded so far: a body may be read only while its entry is current
  try {
    for (;;) {
      if (pending > 0) {
        const want = pending;
        let got = 0;
        for await (const c of r.chunks(want)) got += c.length;
        pending = 0;
        if (got < want) throw tarError(`truncated tar archive: ${want - got} bytes missing at offset ${r.offset}`);
      }
      const at = r.offset;
      const h = r.tryRead(BLOCK) ?? (await r.read(BLOCK));
      if (h.length === 0) {
        throw tarError(`truncated tar archive: no end-of-archive marker (stream ends at offset ${at})`);
      }
      if (h.length < BLOCK) throw tarError(`truncated tar archive: partial header at offset ${at} (${h.length} of 512 bytes)`);
      const sum = headerSum(h);
      if (sum === 0) {
        if (local || longName || longLink) throw tarError(`tar archive ends after an extended header at offset ${at}`);
        await r.drain(); // second zero block and the record padding
        return;
      }
      checksumOk(h, sum, at);
      const flag = String.fromCharCode(h[156]);
      const declared = parseNumeric(h.subarray(124, 136), 'size', at);
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        const kind = flag === 'g' ? 'PAX global header' : flag === 'x' ? 'PAX header' : 'GNU long name';
        if (declared > lim.maxHeaderBytes) {
          throw tarError(`tar header at offset ${at}: ${kind} of ${declared} bytes is too large (limit ${lim.maxHeaderBytes})`);
        }
        extendedBytes += declared;
        if (extendedBytes > lim.maxExtendedBytes) {
          throw tarError(`tar header at offset ${at}: extended headers of this archive exceed ${lim.maxExtendedBytes} bytes`);
        }
        if (flag === 'g') {
          globalBytes += declared;
          if (globalBytes > lim.maxGlobalBytes) {
            throw tarError(`tar header at offset ${at}: PAX global headers of this archive exceed ${lim.maxGlobalBytes} bytes`);
          }
        }
        const data = await r.read(declared);
        const pad = (BLOCK - (declared % BLOCK)) % BLOCK;
        if (data.length < declared || (await r.read(pad)).length < pad) {
          throw tarError(`truncated tar archive: extended header at offset ${at} needs ${declared} bytes`);
        }
        if (flag === 'x') parsePax(data, at, (local ??= new Map()));
        else if (flag === 'g') {
          const g = new Map<string, Buffer>();
          parsePax(data, at, g);
          global = new Map(global);
          for (const [k, v] of g)
            if (v.length === 0) global.delete(k);
            else global.set(k, v);
          if (global.size > lim.maxGlobalKeys) {
            throw tarError(`tar header at offset ${at}: PAX global headers set more than ${lim.maxGlobalKeys} keywords`);
          }
        } else if (flag === 'L') longName = Buffer.from(field(data, 0, data.length));
        else longLink = Buffer.from(field(data, 0, data.length));
        continue;
      }
      // An empty value in a per-entry record unsets the keyword (POSIX pax "x" typeflag).
      let pax: Map<string, Buffer>;
      if (local && global.size === 0) {
        pax = local;
        for (const [k, v] of pax) if (v.length === 0) pax.delete(k);
      } else if (!local) {
        pax = global;
      } else {
        pax = new Map(global);
        if (local)
          for (const [k, v] of local)
            if (v.length === 0) pax.delete(k);
            else pax.set(k, v);
      }
      const entry = buildHeader(h, at, flag, declared, pax, longName, longLink);
      local = longName = longLink = null;
      // Header-only types carry no data whatever the size field says (Go archive/tar does the
      // same), except GNU dumpdirs ('D'), whose listing we skip.
      const dataLen = entry.type === 'file' || flag === 'D' ? (pax.has('size') ? entry.size : declared) : 0;
      if (flag === 'D') entry.size = 0;
      let left = entry.type === 'file' ? dataLen : 0;
      const seq = ++current;
      pending = dataLen + ((BLOCK - (dataLen % BLOCK)) % BLOCK);
      const full: TarEntry = Object.assign(entry, {
        async *body(): AsyncGenerator<Buffer, void, undefined> {
          if (seq !== current && left > 0) throw tarError(`tar entry '${cut(entry.path)}': body read after the reader moved on`);
          while (left > 0) {
            const want = left;
            let got = 0;
            for await (const c of r.chunks(want)) {
              got += c.length;
              left -= c.length;
              pending -= c.length;
              yield c;
            }
            if (got < want) throw tarError(`truncated tar archive: entry '${cut(entry.path)}' (header at offset ${at}) is missing ${left} bytes`);
          }
        },
        bufferedBody(): Buffer | undefined {
          if (seq !== current || left === 0) return left === 0 ? Buffer.alloc(0) : undefined;
          const b = r.tryRead(left);
          if (b) {
            pending -= left;
            left = 0;
          }
          return b;
        },
        async skip(): Promise<void> {
          for await (const _ of full.body()) {
            /* discard */
          }
        },
      });
      yield full;
    }
  } finally {
    await r.close();
  }
}

function buildHeader(
  h: Buffer,
  at: number,
  flag: string,
  declared: number,
  pax: Map<string, Buffer>,
  longName: Buffer | null,
  longLink: Buffer | null,
): TarHeader {
  const ustar = h.toString('latin1', 257, 263) === 'ustar\0'; // POSIX; GNU writes "ustar  \0"
  let rawPath: Buffer;
  const pp = pax.get('path');
  if (pp) rawPath = pp;
  else if (longName) rawPath = longName;
  else {
    const name = field(h, 0, 100);
    const prefix = ustar ? field(h, 345, 155) : Buffer.alloc(0);
    rawPath = Buffer.from(prefix.length ? Buffer.concat([prefix, Buffer.from('/'), name]) : name);
  }
  const path = rawPath.toString('utf8');
  const where = `tar entry '${cut(path)}' (header at offset ${at})`;
  if (flag === 'S' || (pax.size > 0 && [...pax.keys()].some((k) => k.startsWith('GNU.sparse.')))) {
    // image-spec layer.md: "Sparse files SHOULD NOT be used because they lack consistent support".
    throw tarError(`${where}: GNU sparse files are not supported in layers`);
  }
  let type = TYPES[flag];
  if (!type) throw tarError(`${where}: unsupported entry type '${flag === '\0' ? '\\0' : flag}'`);
  if (type === 'file' && flag !== '7' && rawPath.length > 0 && rawPath[rawPath.length - 1] === 0x2f) type = 'dir'; // pre-POSIX dirs
  const rawLinkpath = pax.get('linkpath') ?? longLink ?? Buffer.from(field(h, 157, 100));
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of pax) {
    if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
    else if (k.startsWith('LIBARCHIVE.xattr.')) {
      let name: string;
      try {
        name = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length));
      } catch {
        throw tarError(`${where}: bad PAX key ${quote(k)}`);
      }
      xattrs.set(name, Buffer.from(v.toString('latin1'), 'base64'));
    }
  }
  const num = (off: number, len: number, what: string) => parseNumeric(h.subarray(off, off + len), what, at);
  const p = (k: string) => pax.get(k);
  const size = p('size') ? paxInt(p('size')!, 'size', where) : declared;
  if (size < 0) throw tarError(`${where}: negative size`);
  return {
    offset: at,
    rawPath,
    path,
    type,
    mode: num(100, 8, 'mode') & 0o7777,
    uid: p('uid') ? paxInt(p('uid')!, 'uid', where) : num(108, 8, 'uid'),
    gid: p('gid') ? paxInt(p('gid')!, 'gid', where) : num(116, 8, 'gid'),
    size: type === 'file' ? size : 0,
    mtime: p('mtime') ? paxTime(p('mtime')!, 'mtime', where) : { sec: num(136, 12, 'mtime'), nsec: 0 },
    atime: p('atime') ? paxTime(p('atime')!, 'atime', where) : undefined,
    rawLinkpath,
    linkpath: rawLinkpath.toString('utf8'),
    uname: (p('uname') ?? field(h, 265, 32)).toString('utf8'),
    gname: (p('gname') ?? field(h, 297, 32)).toString('utf8'),
    devmajor: type === 'char' || type === 'block' ? num(329, 8, 'devmajor') : 0,
    devminor: type === 'char' || type === 'block' ? num(337, 8, 'devminor') : 0,
    xattrs,
    pax,
  };
}
