// Unpack an image's layers into the layer store (./layers.ts), bottom first, each once, with
// progress per layer as the pull's: `extract` events (waiting, extracting with the blob bytes
// read so far, done or exists) and one `unpack` summary per layer.
import { existsSync } from 'node:fs';
import { ImageError } from '../errors.js';
import { manifestsOf, type ImageRecord } from './image-store.js';
import { ContentStore } from './content-store.js';
import { chainIDs, ensureLayer, getLayer } from './layers.js';
import type { ExtractProgress, UnpackEvent } from './progress.js';

export interface UnpackOptions {
  onEvent?: (e: ExtractProgress | UnpackEvent) => void;
  signal?: AbortSignal;
}

/** At most one `extracting` event per 100 ms or per MiB read, and always the last bytes. */
function throttled(total: number, report: (done: number) => void): (done: number) => void {
  let last = 0;
  let lastDone = 0;
  return (done) => {
    const now = Date.now();
    if (now - last < 100 && done - lastDone < 1 << 20 && done < total) return;
    last = now;
    lastDone = done;
    report(done);
  };
}

/**
 * The blob to unpack layer i from: the record's own manifest's, or the same layer (same diffID at
 * the same place) of another manifest of the image whose blob is stored.
 */
function layerBlob(content: ContentStore, rec: ImageRecord, i: number): ImageRecord['layers'][number] | undefined {
  for (const m of manifestsOf(rec)) {
    const l = m.layers[i];
    if (l && m.layers.length === rec.diffIds.length && existsSync(content.blobPath(l.digest))) return l;
  }
  return undefined;
}

/** Unpack (once) every layer of rec; returns their diff dirs, bottom first. */
export async function unpackImage(imageRoot: string, rec: ImageRecord, opts: UnpackOptions = {}): Promise<string[]> {
  const content = new ContentStore(imageRoot);
  const emit = opts.onEvent ?? (() => {});
  const chain = chainIDs(rec.diffIds);
  const present = chain.map((c) => getLayer(imageRoot, c) !== undefined);
  const layerOf = (i: number) => rec.layers[i] ?? { digest: rec.diffIds[i], size: 0, mediaType: '' };
  chain.forEach((c, i) => {
    if (!present[i]) emit({ type: 'extract', digest: layerOf(i).digest, chainID: c, status: 'waiting', done: 0, total: layerOf(i).size });
  });
  const dirs: string[] = [];
  for (let i = 0; i < chain.length; i++) {
    const t0 = Date.now();
    const shown = layerOf(i);
    const blob = layerBlob(content, rec, i);
    const l = await ensureLayer(
      imageRoot,
      {
        diffID: rec.diffIds[i],
        chainID: chain[i],
        ...(i > 0 ? { parent: chain[i - 1] } : {}),
        mediaType: (blob ?? shown).mediaType,
        open: () => {
          if (!blob)
            throw new ImageError('TSRUN_IMAGE', `layer ${shown.digest} of ${rec.names[0] ?? rec.id} is neither unpacked nor stored; pull the image again`);
          const progress = throttled(blob.size, (done) =>
            emit({ type: 'extract', digest: shown.digest, chainID: chain[i], status: 'extracting', done, total: blob.size }),
          );
          const stream = content.createReadStream(blob.digest);
          return (async function* () {
            let done = 0;
            for await (const c of stream as AsyncIterable<Buffer>) {
              done += c.length;
              progress(done);
              yield c;
            }
          })();
        },
      },
      { signal: opts.signal },
    );
    const status = l.created ? 'done' : 'exists';
    emit({ type: 'extract', digest: shown.digest, chainID: chain[i], status, done: shown.size, total: shown.size });
    emit({ type: 'unpack', chainID: chain[i], diffID: rec.diffIds[i], created: l.created, seconds: (Date.now() - t0) / 1000 });
    dirs.push(l.diffDir);
  }
  return dirs;
}
