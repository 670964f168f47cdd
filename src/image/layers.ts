// The layer store: each layer unpacked once, in overlay form, under
//   <imageRoot>/layers/<chainID hex>/diff/        the overlayfs lowerdir
//   <imageRoot>/layers/<chainID hex>/layer.json   LayerMeta
// Keyed by chainID (image-spec config.md "Layer ChainID"), so a layer is shared only between
// images whose stacks below it agree. Publication is one rename(2) of a complete scratch dir, so
// a crash or kill never leaves a half-visible layer; a per-layer flock(2) serialises unpackers of
// the same layer (released by the kernel if the holder dies) and lets the next one clean up.
// Reference counting is the image store's job: it calls listLayers/removeLayer.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageError } from '../errors.js';
import { applyLayer } from './apply.js';
import type { BlobSource } from './decompress.js';
import * as x from './fsx.js';
import { openPrivateStore } from './private-store.js';

export interface LayerMeta {
  schemaVersion: 1;
  chainID: string;
  diffID: string;
  /** chainID of the layer below, when the caller said. */
  parent?: string;
  mediaType?: string;
  /** Uncompressed tar size in bytes. */
  size: number;
  entries: number;
  createdAt: string;
}

export interface LayerInfo extends LayerMeta {
  /** <imageRoot>/layers/<hex> */
  dir: string;
  /** The unpacked tree, for overlayfs lowerdir. */
  diffDir: string;
}

export interface EnsureLayerSpec {
  diffID: string;
  chainID: string;
  /** Opens the (possibly compressed) blob; called only when the layer must be unpacked. */
  open: () => BlobSource | Promise<BlobSource>;
  mediaType?: string;
  parent?: string;
  /** Declared uncompressed (tar) size, when known: unpacking stops with an error past it. */
  uncompressedSize?: number;
}

export interface EnsureLayerOptions {
  signal?: AbortSignal;
  /** Sync the filesystem before publishing (survives power loss, not just a kill). */
  durable?: boolean;
  /** Opaque-dir xattr name (`user.overlay.opaque` for userxattr overlay mounts). */
  opaqueXattr?: string;
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

function hexOf(digest: string, what: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new ImageError('TSRUN_IMAGE', `bad ${what} ${JSON.stringify(digest)}: want sha256:<64 hex digits>`);
  return m[1];
}

/** image-spec config.md: ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)). */
export function chainIDs(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    hexOf(d, 'diffID');
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

export function layersDir(imageRoot: string): string {
  return path.join(imageRoot, 'layers');
}

export function layerDir(imageRoot: string, chainID: string): string {
  return path.join(layersDir(imageRoot), hexOf(chainID, 'chainID'));
}

function readMeta(dir: string): LayerMeta | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'layer.json'), 'utf8')) as LayerMeta;
    return m.schemaVersion === 1 && typeof m.chainID === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

const info = (dir: string, m: LayerMeta): LayerInfo => ({ ...m, dir, diffDir: path.join(dir, 'diff') });

/** The layer if it is published, else undefined. */
export function getLayer(imageRoot: string, chainID: string): LayerInfo | undefined {
  const dir = layerDir(imageRoot, chainID);
  const m = readMeta(dir);
  return m && m.chainID === chainID ? info(dir, m) : undefined;
}

/** Every published layer (scratch and lock files are skipped). */
export function listLayers(imageRoot: string): LayerInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(layersDir(imageRoot));
  } catch (err) {
    if (x.codeOf(err) === 'ENOENT') return [];
    throw err;
  }
  const out: LayerInfo[] = [];
  for (const n of names) {
    if (!/^[0-9a-f]{64}$/.test(n)) continue;
    const l = getLayer(imageRoot, `sha256:${n}`);
    if (l) out.push(l);
  }
  return out;
}

