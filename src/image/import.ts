// `importImage(path)`: an OCI image layout directory (image-spec image-layout.md), an
// oci-archive (the same layout in a tar), or a `docker save` tar (manifest.json + repositories,
// legacy `<id>/layer.tar` or Docker 25+'s OCI layout inside). Every blob is verified against its
// digest on the way into the content store; a legacy layer.tar is checked against the config's
// rootfs.diff_ids. Archives are read with the in-house streaming tar reader (./tar.ts).

import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ImageError } from '../errors.js';
import { ContentStore, sha256Digest } from './content-store.js';
import { ImageStore, type ImageRecord, type Lease } from './image-store.js';
import { checkConfig } from './pull.js';
import { formatReference, parseReference } from './reference.js';
import { CONFIG_TYPES, DOCKER_CONFIG, DOCKER_MANIFEST, parseManifest, type Descriptor, type ImageManifest, type Platform } from './registry/media-types.js';
import { hostPlatform, normalizePlatform, parsePlatform, selectManifest } from './registry/platform.js';
import { readTar } from './tar.js';

export interface ImportOptions {
  imageRoot: string;
  /** Name for the image (only when the source holds exactly one). */
  name?: string;
  /** Platform to pick from an index (default the host's). */
  platform?: string | Platform;
  signal?: AbortSignal;
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
  const top = parseManifest(indexRaw, undefined, `${src}: index.json`);
  if (top.kind !== 'index') throw new ImageError('TSRUN_IMAGE', `${src}: index.json is not an image index`);
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
    let parsed = parseManifest(await readVerified(content, d, src), d.mediaType, `${src}: ${d.digest}`);
    if (parsed.kind === 'index') {
      indexDigest = d.digest;
      desc = selectManifest(parsed.index, want, `${src}: index ${d.digest}`);
      parsed = parseManifest(await readVerified(content, desc, src), desc.mediaType, `${src}: ${desc.digest}`);
      if (parsed.kind !== 'manifest') throw new ImageError('TSRUN_IMAGE', `${src}: nested index ${desc.digest} is not supported`);
    }
    if (parsed.kind !== 'manifest') continue;
    out.push({ manifestDigest: desc.digest, manifest: parsed.manifest, manifestSize: desc.size, indexDigest, names });
  }
  return out;
}

