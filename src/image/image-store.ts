// Image records: `<imageRoot>/images/<alg>-<hex>.json`, one per image ID (the config digest, as
// Docker's image ID), holding the names (tags) and repo digests that point at it, the manifest it
// was stored by and any other manifest of the same image (an image pulled by its OCI manifest and
// loaded from a `docker save` archive is one image), and everything a bundle or a layer store
// needs without re-reading blobs. Records are replaced atomically (temp file, fsync, rename) under
// one store lock; readers need no lock. A store written before records were keyed by ID (one file
// per manifest digest, so one image could have two) still reads: its records are merged by ID when
// read, and the files are rewritten the first time the store is changed. In-flight pulls hold
// leases (`<imageRoot>/leases/`) on the blobs they are fetching, so a concurrent prune does not
// delete them before the record exists.

import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageNotFoundError, InvalidArgumentError, TsrunError } from '../errors.js';
import { ContentStore, fsyncDir, pidAlive, splitDigest, withFileLock } from './content-store.js';
import { FILE_MODE, mkdirPrivate, openPrivateStore } from './private-store.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import type { Descriptor, Platform } from './registry/media-types.js';

/** docker rmi refused: a container uses the image (Docker's "conflict: …" words). */
export class ImageConflictError extends TsrunError {
  constructor(message: string) {
    super('TSRUN_INVALID_STATE', message);
  }
}

/** A manifest an image was stored by: its layer blobs are kept, its digest resolves the image. */
export interface ManifestSource {
  manifestDigest: string;
  manifestMediaType: string;
  indexDigest?: string;
  layers: Pick<Descriptor, 'digest' | 'size' | 'mediaType'>[];
}

export interface ImageRecord extends ManifestSource {
  /** Image ID as Docker shows it: the config digest. */
  id: string;
  /** Fully qualified names, e.g. `docker.io/library/busybox:latest`. */
  names: string[];
  /** `registry/repository@digest` the image was pulled or imported by. */
  repoDigests: string[];
  /** The manifest last stored (manifestDigest, layers…), used to unpack; here, the others. */
  otherManifests?: ManifestSource[];
  configDigest: string;
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

/** A container that uses an image (the CLI finds them: the front's and `run --image`'s). */
export interface ImageUser {
  id: string;
  running: boolean;
}

export interface RemoveOptions {
  /** docker rmi -f: remove a name or image a stopped container uses; untag every name. */
  force?: boolean;
  /** The containers using an image ID (none when not given). */
  usersOf?: (imageId: string) => ImageUser[] | Promise<ImageUser[]>;
}

function recordFile(dir: string, id: string): string {
  const { alg, hex } = splitDigest(id);
  return join(dir, `${alg}-${hex}.json`);
}

/** A full ID (`sha256:<64 hex>`, or 64 hex), `sha256:` and a prefix, or 12+ hex: never a pull. */
export function looksLikeImageId(ref: string): boolean {
  return /^sha256:[a-f0-9]{1,64}$/.test(ref) || /^[a-f0-9]{12,64}$/.test(ref);
}

/** Docker's short form of an ID: 12 hex digits. */
export function truncateId(id: string): string {
  return id.slice(id.indexOf(':') + 1).slice(0, 12);
}

/** All manifests of a record, the primary first. */
export function manifestsOf(r: ImageRecord): ManifestSource[] {
  return [r, ...(r.otherManifests ?? [])];
}

function sourceOf(r: ManifestSource): ManifestSource {
  return {
    manifestDigest: r.manifestDigest,
    manifestMediaType: r.manifestMediaType,
    ...(r.indexDigest ? { indexDigest: r.indexDigest } : {}),
    layers: r.layers,
  };
}

/**
 * One record from two of the same image: `newer`'s manifest becomes the primary one, the other
 * manifests are kept beside it; names and repo digests are the union.
 */
export function mergeRecords(older: ImageRecord, newer: ImageRecord): ImageRecord {
  const others = new Map<string, ManifestSource>();
  for (const m of [...manifestsOf(older), ...manifestsOf(newer)]) {
    if (m.manifestDigest !== newer.manifestDigest) others.set(m.manifestDigest, sourceOf(m));
  }
  const { otherManifests: _drop, ...rest } = newer;
  return {
    ...rest,
    names: uniq([...older.names, ...newer.names]),
    repoDigests: uniq([...older.repoDigests, ...newer.repoDigests]),
    ...(others.size ? { otherManifests: [...others.values()] } : {}),
  };
}

export interface Lease {
  add(...digests: string[]): Promise<void>;
  release(): Promise<void>;
}

interface RecordFile {
  file: string;
  record: ImageRecord;
}

export interface RemoveResult {
  untagged: string[];
  deleted?: string;
}

/** What a reference resolved to, and how (rm untags a name, deletes by ID or digest). */
export interface Resolved {
  record: ImageRecord;
  by: 'name' | 'id' | 'digest';
  /** The fully qualified name, when by name. */
  name?: string;
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
    return withFileLock(join(this.dir, '.lock'), async () => {
      await this.migrate();
      return fn();
    });
  }

