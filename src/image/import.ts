// `importImage(path)`: an OCI image layout directory (image-spec image-layout.md), an
// oci-archive (the same layout in a tar), or a `docker save` tar (manifest.json + repositories,
// legacy `<id>/layer.tar` or Docker 25+'s OCI layout inside). Every blob is verified against its
// digest on the way into the content store; a legacy layer.tar is checked against the config's
// rootfs.diff_ids. Archives (plain, gzip or zstd) are read once, as a stream, with the in-house
// tar reader (./tar.ts), so one can come from stdin (`image load` / `image import -`). Every
// problem with the input is an ArchiveError naming the file (and the entry) and saying what is
// wrong, with a stable `problem` code beside the error code.

import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { ImageError } from '../errors.js';
import { ContentStore, sha256Digest } from './content-store.js';
import { ImageStore, type ImageRecord, type Lease } from './image-store.js';
import { checkConfig } from './pull.js';
import { formatReference, parseReference } from './reference.js';
import { CONFIG_TYPES, DOCKER_CONFIG, DOCKER_MANIFEST, parseManifest, type Descriptor, type ImageManifest, type Platform } from './registry/media-types.js';
import { hostPlatform, normalizePlatform, parsePlatform, selectManifest } from './registry/platform.js';
import { decompress } from './decompress.js';
import { readTar } from './tar.js';

export interface ImportOptions {
  imageRoot: string;
  /** Name for the image (only when the source holds exactly one). */
  name?: string;
  /** Platform to pick from an index (default the host's). */
  platform?: string | Platform;
  signal?: AbortSignal;
}

/** An archive read from a stream (stdin) instead of a path; `name` is what errors call it. */
export interface ImportStream {
  stream: Readable | AsyncIterable<Buffer>;
  name?: string;
}

/**
 * What is wrong with an archive or layout, stable for programs:
 * UNREADABLE (cannot be opened), EMPTY, NOT_A_TAR, TRUNCATED, NOT_AN_IMAGE (neither an OCI layout
 * nor a docker save archive), NO_INDEX (an OCI layout without index.json), BAD_JSON (index.json,
 * manifest.json, a manifest or a config that cannot be used), BLOB_MISSING, BLOB_DIGEST (a blob,
 * layer or config whose bytes do not match its digest, size or diff_id), PATH_ESCAPE (an entry or
 * a reference to one that leaves the archive), NO_IMAGES, AMBIGUOUS_NAME.
 */
export type ArchiveProblem =
  | 'UNREADABLE'
  | 'EMPTY'
  | 'NOT_A_TAR'
  | 'TRUNCATED'
  | 'NOT_AN_IMAGE'
  | 'NO_INDEX'
  | 'BAD_JSON'
  | 'BLOB_MISSING'
  | 'BLOB_DIGEST'
  | 'PATH_ESCAPE'
  | 'NO_IMAGES'
  | 'AMBIGUOUS_NAME';

/** A bad archive or layout: `archive` is its path (or "stdin"), `entry` the member at fault. */
export class ArchiveError extends ImageError {
  readonly archive: string;
  readonly problem: ArchiveProblem;
  readonly entry?: string;
  constructor(archive: string, problem: ArchiveProblem, message: string, options: { entry?: string; cause?: unknown } = {}) {
    super(problem === 'BLOB_DIGEST' ? 'TSRUN_IMAGE_DIGEST' : 'TSRUN_IMAGE', `import ${archive}: ${message}`, { cause: options.cause });
    this.archive = archive;
    this.problem = problem;
    if (options.entry !== undefined) this.entry = options.entry;
  }
}

/** An entry path inside the archive, or undefined when it leaves it (`..`). */
function insidePath(p: string): string | undefined {
  const n = posix.normalize(p.replace(/^\.?\/+/, ''));
  return n === '..' || n.startsWith('../') ? undefined : n;
}

/** A path named by manifest.json (Config, Layers), refused when it leaves the archive. */
function memberPath(src: string, p: unknown, what: string): string {
  if (typeof p !== 'string' || p === '') throw new ArchiveError(src, 'BAD_JSON', `manifest.json: ${what} is not a path`);
  const n = insidePath(p);
  if (n === undefined || p.startsWith('/'))
    throw new ArchiveError(src, 'PATH_ESCAPE', `manifest.json: ${what} ${JSON.stringify(p)} is outside the archive`, { entry: p });
  return n;
}

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** Runs an ingest of one blob, turning a digest or size mismatch into BLOB_DIGEST naming it. */
async function verifying<T>(src: string, what: string, entry: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    if ((e as { code?: string }).code === 'TSRUN_IMAGE_DIGEST') {
      throw new ArchiveError(src, 'BLOB_DIGEST', `${what}: ${(e as Error).message}`, { ...(entry ? { entry } : {}), cause: e });
    }
    throw e;
  }
}