async function readVerified(content: ContentStore, d: Descriptor, src: string): Promise<Buffer> {
  if (!(await content.has(d.digest))) throw new ImageError('TSRUN_IMAGE', `${src}: blob ${d.digest} is missing`);
  const buf = await content.read(d.digest);
  if (buf.length !== d.size) throw new ImageError('TSRUN_IMAGE_DIGEST', `${src}: blob ${d.digest} has ${buf.length} bytes, descriptor says ${d.size}`);
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
  const cfgPath = posix.normalize(e.Config);
  let cfg = blobs.get(cfgPath);
  if (!cfg) {
    const raw = files.get(cfgPath);
    if (!raw) throw new ImageError('TSRUN_IMAGE', `${src}: config ${e.Config} is missing`);
    const digest = sha256Digest(raw);
    const named = /^(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(cfgPath)?.[1];
    if (named && `sha256:${named}` !== digest) {
      throw new ImageError('TSRUN_IMAGE_DIGEST', `${src}: config ${e.Config} has digest ${digest}`);
    }
    await lease.add(digest);
    await content.put(raw, digest);
    cfg = { digest, size: raw.length };
  }
  const layers: Descriptor[] = e.Layers.map((p) => {
    const b = blobs.get(posix.normalize(p));
    if (!b) throw new ImageError('TSRUN_IMAGE', `${src}: layer ${p} is missing`);
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
  path: string,
  content: ContentStore,
  lease: Lease,
  signal?: AbortSignal,
): Promise<{ files: Map<string, Buffer>; blobs: Map<string, { digest: string; size: number }> }> {
  const files = new Map<string, Buffer>();
  const blobs = new Map<string, { digest: string; size: number }>();
  const links = new Map<string, string>();
  for await (const entry of readTar(createReadStream(path))) {
    signal?.throwIfAborted();
    const p = posix.normalize(entry.path.replace(/^\.?\/+/, ''));
    if (entry.type === 'symlink' || entry.type === 'hardlink') {
      links.set(p, entry.type === 'symlink' ? posix.normalize(posix.join(posix.dirname(p), entry.linkpath)) : posix.normalize(entry.linkpath));
      continue;
    }
    if (entry.type !== 'file') continue;
    const blob = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(p);
    if (blob) {
      const digest = `${blob[1]}:${blob[2]}`;
      await lease.add(digest);
      await content.ingest({ digest, size: entry.size, signal, open: async () => ({ offset: 0, body: entry.body() }) });
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
    const [alg, hex] = d.digest.split(':');
    const file = join(dir, 'blobs', alg, hex);
    await content.ingest({ digest: d.digest, size: d.size, signal, open: async () => ({ offset: 0, body: createReadStream(file) }) }).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageError('TSRUN_IMAGE', `${dir}: blob ${d.digest} is missing`);
      throw e;
    });
    if (d.mediaType.endsWith('+json') && !CONFIG_TYPES.has(d.mediaType)) {
      const parsed = parseManifest(await content.read(d.digest), d.mediaType, `${dir}: ${d.digest}`);
      const children = parsed.kind === 'index' ? parsed.index.manifests : [parsed.manifest.config, ...parsed.manifest.layers];
      for (const c of children) await copy(c);
    }
  };
  const top = parseManifest(indexRaw, undefined, `${dir}: index.json`);
  if (top.kind !== 'index') throw new ImageError('TSRUN_IMAGE', `${dir}: index.json is not an image index`);
  for (const d of top.index.manifests) await copy(d);
}

export async function importImage(path: string, opts: ImportOptions): Promise<ImageRecord[]> {
  const store = new ImageStore(opts.imageRoot);
  const content = store.content;
  const want =
    opts.platform === undefined ? hostPlatform() : typeof opts.platform === 'string' ? parsePlatform(opts.platform) : normalizePlatform(opts.platform);
  const st = await stat(path).catch((cause) => {
    throw new ImageError('TSRUN_IMAGE', `import ${path}: cannot read`, { cause });
  });
  const lease = await store.lease();
  try {
    let found: Found[];
    if (st.isDirectory()) {
      const layout = await readFile(join(path, 'oci-layout'), 'utf8').catch(() => undefined);
      if (!layout) throw new ImageError('TSRUN_IMAGE', `import ${path}: not an OCI image layout (no oci-layout file)`);
      const indexRaw = await readFile(join(path, 'index.json'));
      await copyLayoutBlobs(path, content, indexRaw, lease, opts.signal);
      found = await fromOciIndex(content, indexRaw, want, path);
    } else {
      const { files, blobs } = await scanArchive(path, content, lease, opts.signal);
      const index = files.get('index.json');
      const dockerManifest = files.get('manifest.json');
      if (index && files.has('oci-layout')) {
        found = await fromOciIndex(content, index, want, path);
        // Docker 25+ writes both; its manifest.json carries the RepoTags.
        if (dockerManifest) {
          const entries = parseJson<DockerManifestEntry[]>(dockerManifest, `${path}: manifest.json`);
          for (const e of entries) {
            const cfg = blobs.get(posix.normalize(e.Config))?.digest;
            const f = found.find((x) => x.manifest.config.digest === cfg);
            if (f) f.names.push(...(e.RepoTags ?? []).map(normName).filter((n): n is string => !!n));
          }
        }
      } else if (dockerManifest) {
        const entries = parseJson<DockerManifestEntry[]>(dockerManifest, `${path}: manifest.json`);
        if (!Array.isArray(entries)) throw new ImageError('TSRUN_IMAGE', `${path}: manifest.json is not an array`);
        found = [];
        for (const e of entries) found.push(await fromDockerEntry(content, e, files, blobs, path, lease));
      } else {
        throw new ImageError('TSRUN_IMAGE', `import ${path}: neither an OCI archive (oci-layout, index.json) nor a docker save archive (manifest.json)`);
      }
    }
    if (found.length === 0) throw new ImageError('TSRUN_IMAGE', `import ${path}: no image manifests found`);
    if (opts.name) {
      if (found.length !== 1) throw new ImageError('TSRUN_IMAGE', `import ${path}: holds ${found.length} images, cannot give them one name`);
      found[0].names = [formatReference(parseReference(opts.name))];
    }
    const records: ImageRecord[] = [];
    for (const f of found) records.push(await store.put(await makeRecord(content, f, path)));
    return records;
  } finally {
    await lease.release();
  }
}

function parseJson<T>(raw: Buffer, what: string): T {
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch (cause) {
    throw new ImageError('TSRUN_IMAGE', `${what}: not valid JSON`, { cause });
  }
}

async function makeRecord(content: ContentStore, f: Found, src: string): Promise<ImageRecord> {
  const m = f.manifest;
  for (const l of m.layers) {
    const size = await content.size(l.digest);
    if (size === undefined) throw new ImageError('TSRUN_IMAGE', `${src}: layer ${l.digest} is missing`);
    if (size !== l.size) throw new ImageError('TSRUN_IMAGE_DIGEST', `${src}: layer ${l.digest} has ${size} bytes, manifest says ${l.size}`);
  }
  const config = checkConfig(await readVerified(content, m.config, src), m, src);
  // Uncompressed layers are their own diffIDs: a legacy docker save is checked here.
  m.layers.forEach((l, i) => {
    if (l.mediaType.endsWith('.tar') && l.digest !== config.diffIds[i]) {
      throw new ImageError('TSRUN_IMAGE_DIGEST', `${src}: layer ${i} has digest ${l.digest}, config diff_ids says ${config.diffIds[i]}`);
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