  /** Every record file as stored (an old store may hold two files for one ID). */
  private async readFiles(): Promise<RecordFile[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: RecordFile[] = [];
    for (const n of names.filter((x) => /^(sha256|sha512)-[a-f0-9]+\.json$/.test(x)).sort()) {
      const file = join(this.dir, n);
      try {
        out.push({ file, record: JSON.parse(await readFile(file, 'utf8')) as ImageRecord });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        throw new TsrunError('TSRUN_STATE', `image record ${file} is unreadable`, { cause: e });
      }
    }
    return out;
  }

  /** Records merged by ID (the most recently stored manifest first), with the files they came from. */
  private async readMerged(): Promise<{ record: ImageRecord; files: string[] }[]> {
    const byId = new Map<string, { record: ImageRecord; files: string[] }>();
    const files = await this.readFiles();
    files.sort((a, b) => (a.record.storedAt ?? '').localeCompare(b.record.storedAt ?? ''));
    for (const f of files) {
      const have = byId.get(f.record.id);
      if (have) byId.set(f.record.id, { record: mergeRecords(have.record, f.record), files: [...have.files, f.file] });
      else byId.set(f.record.id, { record: f.record, files: [f.file] });
    }
    return [...byId.values()].sort((a, b) => a.record.id.localeCompare(b.record.id));
  }

  /** Rewrite records still keyed by manifest digest (or split in two) as one file per ID. */
  private async migrate(): Promise<void> {
    for (const { record, files } of await this.readMerged()) {
      if (files.length === 1 && files[0] === recordFile(this.dir, record.id)) continue;
      await this.write(record, files);
    }
  }

  async list(): Promise<ImageRecord[]> {
    return (await this.readMerged()).map((x) => x.record);
  }

  /**
   * Resolve a reference as Docker does: a full ID (`sha256:<64 hex>` or 64 hex) is an ID; a name
   * (`busybox`, `host:5000/a/b:tag`) or `name@digest` (manifest or index digest) is looked up as a
   * name; what no name matches is tried as an ID prefix (`sha256:` and hex, or hex of 4 or more).
   * An ambiguous prefix throws, naming the candidates.
   */
  async resolve(ref: string, all?: ImageRecord[]): Promise<Resolved | undefined> {
    all ??= await this.list();
    const idHex = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(ref)?.[1];
    const fullId = idHex?.length === 64;
    if (fullId) {
      const byId = all.find((r) => r.id === `sha256:${idHex}`);
      if (byId) return { record: byId, by: 'id' };
      const byManifest = all.find((r) => manifestsOf(r).some((m) => m.manifestDigest === `sha256:${idHex}`));
      return byManifest ? { record: byManifest, by: 'digest' } : undefined;
    }
    if (!ref.startsWith('sha256:')) {
      let parsed: ImageReference | undefined;
      try {
        parsed = parseReference(ref);
      } catch (e) {
        if (!idHex) throw e;
      }
      if (parsed) {
        const hit = findByReference(all, parsed);
        if (hit) return parsed.digest ? { record: hit, by: 'digest' } : { record: hit, by: 'name', name: formatReference(parsed) };
      }
    }
    if (idHex && (idHex.length >= 4 || ref.startsWith('sha256:'))) {
      const hits = all.filter((r) => r.id.startsWith(`sha256:${idHex}`));
      if (hits.length > 1) {
        throw new InvalidArgumentError(`image ID prefix "${ref}" is ambiguous: it matches ${hits.map((r) => r.id).join(', ')}`);
      }
      if (hits.length === 1) return { record: hits[0], by: 'id' };
    }
    return undefined;
  }

  /** find by name, name@digest, ID or ID prefix (see resolve). */
  async find(ref: string): Promise<ImageRecord | undefined> {
    return (await this.resolve(ref))?.record;
  }

  async get(ref: string): Promise<ImageRecord> {
    const r = await this.find(ref);
    if (!r) throw new ImageNotFoundError(`No such image: ${ref}`);
    return r;
  }

