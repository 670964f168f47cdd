// `pull(ref)`: resolve a reference on its registry, choose the platform's manifest from an
// index, and fetch config and layers into the content store (each verified while streaming,
// up to `concurrency` at once, resuming partial blobs with Range), then write the image record.
// Blobs already in the store are not downloaded again.

import { ImageError, ImageNotFoundError } from '../errors.js';
import { quote } from '../spec/cut.js';
import { ImageStore, findByReference, looksLikeImageId, manifestsOf, type ImageRecord } from './image-store.js';
import type { PullProgress } from './progress.js';
import { formatReference, parseReference, repositoryName } from './reference.js';
import { RegistryClient, type FetchedManifest } from './registry/client.js';
import { CONFIG_TYPES, type Descriptor, type ImageManifest, type Platform } from './registry/media-types.js';
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform, selectManifest } from './registry/platform.js';

export interface PullOptions {
  imageRoot: string;
  onProgress?: (event: PullProgress) => void;
  signal?: AbortSignal;
  /** `user:password` for the registry (default: ~/.docker/config.json). */
  creds?: string;
  /** Allow plain http to a non-loopback registry. */
  insecure?: boolean;
  /** `os/arch[/variant]` or a Platform; default the host's. */
  platform?: string | Platform;
  /** Parallel blob downloads (default 3). */
  concurrency?: number;
  /** Per-request headers timeout and idle timeout (default 30 s). */
  timeoutMs?: number;
  /** Overall deadline of each request, every blob download included (default 1 hour). */
  deadlineMs?: number;
  dockerConfigDir?: string;
  /** Return the stored image without asking the registry when the name is already present. */
  ifMissing?: boolean;
}

interface ImageConfigDoc {
  created?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
}

/** Parse an image config and check it against its manifest (image-spec config.md "rootfs"). */
export function checkConfig(raw: Buffer, manifest: ImageManifest, what: string): { doc: ImageConfigDoc; diffIds: string[]; platform: Platform } {
  let doc: ImageConfigDoc;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new ImageError('TSRUN_IMAGE', `${what}: config is not valid JSON`, { cause });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ImageError('TSRUN_IMAGE', `${what}: config is not a JSON object`);
  for (const k of ['os', 'architecture', 'variant', 'created'] as const) {
    if (doc[k] !== undefined && typeof doc[k] !== 'string') throw new ImageError('TSRUN_IMAGE', `${what}: config ${k} must be a string, got ${quote(doc[k])}`);
  }
  const diffIds = doc.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new ImageError('TSRUN_IMAGE', `${what}: config rootfs.diff_ids missing or malformed`);
  }
  if (diffIds.length !== manifest.layers.length) {
    throw new ImageError('TSRUN_IMAGE', `${what}: ${manifest.layers.length} layers but ${diffIds.length} diff_ids`);
  }
  const platform = normalizePlatform({ os: doc.os ?? 'linux', architecture: doc.architecture ?? 'unknown', variant: doc.variant });
  return { doc, diffIds, platform };
}

