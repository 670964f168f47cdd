// A container made by `run --image` owns a directory <imageRoot>/containers/<id>/ (its bundle):
// the overlay mount `rootfs/`, its `upper/` and `work/` dirs, hosts files and volumes. `delete`
// (destroy) calls releaseImageRootfs: the overlay is detached in the host mount namespace, and the
// directory is removed only once nothing is mounted below it (rm -r through a live overlay or a
// bind mount would delete what lies beneath).
//
// The marker file is how a bundle is recognised: a config.json from an engine cannot make delete
// remove an arbitrary directory, because the marker must name this id and sit at
// <its imageRoot>/containers/<id>.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readMountinfo, unescapeMountinfo, unmountAll } from './overlay.js';

export const IMAGE_MARKER = 'tsrun-image.json';

export interface ImageContainerMarker {
  id: string;
  imageRoot: string;
  image: { id: string; manifestDigest: string; name?: string };
  /** Layers the rootfs stacks, bottom first (they must outlive the container). */
  chainIDs: string[];
  /** The process that made it (a dead maker + no mount = stale). */
  pid: number;
  created: string;
  /**
   * The state root (--root) the container's state dir is in: <stateRoot>/<id> is claimed before the
   * marker is written. A dead maker whose state dir is gone or still only the record of intent (no
   * init) left a half-made container: `image prune` finishes it (gc.ts).
   */
  stateRoot?: string;
}

export function containerDirOf(imageRoot: string, id: string): string {
  return path.join(path.resolve(imageRoot), 'containers', id);
}

/** The marker of an image-made bundle, or undefined for any other bundle. */
export function readImageMarker(bundle: string, id: string): ImageContainerMarker | undefined {
  const file = path.join(bundle, IMAGE_MARKER);
  if (!existsSync(file)) return undefined;
  let m: ImageContainerMarker;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as ImageContainerMarker;
  } catch {
    return undefined;
  }
  if (m.id !== id || typeof m.imageRoot !== 'string') return undefined;
  if (containerDirOf(m.imageRoot, id) !== path.resolve(bundle)) return undefined;
  return m;
}

/** Mount points at or below dir in this mount namespace. */
export function mountsBelow(dir: string): string[] {
  const out: string[] = [];
  for (const line of readMountinfo().split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescapeMountinfo(mp);
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Unmount everything below dir, then remove it. Throws (and removes nothing) if a mount stays. */
export function removeContainerDir(dir: string): void {
  for (const mp of mountsBelow(dir)) unmountAll(mp);
  const left = mountsBelow(dir);
  if (left.length) throw new Error(`cannot remove ${dir}: still mounted at ${left.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

/** For destroy(): a no-op (one stat) for a bundle that is not image-made. */
export function releaseImageRootfs(rec: { id: string; bundle: string }): void {
  if (!readImageMarker(rec.bundle, rec.id)) return;
  removeContainerDir(path.resolve(rec.bundle));
}
