// Image records: `<imageRoot>/images/<alg>-<hex>.json`, one per manifest digest, holding the
// names (tags) that point at it and everything a bundle or a layer store needs without
// re-reading blobs. Records are replaced atomically (temp file, fsync, rename) under one store
// lock; readers need no lock. In-flight pulls hold leases (`<imageRoot>/leases/`) on the blobs
// they are fetching, so a concurrent prune does not delete them before the record exists.

import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageNotFoundError, InvalidArgumentError, TsrunError } from '../errors.js';
import { ContentStore, fsyncDir, pidAlive, splitDigest, withFileLock } from './content-store.js';
import { FILE_MODE, mkdirPrivate, openPrivateStore } from './private-store.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import type { Descriptor, Platform } from './registry/media-types.js';

export interface ImageRecord {
  /** Image ID as Docker shows it: the config digest. */
  id: string;
  /** Fully qualified names, e.g. `docker.io/library/busybox:latest`. */
  names: string[];
  /** `registry/repository@digest` the image was pulled or imported by. */
  repoDigests: string[];
  manifestDigest: string;
  manifestMediaType: string;
  /** The index / manifest list the manifest was chosen from, if any. */
  indexDigest?: string;
  configDigest: string;
  layers: Pick<Descriptor, 'digest' | 'size' | 'mediaType'>[];
  /** Uncompressed layer digests from the config's rootfs.diff_ids, in layer order. */
  diffIds: string[];
  platform: Platform;
  /** The config's `created`, if any. */
  created?: string;
  /** Bytes of manifest, config and layer blobs. */
  size: number;
  /** When this record was written. */
  storedAt: string;
}

function recordFile(dir: string, manifestDigest: string): string {
  const { alg, hex } = splitDigest(manifestDigest);
  return join(dir, `${alg}-${hex}.json`);
}

export interface Lease {
  add(...digests: string[]): Promise<void>;
  release(): Promise<void>;
}

export class ImageStore {
  readonly imageRoot: string;
  readonly content: ContentStore;
  private readonly dir: string;
  private readonly leaseDir: string;

  constructor(imageRoot: string) {
    this.imageRoot = imageRoot;
    this.content = new ContentStore(imageRoot);
    this.dir = join(imageRoot, 'images');
    this.leaseDir = join(imageRoot, 'leases');
    openPrivateStore(imageRoot); // tightens a store made by an older tsrun; creates nothing
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    await mkdirPrivate(this.imageRoot, this.dir);
    return withFileLock(join(this.dir, '.lock'), fn);
  }

