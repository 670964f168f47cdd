// Manifest, index and layer media types (OCI image-spec media-types.md; Docker image manifest
// v2 schema 2, docker/distribution docs/spec/manifest-v2-2.md) and the shapes we accept.

import { ImageError } from '../../errors.js';
import { quote } from '../../spec/cut.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const DOCKER_LAYER_FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
export const DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** What a pull asks for, in order of preference. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

export const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_LIST]);
export const MANIFEST_TYPES = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
export const CONFIG_TYPES = new Set([OCI_CONFIG, DOCKER_CONFIG]);

export type Compression = 'none' | 'gzip' | 'zstd';

const LAYER_COMPRESSION: Record<string, Compression> = {
  [OCI_LAYER]: 'none',
  [OCI_LAYER_GZIP]: 'gzip',
  [OCI_LAYER_ZSTD]: 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  [DOCKER_LAYER_GZIP]: 'gzip',
  [DOCKER_LAYER_FOREIGN]: 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
};

/** The compression of a layer media type, or an error naming the unknown type. */
export function layerCompression(mediaType: string): Compression {
  const c = Object.hasOwn(LAYER_COMPRESSION, mediaType) ? LAYER_COMPRESSION[mediaType] : undefined;
  if (!c) throw new ImageError('TSRUN_IMAGE', `unsupported layer media type ${quote(mediaType)}`);
  return c;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A descriptor's `platform` (image-spec image-index.md): os and architecture strings, optional
 * variant and os.version strings, os.features an array of strings. Anything else is refused
 * naming the field, so nothing later meets a number where it expects a string.
 */
export function checkPlatform(p: unknown, where: string): Platform {
  if (!isObject(p)) throw new ImageError('TSRUN_IMAGE', `${where}: platform is not an object`);
  for (const k of ['os', 'architecture'] as const) {
    if (typeof p[k] !== 'string' || p[k] === '') throw new ImageError('TSRUN_IMAGE', `${where}: platform.${k} must be a non-empty string, got ${quote(p[k])}`);
  }
  for (const k of ['variant', 'os.version'] as const) {
    if (p[k] !== undefined && typeof p[k] !== 'string') throw new ImageError('TSRUN_IMAGE', `${where}: platform.${k} must be a string, got ${quote(p[k])}`);
  }
  const f = p['os.features'];
  if (f !== undefined && (!Array.isArray(f) || f.some((x) => typeof x !== 'string'))) {
    throw new ImageError('TSRUN_IMAGE', `${where}: platform.os.features must be an array of strings`);
  }
  return p as unknown as Platform;
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  if (!isObject(d)) throw new ImageError('TSRUN_IMAGE', `${where}: not an object`);
  const o = d as Partial<Record<keyof Descriptor, unknown>>;
  if (typeof o.mediaType !== 'string') throw new ImageError('TSRUN_IMAGE', `${where}: mediaType missing`);
  if (typeof o.digest !== 'string' || !DIGEST_RE.test(o.digest)) {
    throw new ImageError('TSRUN_IMAGE', `${where}: invalid digest ${quote(o.digest)}`);
  }
  if (!Number.isSafeInteger(o.size) || (o.size as number) < 0) {
    throw new ImageError('TSRUN_IMAGE', `${where}: invalid size ${quote(o.size)}`);
  }
  if (o.platform !== undefined) checkPlatform(o.platform, where);
  if (o.urls !== undefined && (!Array.isArray(o.urls) || o.urls.some((u) => typeof u !== 'string'))) {
    throw new ImageError('TSRUN_IMAGE', `${where}: urls must be an array of strings`);
  }
  if (o.annotations !== undefined && (!isObject(o.annotations) || Object.values(o.annotations).some((v) => typeof v !== 'string'))) {
    throw new ImageError('TSRUN_IMAGE', `${where}: annotations must be an object of strings`);
  }
  return o as Descriptor;
}

/**
 * Parse a manifest or index body. `contentType` is the HTTP Content-Type (or the descriptor's
 * mediaType); distribution-spec requires it to agree with the body's own `mediaType` when set.
 */
export function parseManifest(
  body: Uint8Array,
  contentType: string | undefined,
  what: string,
): { kind: 'index'; index: ImageIndex } | { kind: 'manifest'; manifest: ImageManifest } {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (cause) {
    throw new ImageError('TSRUN_IMAGE', `${what}: manifest is not valid JSON`, { cause });
  }
  if (!isObject(doc)) throw new ImageError('TSRUN_IMAGE', `${what}: manifest is not an object`);
  const ct = contentType?.split(';')[0].trim().toLowerCase() || undefined;
  const bodyType = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (ct === DOCKER_SCHEMA1 || doc.schemaVersion === 1) {
    throw new ImageError('TSRUN_IMAGE', `${what}: Docker schema 1 manifests are not supported`);
  }
  if (bodyType && ct && ct !== bodyType && ct !== 'application/json' && ct !== 'application/octet-stream') {
    throw new ImageError('TSRUN_IMAGE', `${what}: Content-Type ${quote(ct)} disagrees with manifest mediaType ${quote(bodyType)}`);
  }
  // OCI lets mediaType be absent; then tell index from manifest by shape.
  const type = bodyType ?? (ct && (INDEX_TYPES.has(ct) || MANIFEST_TYPES.has(ct)) ? ct : Array.isArray(doc.manifests) ? OCI_INDEX : OCI_MANIFEST);
  if (doc.schemaVersion !== 2) throw new ImageError('TSRUN_IMAGE', `${what}: schemaVersion must be 2`);
  if (INDEX_TYPES.has(type)) {
    if (!Array.isArray(doc.manifests)) throw new ImageError('TSRUN_IMAGE', `${what}: index has no manifests array`);
    const manifests = doc.manifests.map((m, i) => checkDescriptor(m, `${what}: manifests[${i}]`));
    return { kind: 'index', index: { ...(doc as object), mediaType: type, manifests } as ImageIndex };
  }
  if (MANIFEST_TYPES.has(type)) {
    const config = checkDescriptor(doc.config, `${what}: config`);
    if (!Array.isArray(doc.layers)) throw new ImageError('TSRUN_IMAGE', `${what}: manifest has no layers array`);
    const layers = doc.layers.map((l, i) => checkDescriptor(l, `${what}: layers[${i}]`));
    for (const l of layers) layerCompression(l.mediaType);
    return { kind: 'manifest', manifest: { ...(doc as object), mediaType: type, config, layers } as ImageManifest };
  }
  throw new ImageError('TSRUN_IMAGE', `${what}: unsupported manifest media type ${quote(type)}`);
}
