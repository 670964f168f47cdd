// The streaming tar reader against archives written by GNU tar (pax with xattrs, gnu long names,
// sparse) and against hand-crafted headers (checksums, base-256, truncation, PAX binary values).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTar, type TarEntry } from '../../src/image/tar.js';
import { lsetxattr } from '../../src/image/fsx.js';
import { chunked, paxRecords, tarball, type RawEntry } from '../helpers/tar-writer.js';

interface Read {
  entries: Omit<TarEntry, 'body' | 'skip'>[];
  bodies: Map<string, Buffer>;
}

async function readAll(src: AsyncIterable<Buffer>): Promise<Read> {
  const entries: Read['entries'] = [];
  const bodies = new Map<string, Buffer>();
  for await (const e of readTar(src)) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(Buffer.from(c));
    bodies.set(e.path, Buffer.concat(parts));
    entries.push(e);
  }
  return { entries, bodies };
}

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-tar-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep, v2
const BINARY = Buffer.from([0x01, 0x80, 0x00, 0xff, 0x0a, 0x3d, 0x20]); // NUL, high bytes, '\n', '=', ' '

test('GNU tar --format=pax --xattrs: names, modes, owners, fractional mtimes, binary xattrs, links', async (t) => {
  const d = tmp(t);
  const src = path.join(d, 'src');
  fs.mkdirSync(path.join(src, 'dir'), { recursive: true });
  const long = 'x'.repeat(120) + '/' + 'y'.repeat(120);
  fs.mkdirSync(path.join(src, 'x'.repeat(120)));
  fs.writeFileSync(path.join(src, long), 'long');
  fs.writeFileSync(path.join(src, 'dir/file'), 'hello\n');
  fs.chmodSync(path.join(src, 'dir/file'), 0o4751);
  fs.linkSync(path.join(src, 'dir/file'), path.join(src, 'dir/hard'));
  fs.symlinkSync('/abs/target', path.join(src, 'dir/abs'));
  fs.symlinkSync('../'.repeat(5) + 'escape', path.join(src, 'dir/esc'));
  fs.writeFileSync(path.join(src, 'big'), Buffer.alloc(300_000, 7));
  lsetxattr(path.join(src, 'dir/file'), 'user.bin', BINARY);
  fs.utimesSync(path.join(src, 'dir/file'), 1.5, 1234567890.25);
  const archive = path.join(d, 'a.tar');
  execFileSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=user.*', '-C', src, '-cf', archive, '.']);
  const { entries, bodies } = await readAll(fs.createReadStream(archive));
  const by = new Map(entries.map((e) => [e.path.replace(/^\.\//, '').replace(/\/$/, ''), e]));
  const file = by.get('dir/file') ?? by.get('dir/hard')!;
  const other = file.path.endsWith('file') ? by.get('dir/hard')! : by.get('dir/file')!;
  t.is(file.type, 'file');
  t.is(file.mode, 0o4751);
  t.is(file.uid, process.getuid!());
  t.deepEqual(file.mtime, { sec: 1234567890, nsec: 250000000 });
  t.deepEqual(file.xattrs.get('user.bin'), BINARY);
  t.deepEqual(bodies.get(file.path), Buffer.from('hello\n'));
  t.is(other.type, 'hardlink');
  t.is(other.linkpath.replace(/^\.\//, ''), file.path.replace(/^\.\//, ''));
  t.is(by.get('dir/abs')!.type, 'symlink');
  t.is(by.get('dir/abs')!.linkpath, '/abs/target');
  t.is(by.get('dir/esc')!.linkpath, '../../../../../escape');
  t.is(by.get('dir')!.type, 'dir');
  t.deepEqual(bodies.get(by.get(long)!.path), Buffer.from('long'));
  t.is(by.get('big')!.size, 300_000);
  t.true(bodies.get(by.get('big')!.path)!.equals(Buffer.alloc(300_000, 7)));
});

test('GNU tar --format=gnu: L/K long names and link targets, base-256 not needed', async (t) => {
  const d = tmp(t);
  const src = path.join(d, 'src');
  const deep = path.join(src, 'a'.repeat(90), 'b'.repeat(90));
  fs.mkdirSync(deep, { recursive: true });
  fs.writeFileSync(path.join(deep, 'c'.repeat(90)), 'deep');
  fs.symlinkSync('t'.repeat(150), path.join(src, 'ln'));
  const archive = path.join(d, 'g.tar');
  execFileSync('tar', ['--format=gnu', '-C', src, '-cf', archive, '.']);
  const { entries, bodies } = await readAll(fs.createReadStream(archive));
  const f = entries.find((e) => e.path.endsWith('c'.repeat(90)))!;
  t.is(f.path, `./${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(90)}`);
  t.deepEqual(bodies.get(f.path), Buffer.from('deep'));
  t.is(entries.find((e) => e.path === './ln')!.linkpath, 't'.repeat(150));
});

test('GNU sparse files are rejected, naming the entry', async (t) => {
  const d = tmp(t);
  const src = path.join(d, 'src');
  fs.mkdirSync(src);
  const fd = fs.openSync(path.join(src, 'holey'), 'w');
  fs.writeSync(fd, 'end', 8 * 1024 * 1024);
  fs.closeSync(fd);
  for (const format of ['pax', 'gnu']) {
    const archive = path.join(d, `${format}.tar`);
    execFileSync('tar', [`--format=${format}`, '--sparse', '-C', src, '-cf', archive, 'holey']);
    const err = await t.throwsAsync(readAll(fs.createReadStream(archive)));
    t.regex(err!.message, /holey.*sparse/);
  }
});

test('hand-crafted: PAX binary xattrs byte-exact, global records, per-entry overrides, base-256', async (t) => {
  const entries: RawEntry[] = [
    { name: 'g', type: 'g', body: paxRecords({ uname: 'globaluser', uid: '777' }) },
    { name: 'cap', body: 'x', pax: { 'SCHILY.xattr.security.capability': CAP, 'SCHILY.xattr.user.b': BINARY, mtime: '1700000000.5', uid: '4000000' } },
    { name: 'plain', body: 'y'.repeat(1000), base256Size: true },
    { name: 'old-dir/', type: '0' },
    { name: 'neg', pax: { mtime: '-1.25' } },
  ];
  const buf = tarball(entries);
  for (const size of [1, 7, 512, 100_000]) {
    const { entries: got, bodies } = await readAll(chunked(buf, size));
    t.deepEqual(
      got.map((e) => e.path),
      ['cap', 'plain', 'old-dir/', 'neg'],
    );
    t.deepEqual(got[0].xattrs.get('security.capability'), CAP);
    t.deepEqual(got[0].xattrs.get('user.b'), BINARY);
    t.deepEqual(got[0].mtime, { sec: 1700000000, nsec: 500000000 });
    t.is(got[0].uid, 4000000);
    t.is(got[0].uname, 'globaluser');
    t.is(got[1].uid, 777); // from the global record
    t.is(got[1].size, 1000);
    t.deepEqual(bodies.get('plain'), Buffer.from('y'.repeat(1000)));
    t.is(got[2].type, 'dir');
    t.deepEqual(got[3].mtime, { sec: -2, nsec: 750000000 });
  }
});

test('hand-crafted: char/block devices, fifo, contiguous, unread bodies skipped', async (t) => {
  const buf = tarball([
    { name: 'c', type: '3', devmajor: 1, devminor: 3 },
    { name: 'b', type: '4', devmajor: 259, devminor: 70000 },
    { name: 'p', type: '6' },
    { name: 'skipped', body: 'z'.repeat(5000) },
    { name: 'contig', type: '7', body: 'abc' },
  ]);
  const seen: string[] = [];
  let contig = '';
  for await (const e of readTar(chunked(buf, 333))) {
    seen.push(`${e.path}:${e.type}:${e.devmajor}:${e.devminor}`);
    if (e.path === 'contig') for await (const c of e.body()) contig += c.toString();
  }
  t.deepEqual(seen, ['c:char:1:3', 'b:block:259:70000', 'p:fifo:0:0', 'skipped:file:0:0', 'contig:file:0:0']);
  t.is(contig, 'abc');
});

test('a body cannot be read after the reader moved on', async (t) => {
  const buf = tarball([
    { name: 'a', body: 'aaa' },
    { name: 'b', body: 'bbb' },
  ]);
  let first: TarEntry | undefined;
  for await (const e of readTar(chunked(buf, 100))) {
    if (!first) first = e;
  }
  await t.throwsAsync(
    async () => {
      for await (const _ of first!.body()) {
        /* nothing */
      }
    },
    { message: /moved on/ },
  );
});

test('bad checksum is an error naming the header offset', async (t) => {
  const buf = tarball([
    { name: 'ok', body: 'x' },
    { name: 'bad', badChecksum: true },
  ]);
  await t.throwsAsync(readAll(chunked(buf, 4096)), { message: /bad tar header checksum at offset 1024/ });
});

test('truncation: inside a body, inside a header, and a missing end marker', async (t) => {
  const full = tarball([
    { name: 'one', body: 'a'.repeat(2000) },
    { name: 'two', body: 'b' },
  ]);
  await t.throwsAsync(readAll(chunked(full.subarray(0, 1200), 64)), { message: /truncated.*'one'.*offset 0/ });
  await t.throwsAsync(readAll(chunked(full.subarray(0, 2560 + 100), 64)), { message: /partial header at offset 2560/ });
  await t.throwsAsync(readAll(chunked(tarball([{ name: 'one', body: 'a' }], { end: false }), 64)), { message: /no end-of-archive marker/ });
  await t.throwsAsync(readAll(chunked(Buffer.alloc(0), 64)), { message: /no end-of-archive marker/ });
});

test('unknown entry types and malformed PAX records are rejected', async (t) => {
  await t.throwsAsync(readAll(chunked(tarball([{ name: 'weird', type: 'Q' }]), 512)), { message: /'weird'.*unsupported entry type 'Q'/ });
  const badPax = tarball([{ name: 'x', type: 'x', body: '99 path=a\n' }, { name: 'f' }]);
  await t.throwsAsync(readAll(chunked(badPax, 512)), { message: /bad PAX record/ });
});

test('the whole source is consumed, including padding after the end marker', async (t) => {
  const buf = Buffer.concat([tarball([{ name: 'f', body: 'q' }]), Buffer.alloc(8192)]);
  let consumed = 0;
  async function* counting(): AsyncGenerator<Buffer> {
    for await (const c of chunked(buf, 1000)) {
      consumed += c.length;
      yield c;
    }
  }
  await readAll(counting());
  t.is(consumed, buf.length);
});

test('bufferedBody: whole body when buffered (zero-copy), else undefined and nothing consumed', async (t) => {
  const buf = tarball([{ name: 'small', body: 'abc' }, { name: 'big', body: 'q'.repeat(3000) }, { name: 'empty' }]);
  const got: string[] = [];
  for await (const e of readTar(chunked(buf, 2048))) {
    const b = e.bufferedBody();
    if (b) got.push(`${e.path}=${b.length}`);
    else {
      let n = 0;
      for await (const c of e.body()) n += c.length;
      got.push(`${e.path}~${n}`);
    }
  }
  // 'small' sits inside the first 2048-byte chunk; 'big' (3000 bytes) spans chunks.
  t.deepEqual(got, ['small=3', 'big~3000', 'empty=0']);
});