  /**
   * Store a record: merged into the record of the same ID (one image, all its names and
   * manifests); its names are moved off any other record (a tag names one image).
   */
  async put(record: ImageRecord): Promise<ImageRecord> {
    return this.locked(async () => {
      const all = await this.list();
      const existing = all.find((r) => r.id === record.id);
      const merged = existing ? mergeRecords(existing, record) : record;
      for (const other of all) {
        if (other.id === record.id) continue;
        const keep = other.names.filter((n) => !record.names.includes(n));
        if (keep.length !== other.names.length) await this.write({ ...other, names: keep });
      }
      await this.write(merged);
      return merged;
    });
  }

  /** Write a record to its ID's file; then remove `old` files that held it (a migrated store). */
  private async write(record: ImageRecord, old: string[] = []): Promise<void> {
    const file = recordFile(this.dir, record.id);
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'wx', FILE_MODE);
    try {
      await fh.writeFile(`${JSON.stringify(record, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    for (const f of old) if (f !== file) await unlink(f).catch(() => {});
    await fsyncDir(this.dir);
  }

  private async unlinkRecord(id: string): Promise<void> {
    await unlink(recordFile(this.dir, id)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await fsyncDir(this.dir);
  }

  /**
   * `rmi REF` with Docker's rules (moby daemon/images/image_delete.go): by name, the name is
   * untagged, and the image goes with its last name; by ID or digest, the image goes with all its
   * names. A container using the image refuses it without `force`: a name that is the image's only
   * one ("unable to remove repository reference"), or the image ("must be forced"); a running
   * container refuses deleting the image even with `force` ("cannot be forced"; untagging its
   * last name with `force` leaves the image, untagged, for the container). Blobs stay until
   * `prune`.
   */
  async remove(ref: string, opts: RemoveOptions = {}): Promise<RemoveResult> {
    return this.locked(async () => {
      const res = await this.resolve(ref);
      if (!res) throw new ImageNotFoundError(`No such image: ${ref}`);
      const rec = res.record;
      const short = truncateId(rec.id);
      const users = (await opts.usersOf?.(rec.id)) ?? [];
      const force = opts.force === true;
      const single = rec.names.length <= 1;
      if (res.by === 'name') {
        const name = res.name!;
        if (!force && single && users.length > 0) {
          throw new ImageConflictError(
            `conflict: unable to remove repository reference "${ref}" (must force) - container ${truncateId(users[0].id)} is using its referenced image ${short}`,
          );
        }
        const keep = rec.names.filter((n) => n !== name);
        if (keep.length > 0 || (force && users.some((u) => u.running))) {
          // Other names remain; or a running container keeps the image, now untagged.
          await this.write({ ...rec, names: keep });
          return { untagged: [name] };
        }
        await this.unlinkRecord(rec.id);
        return { untagged: [name], deleted: rec.id };
      }
      const conflict = (why: string, hard: boolean) =>
        new ImageConflictError(`conflict: unable to delete ${short} (${hard && force ? 'cannot' : 'must'} be forced) - ${why}`);
      const running = users.find((u) => u.running);
      if (running) throw conflict(`image is being used by running container ${truncateId(running.id)}`, true);
      if (!force && !single) throw conflict('image is referenced in multiple repositories', false);
      if (!force && users.length > 0) throw conflict(`image is being used by stopped container ${truncateId(users[0].id)}`, false);
      await this.unlinkRecord(rec.id);
      return { untagged: rec.names, deleted: rec.id };
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
   * Remove image records with no names left (when `dangling`; not those in `keep`: images
   * containers were made from), then every blob that no record
   * and no live lease references, and idle partial/temp files. Returns the removed blob digests
   * and bytes freed.
   */
  async prune(opts: { dangling?: boolean; keep?: ReadonlySet<string> } = {}): Promise<{ images: string[]; blobs: string[]; bytes: number }> {
    return this.locked(async () => {
      const images: string[] = [];
      let records = await this.list();
      if (opts.dangling ?? true) {
        const doomed = (x: ImageRecord) => x.names.length === 0 && !opts.keep?.has(x.id);
        for (const r of records.filter(doomed)) {
          await this.unlinkRecord(r.id);
          images.push(r.id);
        }
        records = records.filter((x) => !doomed(x));
      }
      const used = await this.leasedDigests();
      for (const r of records) {
        used.add(r.configDigest);
        for (const m of manifestsOf(r)) {
          used.add(m.manifestDigest);
          if (m.indexDigest) used.add(m.indexDigest);
          for (const l of m.layers) used.add(l.digest);
        }
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
      all.find(
        (r) =>
          manifestsOf(r).some((m) => m.manifestDigest === ref.digest || m.indexDigest === ref.digest) && r.repoDigests.some((d) => d.startsWith(`${repo}@`)),
      )
    );
  }
  const name = formatReference(ref);
  return all.find((r) => r.names.includes(name));
}
