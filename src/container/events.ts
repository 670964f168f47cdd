// events: the container's statistics and OOM notifications, as runc's `events` prints them
// (runc events.go, types/events.go): one {"type":"stats","id","data"} object with --stats, or a
// stream of them every --interval, plus {"type":"oom","id"} whenever memory.events counts a new
// OOM kill. The stream ends when the container's cgroup is empty (the container stopped).
import { existsSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, InvalidStateError } from '../errors.js';
import type { Manager } from '../cgroups/manager.js';
import { parseKeyValues, readOptional } from '../cgroups/files.js';
import { statsJson, type Stats } from '../cgroups/stats.js';
import { containerStatus } from '../state/status.js';
import { StateStore } from '../state/store.js';
import { cgroupManagerOf } from './pause.js';

export interface ContainerEvent {
  type: 'stats' | 'oom';
  id: string;
  data?: Stats;
}

/** An event as one JSON line (cgroup counters as exact integers). */
export function eventJson(e: ContainerEvent): string {
  return statsJson(e);
}

/** A Go time.Duration string ("5s", "1m30s", "250ms") in milliseconds. */
export function parseDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * units[m[2]!]!;
    matched = re.lastIndex;
  }
  if (!s || matched !== s.length) throw new InvalidArgumentError(`invalid duration ${JSON.stringify(s)}`);
  return total;
}

function openManager(root: string, id: string): Manager {
  const store = new StateStore(root);
  const rec = store.load(id);
  if (containerStatus(rec, store.dir(id)) === 'stopped') throw new InvalidStateError(`container with id ${id} is not running`);
  return cgroupManagerOf(rec);
}

export function statsEvent(root: string, id: string): ContainerEvent {
  return { type: 'stats', id, data: openManager(root, id).stats() };
}

function oomKills(dir: string): number {
  const e = parseKeyValues(readOptional(dir, 'memory.events'));
  return e.oom_kill ?? 0;
}

function populated(dir: string): boolean {
  const e = readOptional(dir, 'cgroup.events');
  return e !== undefined && parseKeyValues(e).populated === 1;
}

/**
 * Streams events to `emit` until the container's cgroup empties or `signal` aborts. memory.events
 * is watched with inotify (the kernel notifies on each change, cgroup-v2.rst) and also polled at
 * the interval, in case the watch is refused.
 */
export async function streamEvents(root: string, id: string, intervalMs: number, emit: (e: ContainerEvent) => void, signal?: AbortSignal): Promise<void> {
  const m = openManager(root, id);
  let seen = oomKills(m.dir);
  const checkOom = () => {
    const now = oomKills(m.dir);
    if (now > seen) emit({ type: 'oom', id });
    seen = Math.max(seen, now);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.join(m.dir, 'memory.events'), () => checkOom());
  } catch {
    /* no memory controller: nothing to watch */
  }
  try {
    while (!signal?.aborted) {
      // cgroup.events before memory.events: the kernel counts an OOM kill before the killed task
      // leaves the cgroup, so a count read after "populated 0" includes the kill that emptied it.
      const alive = populated(m.dir);
      checkOom();
      if (!alive) return;
      let data: Stats;
      try {
        data = m.stats();
      } catch (err) {
        if (!existsSync(m.dir)) return; // deleted while being read: the container is gone
        throw err;
      }
      // Files of a cgroup being removed read as absent: such a half-read is not reported.
      if (!existsSync(m.dir) || !populated(m.dir)) return;
      emit({ type: 'stats', id, data });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, intervalMs);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  } finally {
    watcher?.close();
  }
}