const JSON_LIMIT = 4 * 1024 * 1024;
const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** What an archive or layout yields before records are made. */
interface Found {
  manifestDigest: string;
  manifest: ImageManifest;
  manifestSize: number;
  indexDigest?: string;
  names: string[];
}

function normName(n: string): string | undefined {
  try {
    return formatReference(parseReference(n));
  } catch {
    return undefined;
  }
}

/** Read an OCI layout's index.json and resolve each entry to a manifest for the platform. */
async function fromOciIndex(content: ContentStore, indexRaw: Buffer, want: Platform, src: string): Promise<Found[]> {
  const top = parseIndex(indexRaw, src);
  const out: Found[] = [];
  for (const d of top.index.manifests) {
    const annotations = d.annotations ?? {};
    const names: string[] = [];
    const full = annotations[CONTAINERD_NAME] && normName(annotations[CONTAINERD_NAME]);
    if (full) names.push(full);
    const refName = annotations[REF_NAME];
    // A bare tag ("1", "latest") names nothing on its own; a full reference does.
    if (refName && refName.includes('/') && !full) {
      const n = normName(refName);
      if (n) names.push(n);
    }
    let desc: Descriptor = d;
    let indexDigest: string | undefined;
    let parsed = parseBlob(await readVerified(content, d, src), d, src);
    if (parsed.kind === 'index') {
      indexDigest = d.digest;
      desc = selectManifest(parsed.index, want, `import ${src}: index ${d.digest}`);
      parsed = parseBlob(await readVerified(content, desc, src), desc, src);
      if (parsed.kind !== 'manifest') throw new ArchiveError(src, 'BAD_JSON', `nested index ${desc.digest} is not supported`);
    }
    if (parsed.kind !== 'manifest') continue;
    out.push({ manifestDigest: desc.digest, manifest: parsed.manifest, manifestSize: desc.size, indexDigest, names });
  }
  return out;
}

/** index.json, parsed; it must be an image index. */
function parseIndex(raw: Buffer, src: string): Extract<ReturnType<typeof parseManifest>, { kind: 'index' }> {
  let top;
  try {
    top = parseManifest(raw, undefined, 'index.json');
  } catch (cause) {
    throw new ArchiveError(src, 'BAD_JSON', `index.json: ${(cause as Error).message}`, { entry: 'index.json', cause });
  }
  if (top.kind !== 'index') throw new ArchiveError(src, 'BAD_JSON', 'index.json is not an image index', { entry: 'index.json' });
  return top;
}

function parseBlob(raw: Buffer, d: Descriptor, src: string): ReturnType<typeof parseManifest> {
  try {
    return parseManifest(raw, d.mediaType, `blob ${d.digest}`);
  } catch (cause) {
    throw new ArchiveError(src, 'BAD_JSON', (cause as Error).message, { entry: blobEntry(d.digest), cause });
  }
}

