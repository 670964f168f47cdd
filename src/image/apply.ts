// Applies one OCI layer (image-spec layer.md "Applying Changesets") to a directory, modelled on
// containerd's applyNaive + OverlayConvertWhiteout:
//  - every parent directory is resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), and
//    entries are created relative to that dirfd with no-follow calls, so `../`, absolute names and
//    symlinks planted by this or a lower layer cannot make a write land outside destDir;
//  - symlink targets are written verbatim; hardlink targets are confined like any other path;
//  - metadata order: chown, then xattrs, then chmod (chown clears setuid, so chmod comes after;
//    never on symlinks), then times; directory times last, after their contents are written;
//  - whiteouts: `overlay` writes overlayfs whiteouts (char 0/0, `trusted.overlay.opaque=y`),
//    `flatten` deletes what they hide from the lower layers already in destDir.
// On failure destDir is left partly written: callers unpack into a scratch dir (see layers.ts).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { ImageError } from '../errors.js';
import { cut } from '../spec/cut.js';
import { decompress, type BlobSource, type Compression } from './decompress.js';
import * as x from './fsx.js';
import { readTar, type TarEntry, type TarTime } from './tar.js';

export type ApplyMode = 'overlay' | 'flatten';

export interface ApplyOptions {
  mode: ApplyMode;
  /** Layer media type (decides decompression; magic bytes are checked against it). */
  mediaType?: string;
  compression?: Compression;
  /** Restore owners (default true; false for rootless unpacking). */
  chown?: boolean;
  /** Opaque-dir xattr in overlay mode; `user.overlay.opaque` for `userxattr` mounts. */
  opaqueXattr?: string;
  zstd?: 'auto' | 'zlib' | 'cli';
  signal?: AbortSignal;
  /** The layer's declared uncompressed (tar) size, when known: a longer stream is refused. */
  uncompressedSize?: number;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream, `sha256:<hex>`: the layer's diffID. */
  diffID: string;
  /** Uncompressed tar size in bytes. */
  tarBytes: number;
  entries: number;
  /** Regular-file content bytes written. */
  bytes: number;
  whiteouts: number;
  /** `path: xattr` pairs the filesystem refused with ENOTSUP (containerd ignores these too). */
  skippedXattrs: string[];
}

const DIR_OPEN = x.O_RDONLY | x.O_DIRECTORY | x.O_CLOEXEC;
const RESOLVE = x.RESOLVE_IN_ROOT | x.RESOLVE_NO_MAGICLINKS;
const MAX_CACHED_DIRS = 256;

/** Paths are handled as latin1 "binary strings": one char per byte, so nothing is re-encoded. */
const bin = (s: string) => Buffer.from(s, 'latin1');

const NEEDS_CLEANING = /\/\/|(^|\/)\.\.?(\/|$)|^\//;

/** Lexically cleans an archive name into a root-relative path ('' is the root itself). */
export function cleanPath(raw: Buffer): string {
  let s = raw.toString('latin1');
  if (s.startsWith('./')) s = s.slice(2);
  while (s.endsWith('/')) s = s.slice(0, -1);
  if (!NEEDS_CLEANING.test(s)) return s; // the usual "./usr/bin/x": nothing else to do
  const parts: string[] = [];
  for (const c of s.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..')
      parts.pop(); // containerd: Clean("/" + name), so ".." never climbs above root
    else parts.push(c);
  }
  return parts.join('/');
}

function split(rel: string): { dir: string; base: string } {
  const i = rel.lastIndexOf('/');
  return i < 0 ? { dir: '', base: rel } : { dir: rel.slice(0, i), base: rel.slice(i + 1) };
}

// Overlay's own bookkeeping: an image must not smuggle redirects, metacopy or opaque marks in.
const isOverlayXattr = (k: string) => k.startsWith('trusted.overlay.') || k.startsWith('user.overlay.');

/** The process umask, read without changing it (process.umask() with no argument is deprecated). */
const UMASK: number | undefined = (() => {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return m ? parseInt(m[1], 8) : undefined;
  } catch {
    return undefined;
  }
})();

/** Whether creating a file with `mode` already yields exactly `mode`, so the fchmod can be skipped. */
const modeSticksAtCreate = (mode: number) => UMASK !== undefined && (mode & ~0o777) === 0 && (mode & UMASK) === 0;

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

class Applier {
  readonly root: number;
  entries = 0;
  bytes = 0;
  whiteouts = 0;
  readonly skippedXattrs: string[] = [];
  private dirs = new Map<string, number>();
  private stale: number[] = [];
  private dirTimes = new Map<string, { atime: TarTime; mtime: TarTime }>();
  private written = new Set<string>();
  /** Directories holding something this layer wrote (whiteouts and opaque markers spare them). */
  private touched = new Set<string>();

