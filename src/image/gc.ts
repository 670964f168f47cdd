// `image rm` and `image prune`: remove records, then what nothing references any more. A layer
// (unpacked dir, keyed by chainID) is kept while an image record stacks it or a container made
// from an image uses it — even when that image was removed meanwhile: the container's marker
// (container/image-rootfs.ts) lists its chainIDs. Blobs go through ImageStore.prune, which
// honours the leases of pulls in flight.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { containerDirOf, readImageMarker, removeContainerDir, type ImageContainerMarker } from './image-rootfs.js';
import { pidAlive } from './content-store.js';
import { ImageStore, type RemoveOptions } from './image-store.js';
import { chainIDs, listLayers, removeLayer } from './layers.js';
import { isMountPoint, readMountinfo } from './overlay.js';

export interface ImageContainerInfo {
  marker: ImageContainerMarker;
  dir: string;
  /** Its rootfs is mounted, or the process making it is alive. */
  live: boolean;
  /** A half-made container (its maker died before the init existed): its state dir of intent. */
  intentDir?: string;
}

const ID_RE = /^[\w+\-.]+$/;

/**
 * For a container whose maker is dead: its state dir when that is gone, or still only the record of
 * intent run --image writes before mounting (no init, this bundle): nothing else will clean it.
 * undefined for a container that was made (its `delete` cleans it) or a marker without stateRoot.
 */
function halfMade(marker: ImageContainerMarker, dir: string): { stateDir: string } | undefined {
  if (typeof marker.stateRoot !== 'string' || !ID_RE.test(marker.id) || marker.id === '.' || marker.id === '..') return undefined;
  const stateDir = path.join(marker.stateRoot, marker.id);
  let rec: { pid?: unknown; bundle?: unknown };
  try {
    rec = JSON.parse(readFileSync(path.join(stateDir, 'state.json'), 'utf8')) as typeof rec;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No state dir, or one claimed but never written: the maker died first.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { stateDir };
    return undefined;
  }
  return !rec.pid && rec.bundle === dir ? { stateDir } : undefined;
}

/** Containers made from images under imageRoot. */
export function imageContainers(imageRoot: string): ImageContainerInfo[] {
  const base = path.join(path.resolve(imageRoot), 'containers');
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return [];
  }
  const mountinfo = readMountinfo();
  const out: ImageContainerInfo[] = [];
  for (const id of names) {
    const dir = containerDirOf(imageRoot, id);
    const marker = readImageMarker(dir, id);
    if (!marker) {
      // A dir without a readable marker is being set up (marker comes first) or is debris; keep it.
      out.push({ marker: { id, imageRoot, image: { id: '', manifestDigest: '' }, chainIDs: [], pid: 0, created: '' }, dir, live: true });
      continue;
    }
    const makerAlive = marker.pid !== process.pid && pidAlive(marker.pid);
    const half = makerAlive ? undefined : halfMade(marker, dir);
    if (half) {
      out.push({ marker, dir, live: false, intentDir: half.stateDir });
      continue;
    }
    const live = isMountPoint(path.join(dir, 'rootfs'), mountinfo) || makerAlive;
    out.push({ marker, dir, live });
  }
  return out;
}

export interface GcResult {
  images: string[];
  untagged: string[];
  layers: string[];
  blobs: string[];
  containers: string[];
  bytes: number;
}

/** Remove layers no record and no live container uses; with `stale`, also dead containers' dirs. */
async function collect(imageRoot: string, opts: { dangling: boolean; stale: boolean }): Promise<Omit<GcResult, 'images' | 'untagged'> & { images: string[] }> {
  const store = new ImageStore(imageRoot);
  const containers: string[] = [];
  const used = new Set<string>();
  const usedImages = new Set<string>();
  for (const c of imageContainers(imageRoot)) {
    if (!c.live && opts.stale && c.marker.pid !== 0) {
      removeContainerDir(c.dir);
      if (c.intentDir) rmSync(c.intentDir, { recursive: true, force: true });
      containers.push(c.marker.id);
      continue;
    }
    for (const ch of c.marker.chainIDs) used.add(ch);
    if (c.marker.image.id) usedImages.add(c.marker.image.id);
  }
  // An untagged image a container was made from stays, as Docker's prune keeps it.
  const pruned = await store.prune({ dangling: opts.dangling, keep: usedImages });
  for (const r of await store.list()) for (const ch of chainIDs(r.diffIds)) used.add(ch);
  const layers: string[] = [];
  let bytes = pruned.bytes;
  for (const l of listLayers(imageRoot)) {
    if (used.has(l.chainID)) continue;
    if (await removeLayer(imageRoot, l.chainID)) {
      layers.push(l.chainID);
      bytes += l.size;
    }
  }
  return { images: pruned.images, layers, blobs: pruned.blobs, containers, bytes };
}

/**
 * `image rm REF…`: untag (or delete by ID) each, with Docker's conflicts for images containers use
 * (ImageStore.remove), then drop content nothing else uses.
 */
export async function removeImages(imageRoot: string, refs: string[], opts: RemoveOptions = {}): Promise<GcResult> {
  const store = new ImageStore(imageRoot);
  const untagged: string[] = [];
  const images: string[] = [];
  for (const ref of refs) {
    const r = await store.remove(ref, opts);
    untagged.push(...r.untagged);
    if (r.deleted) images.push(r.deleted);
  }
  const c = await collect(imageRoot, { dangling: false, stale: false });
  return { ...c, images: [...images, ...c.images], untagged };
}

/** `image prune`: untagged records, dead containers' leftovers, unused layers and blobs. */
export async function pruneImages(imageRoot: string): Promise<GcResult> {
  const c = await collect(imageRoot, { dangling: true, stale: true });
  return { ...c, untagged: [] };
}