  async list(): Promise<ImageRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: ImageRecord[] = [];
    for (const n of names.filter((x) => /^(sha256|sha512)-[a-f0-9]+\.json$/.test(x)).sort()) {
      try {
        out.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as ImageRecord);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        throw new TsrunError('TSRUN_STATE', `image record ${join(this.dir, n)} is unreadable`, { cause: e });
      }
    }
    return out;
  }

  /**
   * Find an image by name (`busybox`, `host:5000/a/b:tag`), by `name@digest` (manifest or index
   * digest), or by ID (`sha256:…` or a unique hex prefix of at least 4 characters).
   */
  async find(ref: string): Promise<ImageRecord | undefined> {
    const all = await this.list();
    const idHex = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(ref)?.[1];
    if (idHex) {
      const hits = all.filter((r) => r.id.slice('sha256:'.length).startsWith(idHex) || r.manifestDigest.slice(7).startsWith(idHex));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1 && idHex.length < 64) throw new InvalidArgumentError(`image ID prefix "${ref}" is ambiguous`);
      if (ref.startsWith('sha256:')) return hits[0];
    }
    let parsed: ImageReference;
    try {
      parsed = parseReference(ref);
    } catch (e) {
      if (idHex) return undefined;
      throw e;
    }
    return findByReference(all, parsed);
  }

  async get(ref: string): Promise<ImageRecord> {
    const r = await this.find(ref);
    if (!r) throw new ImageNotFoundError(`image "${ref}" not found`);
    return r;
  }

  /** Store a record; its names are moved off any other record (a tag names one image). */
  async put(record: ImageRecord): Promise<ImageRecord> {
    return this.locked(async () => {
      const all = await this.list();
      const existing = all.find((r) => r.manifestDigest === record.manifestDigest);
      const merged: ImageRecord = existing
        ? { ...record, names: uniq([...existing.names, ...record.names]), repoDigests: uniq([...existing.repoDigests, ...record.repoDigests]) }
        : record;
      for (const other of all) {
        if (other.manifestDigest === record.manifestDigest) continue;
        const keep = other.names.filter((n) => !record.names.includes(n));
        if (keep.length !== other.names.length) await this.write({ ...other, names: keep });
      }
      await this.write(merged);
      return merged;
    });
  }

  private async write(record: ImageRecord): Promise<void> {
    const file = recordFile(this.dir, record.manifestDigest);
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'wx', FILE_MODE);
    try {
      await fh.writeFile(`${JSON.stringify(record, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    await fsyncDir(this.dir);
  }

  /**
   * `rm REF`: untag a name; the record goes when its last name does. By ID (or digest) the
   * whole record goes. Blobs stay until `prune`. Returns the removed or untagged record.
   */
  async remove(ref: string): Promise<{ untagged: string[]; deleted?: string }> {
    return this.locked(async () => {
      const rec = await this.get(ref);
      const byName = !/^(?:sha256:)?[a-f0-9]{4,64}$/.test(ref) && !ref.includes('@');
      const name = byName ? formatReference(parseReference(ref)) : undefined;
      const keep = name ? rec.names.filter((n) => n !== name) : [];
      const untagged = rec.names.filter((n) => !keep.includes(n));
      if (keep.length > 0) {
        await this.write({ ...rec, names: keep });
        return { untagged };
      }
      await unlink(recordFile(this.dir, rec.manifestDigest));
      await fsyncDir(this.dir);
      return { untagged, deleted: rec.id };
    });
  }

  /** Take a lease on blobs a pull or import is about to write. */
  async lease(): Promise<Lease> {
    await mkdirPrivate(this.imageRoot, this.leaseDir);
    const file = join(this.leaseDir, `${process.pid}-${randomBytes(6).toString('hex')}.json`);
    const digests = new Set<string>();
    const save = () => writeFile(file, JSON.stringify({ pid: process.pid, digests: [...digests] }), { mode: FILE_MODE });
    await save();
    return {
      async add(...ds: string[]) {
        for (const d of ds) digests.add(d);
        await save();
      },
      async release() {
        await unlink(file).catch(() => {});
      },
    };
  }

  private async leasedDigests(): Promise<Set<string>> {
    const out = new Set<string>();
    let names: string[];
    try {
      names = await readdir(this.leaseDir);
    } catch {
      return out;
    }
    for (const n of names) {
      try {
        const l = JSON.parse(await readFile(join(this.leaseDir, n), 'utf8')) as { pid: number; digests: string[] };
        if (pidAlive(l.pid)) for (const d of l.digests) out.add(d);
        else await unlink(join(this.leaseDir, n)).catch(() => {});
      } catch {
        // A lease being rewritten; its owner is alive, so be conservative on the next prune.
      }
    }
    return out;
  }

  /**
   * Remove image records with no names left (when `dangling`), then every blob that no record
   * and no live lease references, and idle partial/temp files. Returns the removed blob digests
   * and bytes freed.
   */
  async prune(opts: { dangling?: boolean } = {}): Promise<{ images: string[]; blobs: string[]; bytes: number }> {
    return this.locked(async () => {
      const images: string[] = [];
      let records = await this.list();
      if (opts.dangling ?? true) {
        for (const r of records.filter((x) => x.names.length === 0)) {
          await unlink(recordFile(this.dir, r.manifestDigest)).catch(() => {});
          images.push(r.id);
        }
        records = records.filter((x) => x.names.length > 0);
      }
      const used = await this.leasedDigests();
      for (const r of records) {
        used.add(r.manifestDigest).add(r.configDigest);
        if (r.indexDigest) used.add(r.indexDigest);
        for (const l of r.layers) used.add(l.digest);
      }
      const blobs: string[] = [];
      let bytes = await this.content.pruneScratch();
      for (const d of await this.content.list()) {
        if (used.has(d)) continue;
        bytes += await this.content.delete(d);
        blobs.push(d);
      }
      return { images, blobs, bytes };
    });
  }
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Match a parsed reference against records: by name:tag, or name@digest. */
export function findByReference(all: ImageRecord[], ref: ImageReference): ImageRecord | undefined {
  if (ref.digest) {
    const repo = `${ref.registry}/${ref.repository}`;
    return (
      all.find((r) => r.repoDigests.includes(`${repo}@${ref.digest}`)) ??
      all.find((r) => (r.manifestDigest === ref.digest || r.indexDigest === ref.digest) && r.repoDigests.some((d) => d.startsWith(`${repo}@`)))
    );
  }
  const name = formatReference(ref);
  return all.find((r) => r.names.includes(name));
}