  constructor(
    destDir: string,
    private readonly opts: ApplyOptions,
  ) {
    this.root = fs.openSync(destDir, DIR_OPEN);
  }

  /** An fd for directory `rel`, resolved inside the root; missing directories made 0755 if asked. */
  private dirFd(rel: string, create: boolean): number | undefined {
    if (rel === '') return this.root;
    const cached = this.dirs.get(rel);
    if (cached !== undefined) return cached;
    let fd: number;
    try {
      fd = x.openat2(this.root, bin(rel), DIR_OPEN, 0, RESOLVE);
    } catch (err) {
      if (x.codeOf(err) !== 'ENOENT') throw err;
      if (!create) return undefined;
      const { dir, base } = split(rel);
      const parent = this.dirFd(dir, true)!;
      try {
        x.mkdirat(parent, bin(base), 0o755);
      } catch (err2) {
        if (x.codeOf(err2) !== 'EEXIST') throw err2;
      }
      fd = x.openat2(this.root, bin(rel), DIR_OPEN, 0, RESOLVE);
    }
    this.dirs.set(rel, fd);
    return fd;
  }

  /** Forget cached dirfds (a dir or symlink was removed, so a cached resolution may be stale). */
  private dropCache(): void {
    for (const fd of this.dirs.values()) this.stale.push(fd); // closed once the entry is done
    this.dirs.clear();
  }

  private lstat(dirfd: number, name: Buffer): fs.Stats | undefined {
    return fs.lstatSync(x.procPath(dirfd, name), { throwIfNoEntry: false });
  }

  /** rm -rf of one name in a confined dir, never following symlinks. */
  private remove(dirfd: number, name: Buffer): void {
    const st = this.lstat(dirfd, name);
    if (!st) return;
    if (st.isDirectory()) {
      this.removeTree(dirfd, name);
      this.dropCache();
    } else {
      x.unlinkat(dirfd, name, 0);
      if (st.isSymbolicLink()) this.dropCache();
    }
  }

  private removeTree(dirfd: number, name: Buffer): void {
    const fd = x.openat(dirfd, name, DIR_OPEN | x.O_NOFOLLOW);
    try {
      for (const d of fs.readdirSync(`/proc/self/fd/${fd}`, { withFileTypes: true, encoding: 'buffer' })) {
        if (d.isDirectory()) this.removeTree(fd, d.name as Buffer);
        else x.unlinkat(fd, d.name as Buffer, 0);
      }
    } finally {
      x.close(fd);
    }
    x.unlinkat(dirfd, name, x.AT_REMOVEDIR);
  }