function blobEntry(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

async function readVerified(content: ContentStore, d: Descriptor, src: string): Promise<Buffer> {
  if (!DIGEST_RE.test(d.digest)) throw new ArchiveError(src, 'BAD_JSON', `descriptor digest ${JSON.stringify(d.digest)} is not sha256:<64 hex>`);
  if (!(await content.has(d.digest))) throw new ArchiveError(src, 'BLOB_MISSING', `blob ${d.digest} is missing`, { entry: blobEntry(d.digest) });
  const buf = await verifying(src, `blob ${d.digest}`, blobEntry(d.digest), () => content.read(d.digest));
  if (buf.length !== d.size) {
    throw new ArchiveError(src, 'BLOB_DIGEST', `blob ${d.digest} has ${buf.length} bytes, descriptor says ${d.size}`, { entry: blobEntry(d.digest) });
  }
  return buf;
}

/**
 * A legacy `docker save` entry: config `<hex>.json`, layers `<id>/layer.tar` (uncompressed, so
 * each layer's digest is its diffID). Builds and stores a Docker schema 2 manifest for it.
 */
async function fromDockerEntry(
  content: ContentStore,
  e: DockerManifestEntry,
  files: Map<string, Buffer>,
  blobs: Map<string, { digest: string; size: number }>,
  src: string,
  lease: Lease,
): Promise<Found> {
  const cfgPath = memberPath(src, e.Config, 'Config');
  if (!Array.isArray(e.Layers)) throw new ArchiveError(src, 'BAD_JSON', 'manifest.json: Layers is not an array', { entry: 'manifest.json' });
  let cfg = blobs.get(cfgPath);
  if (!cfg) {
    const raw = files.get(cfgPath);
    if (!raw) throw new ArchiveError(src, 'BLOB_MISSING', `config ${e.Config} is missing`, { entry: e.Config });
    const digest = sha256Digest(raw);
    const named = /^(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(cfgPath)?.[1];
    if (named && `sha256:${named}` !== digest) {
      throw new ArchiveError(src, 'BLOB_DIGEST', `config ${e.Config} has digest ${digest}`, { entry: e.Config });
    }
    await lease.add(digest);
    await content.put(raw, digest);
    cfg = { digest, size: raw.length };
  }
  const layers: Descriptor[] = e.Layers.map((p, i) => {
    const b = blobs.get(memberPath(src, p, `Layers[${i}]`));
    if (!b) throw new ArchiveError(src, 'BLOB_MISSING', `layer ${p} is missing`, { entry: p });
    return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: b.digest, size: b.size };
  });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: { mediaType: DOCKER_CONFIG, digest: cfg.digest, size: cfg.size },
    layers,
  };
  const raw = Buffer.from(JSON.stringify(manifest));
  await lease.add(sha256Digest(raw));
  const manifestDigest = await content.put(raw);
  const names = (e.RepoTags ?? []).map(normName).filter((n): n is string => !!n);
  return { manifestDigest, manifest, manifestSize: raw.length, names };
}

/** Stream an archive: content-addressed blobs and legacy `*.tar` layers go to the store. */
async function scanArchive(
  input: Readable | AsyncIterable<Buffer>,
  src: string,
  content: ContentStore,
  lease: Lease,
  signal?: AbortSignal,
): Promise<{ files: Map<string, Buffer>; blobs: Map<string, { digest: string; size: number }> }> {
  const files = new Map<string, Buffer>();
  const blobs = new Map<string, { digest: string; size: number }>();
  const links = new Map<string, string>();
  let bytes = 0;
  const counted = (async function* () {
    for await (const c of input as AsyncIterable<Buffer>) {
      bytes += c.length;
      yield c;
    }
  })();
  try {
    // `docker save | gzip` and friends: the magic bytes say whether to decompress.
    for await (const entry of readTar(decompress(counted, { name: src }))) {
      signal?.throwIfAborted();
      const p = insidePath(entry.path);
      if (p === undefined) throw new ArchiveError(src, 'PATH_ESCAPE', `entry ${JSON.stringify(entry.path)} is outside the archive`, { entry: entry.path });
      if (entry.type === 'symlink' || entry.type === 'hardlink') {
        const to = entry.type === 'symlink' ? insidePath(posix.join(posix.dirname(p), entry.linkpath)) : insidePath(entry.linkpath);
        if (to === undefined || (entry.type === 'symlink' && entry.linkpath.startsWith('/'))) {
          throw new ArchiveError(src, 'PATH_ESCAPE', `link ${JSON.stringify(entry.path)} points outside the archive (${JSON.stringify(entry.linkpath)})`, {
            entry: entry.path,
          });
        }
        links.set(p, to);
        continue;
      }
      if (entry.type !== 'file') continue;
      const blob = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(p);
      if (blob) {
        const digest = `${blob[1]}:${blob[2]}`;
        if (!DIGEST_RE.test(digest)) throw new ArchiveError(src, 'BAD_JSON', `blob ${p} is not named by a digest`, { entry: p });
        await lease.add(digest);
        await verifying(src, `blob ${p}`, p, () => content.ingest({ digest, size: entry.size, signal, open: async () => ({ offset: 0, body: entry.body() }) }));
        blobs.set(p, { digest, size: entry.size });
      } else if (p.endsWith('.tar')) {
        // Legacy docker save (`<id>/layer.tar`) and skopeo's docker-archive (`<hex>.tar`).
        const b = await content.ingestUnknown(entry.body());
        await lease.add(b.digest);
        blobs.set(p, b);
      } else if ((p.endsWith('.json') || p === 'oci-layout' || p === 'repositories') && entry.size <= JSON_LIMIT) {
        const parts: Buffer[] = [];
        for await (const c of entry.body()) parts.push(c);
        files.set(p, Buffer.concat(parts));
      } else {
        await entry.skip();
      }
    }
  } catch (e) {
    const zlib = /^Z_/.test(String((e as { code?: unknown }).code));
    if (e instanceof ArchiveError || !(zlib || (e instanceof ImageError && e.code === 'TSRUN_IMAGE'))) throw e;
    if (bytes === 0) throw new ArchiveError(src, 'EMPTY', 'the archive is empty', { cause: e });
    const msg = (e as Error).message;
    const truncated = /truncated|ends after/.test(msg);
    throw new ArchiveError(src, truncated ? 'TRUNCATED' : 'NOT_A_TAR', `${truncated ? 'truncated' : 'not a tar archive'}: ${msg}`, { cause: e });
  }
  // docker save stores a layer shared by two images once and links the other path to it.
  for (const [from, to] of links) {
    const b = blobs.get(to);
    if (b) blobs.set(from, b);
  }
  return { files, blobs };
}

