// --platform for images already stored (docker run --platform with --pull missing|never): the
// stored image a reference names is used only if it is of the wanted platform; another record
// of the same multi-platform index (pulled or imported for another platform) is used when it
// is; else Docker's words, and no pull (Docker does not pull over a stored image either).
import { ImageNotFoundError } from '../errors.js';
import { ImageStore, type ImageRecord } from '../image/image-store.js';
import { normalizePlatform, parsePlatform } from '../image/registry/platform.js';
import type { Platform } from '../image/registry/media-types.js';

/** containerd's platforms.Format of a normalized platform: arm64's default v8 is not shown. */
export function showPlatform(p: Platform): string {
  const n = normalizePlatform(p);
  const variant = n.architecture === 'arm64' && n.variant === 'v8' ? undefined : n.variant;
  return [n.os, n.architecture, variant].filter(Boolean).join('/');
}

/** A stored platform matches when os and architecture do, and the variant if the request named one. */
export function platformMatches(want: string, have: Platform): boolean {
  const w = parsePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  const named = want.split('/').length === 3;
  return !named || (w.variant ?? '') === (h.variant ?? '');
}

/**
 * The stored image for `ref` on `platform`, or undefined when nothing is stored under `ref` (the
 * caller pulls it for the platform). Throws Docker's error when what is stored is of another one.
 */
export async function storedForPlatform(imageRoot: string, ref: string, platform: string): Promise<ImageRecord | undefined> {
  parsePlatform(platform); // a malformed --platform fails first
  const store = new ImageStore(imageRoot);
  const all = await store.list();
  const named = (await store.resolve(ref, all))?.record;
  if (!named) return undefined;
  if (platformMatches(platform, named.platform)) return named;
  const indexes = new Set([named.indexDigest, ...(named.otherManifests ?? []).map((m) => m.indexDigest)].filter(Boolean));
  const sibling = all.find(
    (r) => platformMatches(platform, r.platform) && [r.indexDigest, ...(r.otherManifests ?? []).map((m) => m.indexDigest)].some((d) => d && indexes.has(d)),
  );
  if (sibling) return sibling;
  throw new ImageNotFoundError(
    `image with reference ${ref} was found but does not match the specified platform: wanted ${showPlatform(parsePlatform(platform))}, actual: ${showPlatform(named.platform)}`,
  );
}