  /** Runs a create call; if the name exists, removes it (tar semantics) and tries once more. */
  private create<T>(dirfd: number, name: Buffer, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if (x.codeOf(err) !== 'EEXIST') throw err;
      this.remove(dirfd, name);
      return make();
    }
  }

  private xattrs(e: TarEntry, set: (k: string, v: Buffer) => void): void {
    for (const [k, v] of e.xattrs) {
      if (isOverlayXattr(k)) continue;
      try {
        set(k, v);
      } catch (err) {
        const code = x.codeOf(err);
        // ENOTSUP: the filesystem has no such namespace; EPERM: user.* on a symlink or device
        // (xattr(7): user xattrs are allowed only on regular files and directories).
        if (code === 'ENOTSUP' || code === 'EOPNOTSUPP' || (code === 'EPERM' && k.startsWith('user.') && e.type !== 'file' && e.type !== 'dir')) {
          this.skippedXattrs.push(`${cut(e.path)}: ${cut(k)}`);
        } else throw err;
      }
    }
  }

  /** Metadata through an open fd (files and directories). */
  private metaFd(fd: number, e: TarEntry, modeSet = false): void {
    if (this.opts.chown !== false) x.fchown(fd, e.uid, e.gid);
    if (e.xattrs.size > 0) this.xattrs(e, (k, v) => x.fsetxattr(fd, k, v));
    // chown(2) clears S_ISUID/S_ISGID, and so does writing security.capability: chmod comes last.
    // Skipped only when the file was created with its final mode and has no special bits.
    if (!modeSet) x.fchmod(fd, e.mode);
  }

  /** Metadata by name in a confined dir (symlinks, devices, FIFOs): nothing follows a symlink. */
  private metaAt(dirfd: number, name: Buffer, e: TarEntry): void {
    if (this.opts.chown !== false) x.fchownat(dirfd, name, e.uid, e.gid, x.AT_SYMLINK_NOFOLLOW);
    const p = x.procPath(dirfd, name);
    this.xattrs(e, (k, v) => x.lsetxattr(p, k, v));
    if (e.type !== 'symlink') x.fchmodat(dirfd, name, e.mode);
    x.utimensat(dirfd, name, e.atime ?? e.mtime, e.mtime, x.AT_SYMLINK_NOFOLLOW);
  }

  async entry(e: TarEntry): Promise<void> {
    this.entries++;
    if (this.dirs.size >= MAX_CACHED_DIRS) this.dropCache();
    try {
      await this.apply(e);
    } finally {
      for (const fd of this.stale.splice(0)) x.close(fd);
    }
  }

  private async apply(e: TarEntry): Promise<void> {
    const rel = cleanPath(e.rawPath);
    if (rel === '') {
      if (e.type !== 'dir') throw new Error(`a ${e.type} cannot replace the layer root`);
      this.metaFd(this.root, e);
      this.dirTimes.set('', { atime: e.atime ?? e.mtime, mtime: e.mtime });
      return;
    }
    const { dir, base } = split(rel);
    if (base.startsWith('.wh.')) return this.whiteout(e, dir, base);
    const pfd = this.dirFd(dir, true)!;
    const name = bin(base);
    switch (e.type) {
      case 'file': {
        const direct = modeSticksAtCreate(e.mode);
        const fd = this.create(pfd, name, () => x.openat(pfd, name, x.O_WRONLY | x.O_CREAT | x.O_EXCL | x.O_NOFOLLOW | x.O_CLOEXEC, direct ? e.mode : 0o600));
        try {
          const whole = e.bufferedBody();
          if (whole) {
            writeAll(fd, whole);
            this.bytes += whole.length;
          } else {
            for await (const c of e.body()) {
              writeAll(fd, c);
              this.bytes += c.length;
            }
          }
          this.metaFd(fd, e, direct);
          x.futimens(fd, e.atime ?? e.mtime, e.mtime);
        } finally {
          x.close(fd);
        }
        break;
      }
      case 'dir': {
        try {
          x.mkdirat(pfd, name, 0o700);
        } catch (err) {
          if (x.codeOf(err) !== 'EEXIST') throw err;
          if (!this.lstat(pfd, name)?.isDirectory()) this.create(pfd, name, () => x.mkdirat(pfd, name, 0o700));
          // else: a directory over a directory merges (keeps contents and xattrs)
        }
        const fd = x.openat(pfd, name, DIR_OPEN | x.O_NOFOLLOW);
        try {
          this.metaFd(fd, e);
        } finally {
          x.close(fd);
        }
        this.dirTimes.set(rel, { atime: e.atime ?? e.mtime, mtime: e.mtime });
        break;
      }
      case 'symlink':
        if (e.rawLinkpath.length === 0) throw new Error('symlink with an empty target');
        this.create(pfd, name, () => x.symlinkat(e.rawLinkpath, pfd, name));
        this.metaAt(pfd, name, e);
        break;
      case 'hardlink': {
        const target = cleanPath(e.rawLinkpath);
        if (target === '' || target === rel) throw new Error(`bad hardlink target '${cut(e.linkpath)}'`);
        const t = split(target);
        const tfd = this.dirFd(t.dir, false);
        if (tfd === undefined || !this.lstat(tfd, bin(t.base))) throw new Error(`hardlink target '${cut(e.linkpath)}' does not exist`);
        // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
        this.create(pfd, name, () => x.linkat(tfd, bin(t.base), pfd, name, 0));
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const type = e.type === 'char' ? x.S_IFCHR : e.type === 'block' ? x.S_IFBLK : x.S_IFIFO;
        const dev = e.type === 'fifo' ? 0n : x.makedev(e.devmajor, e.devminor);
        this.create(pfd, name, () => x.mknodat(pfd, name, type | 0o600, dev));
        this.metaAt(pfd, name, e);
        break;
      }
    }
    this.written.add(rel);
    for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
      const dir = rel.slice(0, i);
      if (this.touched.has(dir)) break;
      this.touched.add(dir);
    }
  }

  private whiteout(e: TarEntry, dir: string, base: string): void {
    const overlay = this.opts.mode === 'overlay';
    if (base === '.wh..wh..opq') {
      this.whiteouts++;
      if (overlay) {
        x.fsetxattr(this.dirFd(dir, true)!, this.opts.opaqueXattr ?? 'trusted.overlay.opaque', Buffer.from('y'));
      } else {
        const fd = this.dirFd(dir, false);
        if (fd !== undefined) this.clearLower(fd, dir);
      }
      return;
    }
    if (base.startsWith('.wh..wh.')) return; // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs), not content
    const target = base.slice(4);
    if (target === '' || target === '.' || target === '..') throw new Error(`bad whiteout name '${cut(base)}'`);
    const rel = dir === '' ? target : `${dir}/${target}`;
    // layer.md: a whiteout hides only what lower layers hold, never entries of its own layer.
    if (this.written.has(rel) || this.touched.has(rel)) return;
    this.whiteouts++;
    const name = bin(target);
    if (overlay) {
      // overlayfs(5) "whiteout": a character device with 0/0 device number.
      const pfd = this.dirFd(dir, true)!;
      this.create(pfd, name, () => x.mknodat(pfd, name, x.S_IFCHR, 0n));
      if (this.opts.chown !== false) x.fchownat(pfd, name, e.uid, e.gid, x.AT_SYMLINK_NOFOLLOW);
    } else {
      const pfd = this.dirFd(dir, false);
      if (pfd !== undefined) this.remove(pfd, name);
    }
  }

  /** Flatten-mode opaque dir: drop what lower layers put there, keep this layer's entries. */
  private clearLower(fd: number, dirRel: string): void {
    for (const d of fs.readdirSync(`/proc/self/fd/${fd}`, { withFileTypes: true, encoding: 'buffer' })) {
      const child = d.name as Buffer;
      const crel = dirRel === '' ? child.toString('latin1') : `${dirRel}/${child.toString('latin1')}`;
      if (!this.written.has(crel) && !this.touched.has(crel)) {
        this.remove(fd, child);
      } else if (d.isDirectory()) {
        const cfd = x.openat(fd, child, DIR_OPEN | x.O_NOFOLLOW);
        try {
          this.clearLower(cfd, crel);
        } finally {
          x.close(cfd);
        }
      }
    }
  }

  /** Directory times last: writing into a directory bumps its mtime. */
  finish(): void {
    for (const [rel, t] of this.dirTimes) {
      if (rel === '') {
        x.futimens(this.root, t.atime, t.mtime);
        continue;
      }
      let fd: number;
      try {
        fd = x.openat2(this.root, bin(rel), DIR_OPEN | x.O_NOFOLLOW, 0, RESOLVE);
      } catch (err) {
        const code = x.codeOf(err);
        if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') continue; // replaced later
        throw err;
      }
      try {
        x.futimens(fd, t.atime, t.mtime);
      } finally {
        x.close(fd);
      }
    }
  }

  close(): void {
    this.dropCache();
    for (const fd of this.stale.splice(0)) x.close(fd);
    x.close(this.root);
  }
}