function ensureLayersDir(imageRoot: string): string {
  const dir = layersDir(imageRoot);
  // 0700 as containerd's snapshot dirs: unpacked layers hold setuid-root binaries and devices
  // that unprivileged host users must not reach.
  openPrivateStore(imageRoot, { create: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Takes the per-layer lock; the lock file may be unlinked by its holder, so check we hold the live one. */
async function lock(dir: string, hex: string, signal?: AbortSignal): Promise<{ release(unlink: boolean): void }> {
  const file = path.join(dir, `.lock-${hex}`);
  for (;;) {
    signal?.throwIfAborted();
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | x.O_CLOEXEC, 0o600);
    try {
      while (!x.flock(fd, x.LOCK_EX | x.LOCK_NB)) {
        signal?.throwIfAborted();
        await sleep(25);
      }
      const now = fs.statSync(file, { throwIfNoEntry: false });
      if (now && now.ino === fs.fstatSync(fd).ino) {
        return {
          release(unlink: boolean) {
            if (unlink) fs.rmSync(file, { force: true });
            fs.closeSync(fd); // drops the flock
          },
        };
      }
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    fs.closeSync(fd); // the holder unlinked it after we opened it: start over
  }
}

function removeScratch(dir: string, hex: string): void {
  for (const n of fs.readdirSync(dir)) {
    if (n.startsWith(`.tmp-${hex}-`)) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  }
}

/**
 * Returns the unpacked layer, unpacking it first if needed (exactly once, whatever the number of
 * concurrent callers). The diffID is verified: on mismatch nothing is published and
 * ImageError('TSRUN_IMAGE_DIGEST') is thrown.
 */
export async function ensureLayer(imageRoot: string, spec: EnsureLayerSpec, opts: EnsureLayerOptions = {}): Promise<LayerInfo & { created: boolean }> {
  const hex = hexOf(spec.chainID, 'chainID');
  hexOf(spec.diffID, 'diffID');
  if (spec.parent !== undefined) hexOf(spec.parent, 'parent chainID');
  const have = getLayer(imageRoot, spec.chainID);
  if (have) return { ...have, created: false };
  const dir = ensureLayersDir(imageRoot);
  const final = path.join(dir, hex);
  const l = await lock(dir, hex, opts.signal);
  let tmp: string | undefined;
  try {
    const won = getLayer(imageRoot, spec.chainID); // another process finished while we waited
    if (won) return { ...won, created: false };
    removeScratch(dir, hex); // left by a killed unpacker (it no longer holds the lock)
    if (fs.existsSync(final)) fs.rmSync(final, { recursive: true, force: true }); // unreadable metadata
    tmp = path.join(dir, `.tmp-${hex}-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(path.join(tmp, 'diff'), { recursive: true, mode: 0o755 });
    const r = await applyLayer(await spec.open(), path.join(tmp, 'diff'), {
      mode: 'overlay',
      mediaType: spec.mediaType,
      opaqueXattr: opts.opaqueXattr,
      signal: opts.signal,
      ...(spec.uncompressedSize !== undefined ? { uncompressedSize: spec.uncompressedSize } : {}),
    });
    if (r.diffID !== spec.diffID) {
      throw new ImageError('TSRUN_IMAGE_DIGEST', `layer ${spec.chainID}: uncompressed content has digest ${r.diffID}, expected diffID ${spec.diffID}`);
    }
    const meta: LayerMeta = {
      schemaVersion: 1,
      chainID: spec.chainID,
      diffID: spec.diffID,
      ...(spec.parent !== undefined ? { parent: spec.parent } : {}),
      ...(spec.mediaType !== undefined ? { mediaType: spec.mediaType } : {}),
      size: r.tarBytes,
      entries: r.entries,
      createdAt: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(tmp, 'layer.json'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 });
    if (opts.durable) {
      const fd = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      try {
        x.syncfs(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    fs.renameSync(tmp, final);
    tmp = undefined;
    return { ...info(final, meta), created: true };
  } catch (err) {
    if (err instanceof ImageError || (err as Error).name === 'AbortError') throw err;
    throw new ImageError('TSRUN_IMAGE', `unpack layer ${spec.chainID}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    l.release(true);
  }
}

/** Deletes a layer (no-op when absent). Callers must know nothing uses it any more. */
export async function removeLayer(imageRoot: string, chainID: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
  const hex = hexOf(chainID, 'chainID');
  const dir = layersDir(imageRoot);
  if (!fs.existsSync(dir)) return false;
  const l = await lock(dir, hex, opts.signal);
  try {
    const final = path.join(dir, hex);
    if (!fs.existsSync(final)) return false;
    // Hide it atomically first, so a crash mid-delete leaves scratch, not a broken layer.
    const doomed = path.join(dir, `.tmp-${hex}-rm-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.renameSync(final, doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
    return true;
  } finally {
    l.release(true);
  }
}