/** Bounded parallel map; the first failure aborts `ctl` and is rethrown after all settle. */
export async function mapLimit<T>(items: T[], limit: number, ctl: AbortController, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        if (!failure) failure = { e };
        ctl.abort(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.e;
}

export async function pull(reference: string, opts: PullOptions): Promise<ImageRecord> {
  const store = new ImageStore(opts.imageRoot);
  const emit = opts.onProgress ?? (() => {});
  // An image ID (or a prefix of one) is not asked of a registry: Docker resolves it locally or
  // says there is no such image. `sha256:…` and 64 hex are IDs only; for a run (ifMissing), so is
  // hex of 12 or more (a short ID), and shorter hex is tried as an ID prefix before it is pulled
  // as a name. An ambiguous prefix is an error.
  const idOnly = /^sha256:[a-f0-9]{1,64}$|^[a-f0-9]{64}$/.test(reference) || (opts.ifMissing === true && looksLikeImageId(reference));
  if (idOnly || (opts.ifMissing && /^[a-f0-9]{4,}$/.test(reference))) {
    const have = await store.find(reference);
    if (have) {
      emit({ type: 'done', ref: reference, digest: have.manifestDigest, id: have.id, downloaded: 0, seconds: 0 });
      return have;
    }
    if (idOnly) throw new ImageNotFoundError(`No such image: ${reference}`);
  }
  const ref = parseReference(reference);
  const name = formatReference(ref);
  const started = Date.now();
  if (opts.ifMissing || ref.digest) {
    const have = ref.digest ? findByReference(await store.list(), ref) : await store.find(name);
    if (have && (await allBlobsPresent(store, have))) {
      emit({ type: 'done', ref: name, digest: have.manifestDigest, id: have.id, downloaded: 0, seconds: 0 });
      return have;
    }
  }
  const want =
    opts.platform === undefined ? hostPlatform() : typeof opts.platform === 'string' ? parsePlatform(opts.platform) : normalizePlatform(opts.platform);
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(opts.signal?.reason);
  opts.signal?.throwIfAborted();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const client = new RegistryClient(ref.registry, {
    creds: opts.creds,
    insecure: opts.insecure,
    timeoutMs: opts.timeoutMs,
    ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}),
    dockerConfigDir: opts.dockerConfigDir,
    signal: ctl.signal,
  });
  const lease = await store.lease();
  try {
    emit({ type: 'resolving', ref: name });
    // Already stored under this name: a HEAD tells whether the tag still points at it.
    const stored = ref.digest ? undefined : await store.find(name);
    if (stored && samePlatform(stored.platform, want) && (await allBlobsPresent(store, stored))) {
      const current = await client.headManifest(ref.repository, ref.tag ?? 'latest');
      if (current && manifestsOf(stored).some((m) => current === m.indexDigest || current === m.manifestDigest)) {
        emit({ type: 'done', ref: name, digest: stored.manifestDigest, id: stored.id, downloaded: 0, seconds: (Date.now() - started) / 1000 });
        return stored;
      }
    }
    const top: FetchedManifest = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
    let indexDigest: string | undefined;
    let manifestFetched = top;
    if (top.parsed.kind === 'index') {
      indexDigest = top.digest;
      await lease.add(top.digest);
      await store.content.put(top.raw, top.digest);
      const desc = selectManifest(top.parsed.index, want, `index ${name}`);
      manifestFetched = await client.getManifest(ref.repository, desc.digest);
      if (manifestFetched.raw.length !== desc.size) {
        throw new ImageError('TSRUN_IMAGE_DIGEST', `manifest ${desc.digest}: ${manifestFetched.raw.length} bytes, index says ${desc.size}`);
      }
      if (manifestFetched.parsed.kind !== 'manifest') throw new ImageError('TSRUN_IMAGE', `${name}: nested index for ${formatPlatform(want)} is not supported`);
    }
    if (manifestFetched.parsed.kind !== 'manifest') throw new ImageError('TSRUN_IMAGE', `${name}: not an image manifest`);
    const manifest = manifestFetched.parsed.manifest;
    if (!CONFIG_TYPES.has(manifest.config.mediaType)) {
      throw new ImageError('TSRUN_IMAGE', `${name}: config media type "${manifest.config.mediaType}" is not an image config`);
    }
    await lease.add(manifestFetched.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest));
    await store.content.put(manifestFetched.raw, manifestFetched.digest);
    emit({
      type: 'resolved',
      ref: name,
      digest: manifestFetched.digest,
      indexDigest,
      platform: formatPlatform(want),
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })),
    });
    const fetchBlob = async (d: Descriptor, report: boolean): Promise<number> => {
      let last = 0;
      let lastDone = 0;
      let t0 = Date.now();
      const res = await store.content.ingest({
        digest: d.digest,
        size: d.size,
        signal: ctl.signal,
        open: async (offset) => client.openBlob(ref.repository, d.digest, offset, ctl.signal),
        onProgress: (done, from) => {
          const now = Date.now();
          // At most one event per 100 ms or per MiB, and always the last bytes.
          if (!report || (now - last < 100 && done - lastDone < 1 << 20 && done < d.size)) return;
          if (last === 0) t0 = now;
          last = now;
          lastDone = done;
          const secs = Math.max((now - t0) / 1000, 0.001);
          emit({
            type: 'layer',
            digest: d.digest,
            status: 'downloading',
            done,
            total: d.size,
            resumedFrom: from,
            bytesPerSecond: Math.round((done - from) / secs),
          });
        },
      });
      if (report) {
        emit({
          type: 'layer',
          digest: d.digest,
          status: res.existed ? 'exists' : 'done',
          done: d.size,
          total: d.size,
          resumedFrom: res.resumedFrom,
          bytesPerSecond: 0,
        });
      }
      return res.written;
    };
    let downloaded = await fetchBlob(manifest.config, false);
    const config = checkConfig(await store.content.read(manifest.config.digest), manifest, name);
    for (const l of manifest.layers) emit({ type: 'layer', digest: l.digest, status: 'waiting', done: 0, total: l.size, bytesPerSecond: 0 });
    // The same layer may appear twice in a manifest; fetch it once.
    const unique = [...new Map(manifest.layers.map((l) => [l.digest, l])).values()];
    await mapLimit(unique, opts.concurrency ?? 3, ctl, async (l) => {
      downloaded += await fetchBlob(l, true);
    });
    const repo = repositoryName(ref);
    const record = await store.put({
      id: manifest.config.digest,
      names: ref.tag ? [name] : [],
      repoDigests: [`${repo}@${indexDigest ?? manifestFetched.digest}`],
      manifestDigest: manifestFetched.digest,
      manifestMediaType: manifest.mediaType,
      ...(indexDigest ? { indexDigest } : {}),
      configDigest: manifest.config.digest,
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      diffIds: config.diffIds,
      platform: config.platform,
      ...(config.doc.created ? { created: config.doc.created } : {}),
      size: manifestFetched.raw.length + manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0),
      storedAt: new Date().toISOString(),
    });
    emit({ type: 'done', ref: name, digest: record.manifestDigest, id: record.id, downloaded, seconds: (Date.now() - started) / 1000 });
    return record;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await lease.release();
  }
}

function samePlatform(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a);
  const y = normalizePlatform(b);
  return x.os === y.os && x.architecture === y.architecture && (x.variant ?? '') === (y.variant ?? '');
}

async function allBlobsPresent(store: ImageStore, r: ImageRecord): Promise<boolean> {
  for (const d of [r.manifestDigest, r.configDigest, ...r.layers.map((l) => l.digest)]) {
    if (!(await store.content.has(d))) return false;
  }
  return true;
}