/** Copy the blobs an OCI layout directory's index reaches into the store, verifying each. */
async function copyLayoutBlobs(dir: string, content: ContentStore, indexRaw: Buffer, lease: Lease, signal?: AbortSignal): Promise<void> {
  const seen = new Set<string>();
  const copy = async (d: Descriptor): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    await lease.add(d.digest);
    if (typeof d.digest !== 'string' || !DIGEST_RE.test(d.digest)) {
      throw new ArchiveError(dir, 'BAD_JSON', `descriptor digest ${JSON.stringify(d.digest)} is not sha256:<64 hex>`);
    }
    const entry = blobEntry(d.digest);
    const file = join(dir, entry);
    await verifying(dir, `blob ${d.digest}`, entry, () =>
      content.ingest({ digest: d.digest, size: d.size, signal, open: async () => ({ offset: 0, body: createReadStream(file) }) }),
    ).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ArchiveError(dir, 'BLOB_MISSING', `blob ${d.digest} is missing (no ${entry})`, { entry });
      throw e;
    });
    if (d.mediaType.endsWith('+json') && !CONFIG_TYPES.has(d.mediaType)) {
      const parsed = parseBlob(await content.read(d.digest), d, dir);
      const children = parsed.kind === 'index' ? parsed.index.manifests : [parsed.manifest.config, ...parsed.manifest.layers];
      for (const c of children) await copy(c);
    }
  };
  for (const d of parseIndex(indexRaw, dir).index.manifests) await copy(d);
}

/**
 * Import every image of an OCI layout directory, an oci-archive or a `docker save` archive (a path,
 * or a stream such as stdin: `{ stream, name }`); returns their records as stored, with the names
 * this import gave them.
 */
