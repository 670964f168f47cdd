// Runtime.images: the image store under imageRoot (pull, list, inspect, import, remove, prune),
// the same operations as `tsrun image …`.
import { imageUsers } from '../front/image-users.js';
import { removeImages, pruneImages, type GcResult } from '../image/gc.js';
import { ImageStore, type ImageRecord } from '../image/image-store.js';
import { importImage, type ImportOptions } from '../image/import.js';
import type { PullProgress } from '../image/progress.js';
import { pull, type PullOptions } from '../image/pull.js';

export const DEFAULT_IMAGE_ROOT = '/var/lib/tsrun';

export type ImagePullOptions = Omit<PullOptions, 'imageRoot'>;

export class Images {
  readonly imageRoot: string;
  readonly #publish: (name: 'pull', msg: object) => void;
  /** The state root whose `run --image` containers count as users of an image (with the front's). */
  readonly #stateRoot: string;

  constructor(imageRoot: string, publish: (name: 'pull', msg: object) => void, stateRoot = '/run/tsrun') {
    this.imageRoot = imageRoot;
    this.#publish = publish;
    this.#stateRoot = stateRoot;
  }

  /** Pulls ref (progress through onProgress; AbortSignal stops the downloads). */
  async pull(ref: string, o: ImagePullOptions = {}): Promise<ImageRecord> {
    const t0 = performance.now();
    const rec = await pull(ref, { ...o, imageRoot: this.imageRoot });
    this.#publish('pull', { ref, id: rec.id, digest: rec.manifestDigest, durationMs: performance.now() - t0 });
    return rec;
  }

  list(): Promise<ImageRecord[]> {
    return new ImageStore(this.imageRoot).list();
  }

  /** By name, name@digest or ID (prefix); undefined when absent. */
  find(ref: string): Promise<ImageRecord | undefined> {
    return new ImageStore(this.imageRoot).find(ref);
  }

  /** As find, for `image inspect`; an absent image throws ImageNotFoundError (TSRUN_IMAGE_NOT_FOUND). */
  inspect(ref: string): Promise<ImageRecord> {
    return new ImageStore(this.imageRoot).get(ref);
  }

  /** An OCI layout or `docker save` archive (tar, tar.gz) or directory. */
  import(source: string, o: Omit<ImportOptions, 'imageRoot'> = {}): Promise<ImageRecord[]> {
    return importImage(source, { ...o, imageRoot: this.imageRoot });
  }

  /**
   * Untags/removes the named images and collects what nothing uses any more, as `docker rmi`: an
   * absent one throws ImageNotFoundError, one a container uses (running or stopped) is refused
   * with Docker's conflict words (InvalidStateError).
   */
  remove(...refs: string[]): Promise<GcResult> {
    return this.#remove(refs, false);
  }

  /** As remove, forced (`docker rmi -f`): a stopped container's image goes; a running one's is still refused. */
  forceRemove(...refs: string[]): Promise<GcResult> {
    return this.#remove(refs, true);
  }

  async #remove(refs: string[], force: boolean): Promise<GcResult> {
    const users = await imageUsers(this.imageRoot, this.#stateRoot);
    return removeImages(this.imageRoot, refs, { force, usersOf: (id) => users.get(id) ?? [] });
  }

  /** Removes dangling images, unused layers and blobs, stale container dirs. */
  prune(): Promise<GcResult> {
    return pruneImages(this.imageRoot);
  }
}

export type { ImageRecord, PullProgress, GcResult };