/**
 * Unpacks a layer blob (gzip, zstd or plain tar) into destDir, which must exist.
 * Returns the diffID (sha256 of the uncompressed tar) and counts; the caller compares the diffID.
 */
export async function applyLayer(stream: BlobSource, destDir: string, opts: ApplyOptions): Promise<ApplyResult> {
  if (opts.mode !== 'overlay' && opts.mode !== 'flatten') throw new ImageError('TSRUN_IMAGE', `apply layer: unknown mode ${JSON.stringify(opts.mode)}`);
  const hash = createHash('sha256');
  let tarBytes = 0;
  const plain = decompress(stream, {
    mediaType: opts.mediaType,
    compression: opts.compression,
    zstd: opts.zstd,
    ...(opts.uncompressedSize !== undefined ? { maxBytes: opts.uncompressedSize } : {}),
  });
  async function* tap(): AsyncGenerator<Buffer> {
    for await (const c of plain) {
      hash.update(c);
      tarBytes += c.length;
      yield c;
    }
  }
  const a = new Applier(destDir, opts);
  try {
    for await (const e of readTar(tap())) {
      opts.signal?.throwIfAborted();
      try {
        await a.entry(e);
      } catch (err) {
        if (err instanceof ImageError) throw err;
        throw new ImageError('TSRUN_IMAGE', `apply layer: entry '${cut(e.path)}' (header at offset ${e.offset}): ${cut((err as Error).message, 1024)}`, {
          cause: err,
        });
      }
    }
    a.finish();
  } finally {
    a.close();
  }
  return {
    diffID: `sha256:${hash.digest('hex')}`,
    tarBytes,
    entries: a.entries,
    bytes: a.bytes,
    whiteouts: a.whiteouts,
    skippedXattrs: a.skippedXattrs,
  };
}
