// `network ls --filter` and `network prune --filter`, Docker's filters over networks. Pure.
//   name=N      the name contains N          id=I      the ID starts with I
//   driver=D    the driver is D              label=K / label=K=V   the label is set (to V)
//   type=custom|builtin (builtin: the default network)  dangling=true|false  no container on it
//   until=T     (prune) made before T: a duration (10m, 1h30m) ago, or an RFC 3339 time / Unix seconds
// Values of one key are alternatives (any may match), but every label= must match; different keys
// must all match.
import { InvalidArgumentError } from '../errors.js';

export interface FilterableNetwork {
  name: string;
  id: string;
  driver: string;
  created: string;
  labels: Record<string, string>;
  containers: unknown[];
  builtin: boolean;
}

const KEYS = ['name', 'id', 'driver', 'label', 'type', 'dangling', 'until'];

/** The -f KEY=VALUE flags grouped by key; an unknown key or a bad value is refused. */
export function parseFilters(flags: readonly string[], allowed: readonly string[] = KEYS): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`bad format of filter (expected name=value): ${f}`);
    const key = f.slice(0, eq).toLowerCase();
    const value = f.slice(eq + 1);
    if (!allowed.includes(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
    if (key === 'type' && value !== 'custom' && value !== 'builtin') throw new InvalidArgumentError(`invalid filter: 'type'='${value}'`);
    if (key === 'dangling' && !['true', 'false', '1', '0'].includes(value)) throw new InvalidArgumentError(`invalid filter 'dangling=${value}'`);
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** A Go-style duration ("1h30m", "90s", "2.5h") in ms; undefined when it is not one. */
function durationMs(s: string): number | undefined {
  const m = /^((?:\d+(?:\.\d+)?(?:h|m|s|ms))+)$/.exec(s);
  if (!m) return undefined;
  let ms = 0;
  for (const [, n, u] of s.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) ms += Number(n) * { h: 3600e3, m: 60e3, s: 1e3, ms: 1 }[u as 'h' | 'm' | 's' | 'ms'];
  return ms;
}

/** `until=` as a point in time (ms since the epoch). */
export function untilTime(v: string, now = Date.now()): number {
  const d = durationMs(v);
  if (d !== undefined) return now - d;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`invalid filter 'until=${v}': want a duration (10m) or a time (2006-01-02T15:04:05Z)`);
  return t;
}

/** Whether one network passes the filters. */
export function matchesFilters(n: FilterableNetwork, filters: Map<string, string[]>, now = Date.now()): boolean {
  const any = (key: string, test: (v: string) => boolean) => !filters.has(key) || filters.get(key)!.some(test);
  return (
    any('name', (v) => n.name.includes(v)) &&
    any('id', (v) => n.id.startsWith(v)) &&
    any('driver', (v) => n.driver === v) &&
    any('type', (v) => (v === 'builtin') === n.builtin) &&
    any('dangling', (v) => (v === 'true' || v === '1') === (n.containers.length === 0)) &&
    any('until', (v) => Date.parse(n.created) < untilTime(v, now)) &&
    (filters.get('label') ?? []).every((v) => {
      const eq = v.indexOf('=');
      return eq < 0 ? v in n.labels : n.labels[v.slice(0, eq)] === v.slice(eq + 1);
    })
  );
}
