// A tiny tar writer for tests: hand-crafted headers that GNU tar will not produce (hostile names,
// base-256 numbers, bad checksums, PAX records with binary values). Test code only.

export interface RawEntry {
  name: string | Buffer;
  /** Typeflag character: '0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, … */
  type?: string;
  body?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  /** A per-entry PAX header ('x') written before this entry. */
  pax?: Record<string, string | Buffer>;
  /** Write the name as a GNU 'L' long-name record. */
  gnuLongName?: boolean;
  /** Encode the size field in GNU base-256. */
  base256Size?: boolean;
  /** Break the header checksum. */
  badChecksum?: boolean;
}

function octal(buf: Buffer, off: number, len: number, v: number): void {
  buf.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

export function header(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const name = typeof e.name === 'string' ? Buffer.from(e.name) : e.name;
  name.copy(h, 0, 0, Math.min(100, name.length));
  octal(h, 100, 8, e.mode ?? 0o644);
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  if (e.base256Size) {
    h[124] = 0x80;
    h.writeUIntBE(size, 136 - 6, 6);
  } else octal(h, 124, 12, size);
  octal(h, 136, 12, e.mtime ?? 1700000000);
  h.write(e.type ?? '0', 156, 1, 'latin1');
  if (e.linkname !== undefined) {
    const l = typeof e.linkname === 'string' ? Buffer.from(e.linkname) : e.linkname;
    l.copy(h, 157, 0, Math.min(100, l.length));
  }
  h.write('ustar\0' + '00', 257, 8, 'latin1');
  h.write('root', 265, 'latin1');
  h.write('root', 297, 'latin1');
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of h) sum += c;
  if (e.badChecksum) sum += 1;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

export function paxRecords(rec: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(rec)) {
    const val = typeof v === 'string' ? Buffer.from(v) : v;
    const rest = Buffer.byteLength(k) + val.length + 3; // ' ' '=' '\n'
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    parts.push(Buffer.concat([Buffer.from(`${len} ${k}=`), val, Buffer.from('\n')]));
  }
  return Buffer.concat(parts);
}

/** One archive; `end: false` leaves out the two zero blocks. */
export function tarball(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    if (e.pax) {
      const data = paxRecords(e.pax);
      out.push(header({ name: 'PaxHeader', type: 'x' }, data.length), data, pad(data.length));
    }
    let entry = e;
    if (e.gnuLongName) {
      const n = Buffer.concat([typeof e.name === 'string' ? Buffer.from(e.name) : e.name, Buffer.alloc(1)]);
      out.push(header({ name: '././@LongLink', type: 'L' }, n.length), n, pad(n.length));
      entry = { ...e, name: (typeof e.name === 'string' ? Buffer.from(e.name) : e.name).subarray(0, 99) };
    }
    out.push(header(entry, body.length), body, pad(body.length));
  }
  if (opts.end !== false) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** Splits a buffer into chunks of the given size (to exercise header/body splits across chunks). */
export async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
