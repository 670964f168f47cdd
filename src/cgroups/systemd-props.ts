// What the systemd driver asks systemd for: the unit's name and cgroup from cgroupsPath
// ("slice:prefix:name", runc's systemd driver), and the limits systemd has properties for
// (systemd.resource-control(5)), converted as runc's systemd v2 driver converts them. Pure
// functions, so the mapping is unit-tested without a bus.
import path from 'node:path';
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { sharesToWeight, swapToV2 } from './convert.js';

/** [name, D-Bus signature, value]: a unit property as StartTransientUnit takes it (a(sv)). */
export type UnitProperty = [string, string, unknown];

export const U64_MAX = 18446744073709551615n;

export interface SystemdPath {
  slice: string;
  unit: string;
}

/** runc: "slice:prefix:name"; an empty slice is system.slice; the unit is prefix-name.scope. */
export function parseSystemdPath(cgroupsPath: string | undefined, id: string): SystemdPath {
  const parts = (cgroupsPath || `:tsrun:${id}`).split(':');
  if (parts.length !== 3) {
    throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)}: with --systemd-cgroup it must be "slice:prefix:name", e.g. "system.slice:tsrun:${id}"`);
  }
  const [slice, prefix, name] = parts as [string, string, string];
  if (!name) throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)}: the unit name part is empty`);
  if (name.endsWith('.slice'))
    throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)}: a slice as the container's unit is not supported by tsrun (use a scope name)`);
  const unit = name.endsWith('.scope') ? name : prefix ? `${prefix}-${name}.scope` : `${name}.scope`;
  if (!/^[\w:.\-\\@]+$/.test(unit)) throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)}: invalid unit name ${JSON.stringify(unit)}`);
  return { slice: slice || 'system.slice', unit };
}

/** systemd.slice(5): "a-b-c.slice" lives at /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root. */
export function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || slice.includes('/')) throw new CgroupError(`invalid slice name ${JSON.stringify(slice)}`);
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  if (base === '' || base.startsWith('-') || base.endsWith('-') || base.includes('--')) throw new CgroupError(`invalid slice name ${JSON.stringify(slice)}`);
  let out = '';
  let prefix = '';
  for (const comp of base.split('-')) {
    prefix = prefix ? `${prefix}-${comp}` : comp;
    out += `/${prefix}.slice`;
  }
  return out;
}

export function unitCgroupDir(root: string, p: SystemdPath): string {
  return path.join(root, expandSlice(p.slice), p.unit);
}

/** A cpu list ("0-3,7") as the little-endian byte mask AllowedCPUs/AllowedMemoryNodes take. */
export function cpuMask(list: string): number[] {
  const bytes: number[] = [];
  for (const part of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    if (!Number.isInteger(a) || (b !== undefined && (!Number.isInteger(b) || b < a))) throw new CgroupError(`invalid cpu list ${JSON.stringify(list)}`);
    for (let i = a; i <= (b ?? a); i++) {
      while (bytes.length <= i >> 3) bytes.push(0);
      bytes[i >> 3]! |= 1 << (i & 7);
    }
  }
  return bytes;
}

const u64 = (v: number) => (v === -1 ? U64_MAX : BigInt(v));

/** The limits expressed as unit properties; everything else is written to the delegated cgroup. */
export function resourceProperties(r: LinuxResources | undefined): UnitProperty[] {
  const props: UnitProperty[] = [];
  if (!r) return props;
  const m = r.memory;
  if (m?.limit) props.push(['MemoryMax', 't', u64(m.limit)]);
  if (m?.reservation) props.push(['MemoryLow', 't', u64(m.reservation)]);
  if (m && (m.swap || m.limit === -1)) {
    const swap = swapToV2(m.swap ?? 0, m.limit ?? 0);
    if (swap !== 0 || (m.swap ?? 0) > 0) props.push(['MemorySwapMax', 't', u64(swap)]);
  }
  const c = r.cpu;
  if (c?.shares) props.push(['CPUWeight', 't', BigInt(sharesToWeight(c.shares))]);
  if (c && (c.quota || c.period)) {
    const period = c.period || 100000;
    // systemd ≥ 242; the quota per second is rounded up to 10 ms as systemd stores it (runc).
    props.push(['CPUQuotaPeriodUSec', 't', BigInt(period)]);
    if (c.quota && c.quota > 0) {
      let perSec = Math.floor((c.quota * 1_000_000) / period);
      if (perSec % 10000) perSec = (Math.floor(perSec / 10000) + 1) * 10000;
      props.push(['CPUQuotaPerSecUSec', 't', BigInt(perSec)]);
    } else {
      props.push(['CPUQuotaPerSecUSec', 't', U64_MAX]);
    }
  }
  if (c?.cpus) props.push(['AllowedCPUs', 'ay', cpuMask(c.cpus)]);
  if (c?.mems) props.push(['AllowedMemoryNodes', 'ay', cpuMask(c.mems)]);
  const limit = r.pids?.limit;
  if (limit !== undefined && limit !== null) props.push(['TasksMax', 't', limit < 0 ? U64_MAX : BigInt(limit)]);
  return props;
}

/** Everything StartTransientUnit gets for the container's scope. */
export function scopeProperties(p: SystemdPath, id: string, pid: number, r: LinuxResources | undefined): UnitProperty[] {
  return [
    ['Description', 's', `tsrun container ${id}`],
    ['Slice', 's', p.slice],
    // The container owns its cgroup: tsrun writes the files systemd has no property for.
    ['Delegate', 'b', true],
    ['PIDs', 'au', [pid]],
    ['DefaultDependencies', 'b', false],
    ['MemoryAccounting', 'b', true],
    ['CPUAccounting', 'b', true],
    ['IOAccounting', 'b', true],
    ['TasksAccounting', 'b', true],
    ...resourceProperties(r),
  ];
}
