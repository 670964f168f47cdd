// Which containers use an image, for `image rm`'s conflicts (docker rmi: "container X is using its
// referenced image", "image is being used by stopped container X"). Two kinds of containers use the
// store's images, and both keep their bundle at <imageRoot>/containers/<id>/ with a marker naming
// the image (image/image-rootfs.ts): the Docker-style front's (front.json beside it, src/front/
// store.ts), and `run --image`'s, whose state is in a state root (--root). image/ may not read the
// front's records or the runtime's state (layering), so the check is here, in one function that
// `tsrun image rm` and the library's Runtime.images.remove both call.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { containerState } from '../container/state.js';
import { readFront } from './store.js';
import { containerDirOf, readImageMarker } from '../image/image-rootfs.js';
import type { ImageUser } from '../image/image-store.js';
import { StateStore } from '../state/store.js';

interface Candidate {
  id: string;
  imageId: string;
  stateRoot: string;
  /** The front keeps a container that has lost its runtime state (Docker's "dead"). */
  front: boolean;
}

/** Whether the container's init is up (running or paused; one being made counts too). */
async function isRunning(c: Candidate): Promise<boolean | undefined> {
  try {
    const s = await containerState({ root: c.stateRoot, id: c.id });
    return s.status === 'running' || s.status === 'paused' || s.status === 'creating';
  } catch {
    return undefined; // no runtime state
  }
}

/**
 * Every container under imageRoot (and every container in stateRoot whose bundle is one of them)
 * with the image ID it was made from; a container dir with neither a front record nor runtime
 * state (debris `image prune` clears) uses nothing.
 */
export async function imageUsers(imageRoot: string, stateRoot: string): Promise<Map<string, ImageUser[]>> {
  const found = new Map<string, Candidate>();
  const consider = (id: string, fallbackRoot: string) => {
    if (found.has(id)) return;
    const marker = readImageMarker(containerDirOf(imageRoot, id), id);
    const front = readFront(imageRoot, id);
    const imageId = front?.imageId ?? marker?.image.id;
    if (!imageId) return;
    found.set(id, { id, imageId, stateRoot: front?.stateRoot ?? marker?.stateRoot ?? fallbackRoot, front: !!front });
  };
  let ids: string[] = [];
  try {
    ids = readdirSync(path.join(path.resolve(imageRoot), 'containers'));
  } catch {
    /* no containers yet */
  }
  for (const id of ids) consider(id, stateRoot);
  // run --image containers of this state root whose bundle is in this store.
  const state = new StateStore(stateRoot);
  for (const id of state.list()) {
    try {
      if (path.resolve(state.load(id).bundle) === containerDirOf(imageRoot, id)) consider(id, stateRoot);
    } catch {
      /* deleted meanwhile */
    }
  }
  const out = new Map<string, ImageUser[]>();
  for (const c of found.values()) {
    const running = await isRunning(c);
    if (running === undefined && !c.front) continue;
    const list = out.get(c.imageId) ?? [];
    list.push({ id: c.id, running: running === true });
    out.set(c.imageId, list);
  }
  return out;
}
