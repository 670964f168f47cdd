// events: the container's statistics and OOM notifications, as runc's `events` prints them
// (runc events.go, types/events.go): one {"type":"stats","id","data"} object with --stats, or a
// stream of them every --interval, plus {"type":"oom","id"} whenever memory.events counts a new
// OOM kill. The stream ends when the container's cgroup is empty (the container stopped).
import { InvalidArgumentError } from '../errors.js';
import type { Manager } from '../cgroups/manager.js';
import { statsJson, type Stats } from '../cgroups/stats.js';
import { withContainer } from './handle.js';

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

export interface EventsOptions {
  root: string;
  id: string;
}

export interface StreamEventsOptions extends EventsOptions {
  /** Stats every intervalMs (runc --interval, default 5 s). */
  intervalMs: number;
  emit: (e: ContainerEvent) => void;
  /** Ends the stream (the CLI aborts on SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

/** The running container's cgroup Manager (runc events.go refuses a stopped container). */
function runningCgroup(o: EventsOptions): Promise<Manager> {
  return withContainer(o.root, o.id, {}, (h) => {
    h.assert('events');
    return h.cgroup;
  });
}

export async function statsEvent(o: EventsOptions): Promise<ContainerEvent> {
  return { type: 'stats', id: o.id, data: (await runningCgroup(o)).stats() };
}

/**
 * Streams events to `emit` until the container's cgroup empties or `signal` aborts. memory.events
 * is watched with inotify through the Manager (the kernel notifies on each change, cgroup-v2.rst)
 * and also read at the interval, in case the watch is refused.
 */
export async function streamEvents(o: StreamEventsOptions): Promise<void> {
  const { id, emit, signal } = o;
  const m = await runningCgroup(o);
  let seen = m.oomKills();
  const checkOom = () => {
    const now = m.oomKills();
    if (now > seen) emit({ type: 'oom', id });
    seen = Math.max(seen, now);
  };
  const unwatch = m.watchMemoryEvents(checkOom);
  try {
    while (!signal?.aborted) {
      // cgroup.events before memory.events: the kernel counts an OOM kill before the killed task
      // leaves the cgroup, so a count read after "populated 0" includes the kill that emptied it.
      const alive = m.populated();
      checkOom();
      if (!alive) return;
      let data: Stats;
      try {
        data = m.stats();
      } catch (err) {
        if (!m.populated()) return; // deleted while being read: the container is gone
        throw err;
      }
      // Files of a cgroup being removed read as absent: such a half-read is not reported.
      if (!m.populated()) return;
      emit({ type: 'stats', id, data });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, o.intervalMs);
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
    unwatch();
  }
}