export async function importImage(source: string | ImportStream, opts: ImportOptions): Promise<ImageRecord[]> {
  const store = new ImageStore(opts.imageRoot);
  const content = store.content;
  const want =
    opts.platform === undefined ? hostPlatform() : typeof opts.platform === 'string' ? parsePlatform(opts.platform) : normalizePlatform(opts.platform);
  const src = typeof source === 'string' ? source : (source.name ?? 'stdin');
  let input: Readable | AsyncIterable<Buffer> | undefined = typeof source === 'string' ? undefined : source.stream;
  let isDir = false;
  if (typeof source === 'string') {
    const st = await stat(source).catch((cause: NodeJS.ErrnoException) => {
      throw new ArchiveError(src, 'UNREADABLE', `cannot read it (${cause.code ?? cause.message})`, { cause });
    });
    isDir = st.isDirectory();
  }
  const lease = await store.lease();
  try {
    let found: Found[];
    if (isDir) {
      const layout = await readFile(join(src, 'oci-layout'), 'utf8').catch(() => undefined);
      if (!layout) throw new ArchiveError(src, 'NOT_AN_IMAGE', 'not an OCI image layout (no oci-layout file)');
      const indexRaw = await readFile(join(src, 'index.json')).catch((cause: NodeJS.ErrnoException) => {
        throw new ArchiveError(src, 'NO_INDEX', `OCI layout without index.json (${cause.code ?? cause.message})`, { entry: 'index.json', cause });
      });
      await copyLayoutBlobs(src, content, indexRaw, lease, opts.signal);
      found = await fromOciIndex(content, indexRaw, want, src);
    } else {
      input ??= createReadStream(src);
      const { files, blobs } = await scanArchive(input, src, content, lease, opts.signal);
      const index = files.get('index.json');
      const dockerManifest = files.get('manifest.json');
      if (index && files.has('oci-layout')) {
        found = await fromOciIndex(content, index, want, src);
        // Docker 25+ writes both; its manifest.json carries the RepoTags.
        if (dockerManifest) {
          for (const e of dockerEntries(dockerManifest, src)) {
            const cfg = blobs.get(memberPath(src, e.Config, 'Config'))?.digest;
            const f = found.find((x) => x.manifest.config.digest === cfg);
            if (f) f.names.push(...(e.RepoTags ?? []).map(normName).filter((n): n is string => !!n));
          }
        }
      } else if (dockerManifest) {
        found = [];
        for (const e of dockerEntries(dockerManifest, src)) found.push(await fromDockerEntry(content, e, files, blobs, src, lease));
      } else if (files.has('oci-layout')) {
        throw new ArchiveError(src, 'NO_INDEX', 'an OCI archive (oci-layout) without index.json (nor a docker save manifest.json)', { entry: 'index.json' });
      } else {
        throw new ArchiveError(src, 'NOT_AN_IMAGE', 'neither an OCI archive (oci-layout, index.json) nor a docker save archive (manifest.json)');
      }
    }
    if (found.length === 0) throw new ArchiveError(src, 'NO_IMAGES', 'no image manifests found');
    if (opts.name) {
      if (found.length !== 1) throw new ArchiveError(src, 'AMBIGUOUS_NAME', `holds ${found.length} images, cannot give them one name`);
      found[0].names = [formatReference(parseReference(opts.name))];
    }
    const records: ImageRecord[] = [];
    for (const f of found) {
      const rec = await makeRecord(content, f, src);
      // The stored image may hold more names (it was pulled or loaded before): report what this loaded.
      records.push({ ...(await store.put(rec)), names: rec.names });
    }
    return records;
  } finally {
    await lease.release();
  }
}

function dockerEntries(raw: Buffer, src: string): DockerManifestEntry[] {
  const entries = parseJson<DockerManifestEntry[]>(raw, src, 'manifest.json');
  if (!Array.isArray(entries) || entries.some((e) => typeof e !== 'object' || e === null)) {
    throw new ArchiveError(src, 'BAD_JSON', 'manifest.json is not an array of images', { entry: 'manifest.json' });
  }
  return entries;
}

function parseJson<T>(raw: Buffer, src: string, entry: string): T {
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch (cause) {
    throw new ArchiveError(src, 'BAD_JSON', `${entry}: not valid JSON`, { entry, cause });
  }
}

async function makeRecord(content: ContentStore, f: Found, src: string): Promise<ImageRecord> {
  const m = f.manifest;
  for (const l of m.layers) {
    const size = await content.size(l.digest);
    if (size === undefined) throw new ArchiveError(src, 'BLOB_MISSING', `layer ${l.digest} is missing`, { entry: blobEntry(l.digest) });
    if (size !== l.size)
      throw new ArchiveError(src, 'BLOB_DIGEST', `layer ${l.digest} has ${size} bytes, manifest says ${l.size}`, { entry: blobEntry(l.digest) });
  }
  const rawConfig = await readVerified(content, m.config, src);
  let config: ReturnType<typeof checkConfig>;
  try {
    config = checkConfig(rawConfig, m, `config ${m.config.digest}`);
  } catch (cause) {
    throw new ArchiveError(src, 'BAD_JSON', (cause as Error).message, { entry: blobEntry(m.config.digest), cause });
  }
  // Uncompressed layers are their own diffIDs: a legacy docker save is checked here.
  m.layers.forEach((l, i) => {
    if (l.mediaType.endsWith('.tar') && l.digest !== config.diffIds[i]) {
      throw new ArchiveError(src, 'BLOB_DIGEST', `layer ${i} has digest ${l.digest}, config diff_ids says ${config.diffIds[i]}`, {
        entry: blobEntry(l.digest),
      });
    }
  });
  return {
    id: m.config.digest,
    names: [...new Set(f.names)],
    repoDigests: [],
    manifestDigest: f.manifestDigest,
    manifestMediaType: m.mediaType,
    ...(f.indexDigest ? { indexDigest: f.indexDigest } : {}),
    configDigest: m.config.digest,
    layers: m.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    diffIds: config.diffIds,
    platform: config.platform,
    ...(config.doc.created ? { created: config.doc.created } : {}),
    size: f.manifestSize + m.config.size + m.layers.reduce((a, l) => a + l.size, 0),
    storedAt: new Date().toISOString(),
  };
}
