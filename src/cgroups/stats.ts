// Container statistics from cgroup v2 files, in the JSON shape of runc's `events` (runc
// types/events.go Stats, filled as runc's convertLibcontainerStats and fs2 stat* do). Go's
// uint64 "max" (no limit) is 2^64-1, which a JS number cannot hold: such values are bigint here
// and statsJson writes them as the exact integer.
import { readdirSync } from 'node:fs';
import { parseKeyValues, parseSingle, readOptional } from './files.js';

export const U64_MAX = 18446744073709551615n;
type U64 = number | bigint;

export interface Stats {
  cpu: { usage: { total?: number; kernel: number; user: number }; throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number } };
  cpuset: Record<string, unknown>;
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: U64 };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, { usage?: number; max?: U64; failcnt: number }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

export interface MemoryEntry {
  limit: U64;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: number;
}

/** omitempty: Go drops zero numbers and empty slices from the JSON. */
function omitEmpty<T extends object>(o: T, keep: string[] = []): T {
  for (const [k, v] of Object.entries(o)) {
    if (keep.includes(k)) continue;
    if (v === 0 || v === 0n || v === undefined || (Array.isArray(v) && v.length === 0)) delete (o as Record<string, unknown>)[k];
  }
  return o;
}

const ENTRY = ['limit', 'failcnt'];

function limitOf(text: string | undefined): U64 {
  const v = text?.trim();
  if (v === undefined || v === '') return 0;
  return v === 'max' ? U64_MAX : Number(v);
}

function memoryStats(dir: string): Stats['memory'] {
  const raw = parseKeyValues(readOptional(dir, 'memory.stat'));
  const usage = parseSingle(readOptional(dir, 'memory.current')) ?? 0;
  const limit = limitOf(readOptional(dir, 'memory.max'));
  const events = parseKeyValues(readOptional(dir, 'memory.events'));
  const peak = parseSingle(readOptional(dir, 'memory.peak'));
  const swapUsage = parseSingle(readOptional(dir, 'memory.swap.current'));
  const swapLimit = limitOf(readOptional(dir, 'memory.swap.max'));
  // runc reports swap as memory+swap, as v1 did: usage and limit include the memory's.
  const combinedLimit: U64 = swapLimit !== U64_MAX && limit !== U64_MAX ? Number(swapLimit) + Number(limit) : U64_MAX;
  return omitEmpty(
    {
      cache: raw.file ?? 0,
      usage: omitEmpty({ limit, usage, max: peak ?? 0, failcnt: events.max ?? 0 }, ENTRY),
      swap: omitEmpty(
        { limit: swapUsage === undefined ? 0 : combinedLimit, usage: (swapUsage ?? 0) + (swapUsage === undefined ? 0 : usage), failcnt: 0 },
        ENTRY,
      ),
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      raw: Object.keys(raw).length ? raw : undefined,
    },
    ['usage', 'swap', 'kernel', 'kernelTCP'],
  ) as Stats['memory'];
}

function cpuStats(dir: string): Stats['cpu'] {
  const s = parseKeyValues(readOptional(dir, 'cpu.stat'));
  return {
    usage: omitEmpty({ total: (s.usage_usec ?? 0) * 1000, kernel: (s.system_usec ?? 0) * 1000, user: (s.user_usec ?? 0) * 1000 }, ['kernel', 'user']),
    throttling: omitEmpty({ periods: s.nr_periods ?? 0, throttledPeriods: s.nr_throttled ?? 0, throttledTime: (s.throttled_usec ?? 0) * 1000 }),
  };
}

/** io.stat "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.." → v1-style blkio entries (runc fs2 statIo). */
function blkioStats(dir: string): Stats['blkio'] {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (readOptional(dir, 'io.stat') ?? '').split('\n')) {
    const [dev, ...fields] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const major = Number(m[1]);
    const minor = Number(m[2]);
    for (const f of fields) {
      const [k, v] = f.split('=');
      const value = Number(v);
      if (k === 'rbytes') bytes.push(omitEmpty({ major, minor, op: 'Read', value }));
      else if (k === 'wbytes') bytes.push(omitEmpty({ major, minor, op: 'Write', value }));
      else if (k === 'rios') ios.push(omitEmpty({ major, minor, op: 'Read', value }));
      else if (k === 'wios') ios.push(omitEmpty({ major, minor, op: 'Write', value }));
    }
  }
  return omitEmpty({ ioServiceBytesRecursive: bytes, ioServicedRecursive: ios });
}

/** Page sizes as the hugetlb controller names them ("2MB", "1GB"), from /sys/kernel/mm/hugepages. */
export function hugePageSizes(): string[] {
  try {
    return readdirSync('/sys/kernel/mm/hugepages').map((d) => {
      const kb = Number(/hugepages-(\d+)kB/.exec(d)?.[1] ?? 0);
      if (kb >= 1 << 20) return `${kb >> 20}GB`;
      if (kb >= 1 << 10) return `${kb >> 10}MB`;
      return `${kb}KB`;
    });
  } catch {
    return [];
  }
}

function hugetlbStats(dir: string): Stats['hugetlb'] {
  const out: Stats['hugetlb'] = {};
  for (const size of hugePageSizes()) {
    const usage = readOptional(dir, `hugetlb.${size}.current`);
    if (usage === undefined) continue;
    const events = parseKeyValues(readOptional(dir, `hugetlb.${size}.events`));
    out[size] = omitEmpty({ usage: Number(usage.trim()), max: limitOf(readOptional(dir, `hugetlb.${size}.max`)), failcnt: events.max ?? 0 }, ['failcnt']);
  }
  return out;
}

export function readStats(dir: string): Stats {
  return {
    cpu: cpuStats(dir),
    cpuset: {
      cpu_exclusive: 0,
      mem_hardwall: 0,
      mem_exclusive: 0,
      memory_migrate: 0,
      memory_spread_page: 0,
      memory_spread_slab: 0,
      memory_pressure: 0,
      sched_load_balance: 0,
      sched_relax_domain_level: 0,
    },
    memory: memoryStats(dir),
    pids: omitEmpty({ current: parseSingle(readOptional(dir, 'pids.current')) ?? 0, limit: limitOf(readOptional(dir, 'pids.max')) }),
    blkio: blkioStats(dir),
    hugetlb: hugetlbStats(dir),
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** JSON with bigints written as exact integers (Go's uint64 max for "no limit"). */
export function statsJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000u64:${v}` : v), space).replace(/"\\u0000u64:(\d+)"/g, '$1');
}
