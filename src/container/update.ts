// update: change a live container's limits (runc update.go). The new values come as a
// LinuxResources JSON (a file, or "-" for stdin: containerd and CRI-O send it that way) or as
// runc's individual flags. As in runc, a zero/absent value leaves that limit as it is, a quota or
// period given alone keeps the other from the config, device rules are not updated, and the
// config kept in the state file records the merged result for later updates.
import { InvalidArgumentError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import { withContainer } from './handle.js';

/** docker/go-units RAMInBytes: "512", "128m", "1.5GiB" with binary multipliers. */
export function ramInBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`invalid size: ${JSON.stringify(v)}`);
  const mult = 1024 ** ' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase());
  return Math.floor(Number(m[1]) * mult);
}

export interface UpdateFlags {
  blkioWeight?: number;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuBurst?: string;
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  cpuIdle?: string;
  pidsLimit?: number;
}

function intFlag(name: string, v: string | undefined, unsigned: boolean): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v) || (unsigned && v.startsWith('-'))) throw new InvalidArgumentError(`invalid value for --${name}: ${JSON.stringify(v)}`);
  return Number(v);
}

function memFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === '-1') return -1;
  try {
    return ramInBytes(v);
  } catch {
    throw new InvalidArgumentError(`invalid value for --${name}: ${JSON.stringify(v)}`);
  }
}

/** runc's individual update flags as a LinuxResources. */
export function resourcesFromFlags(f: UpdateFlags): LinuxResources {
  const r: LinuxResources = { memory: {}, cpu: {}, blockIO: {}, pids: {} };
  if (f.blkioWeight) r.blockIO!.weight = f.blkioWeight;
  if (f.cpusetCpus) r.cpu!.cpus = f.cpusetCpus;
  if (f.cpusetMems) r.cpu!.mems = f.cpusetMems;
  r.cpu!.period = intFlag('cpu-period', f.cpuPeriod, true);
  r.cpu!.realtimePeriod = intFlag('cpu-rt-period', f.cpuRtPeriod, true);
  r.cpu!.shares = intFlag('cpu-share', f.cpuShare, true);
  r.cpu!.quota = intFlag('cpu-quota', f.cpuQuota, false);
  r.cpu!.realtimeRuntime = intFlag('cpu-rt-runtime', f.cpuRtRuntime, false);
  r.cpu!.burst = intFlag('cpu-burst', f.cpuBurst, true);
  r.cpu!.idle = intFlag('cpu-idle', f.cpuIdle, false);
  r.memory!.limit = memFlag('memory', f.memory);
  r.memory!.reservation = memFlag('memory-reservation', f.memoryReservation);
  r.memory!.swap = memFlag('memory-swap', f.memorySwap);
  if (f.pidsLimit !== undefined) r.pids!.limit = f.pidsLimit;
  return r;
}

export function parseResourcesJson(text: string, from: string): LinuxResources {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`resources from ${from}: invalid JSON: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`resources from ${from}: want a JSON object (linux.resources)`);
  return v as LinuxResources;
}

const set = (v: unknown): boolean => v !== undefined && v !== null && v !== 0 && v !== '';

/** Old config + update: fields the update sets win; the rest stay (runc update semantics). */
export function mergeResources(old: LinuxResources | undefined, u: LinuxResources): { merged: LinuxResources; effective: LinuxResources } {
  const merged: LinuxResources = structuredClone(old ?? {});
  const effective: LinuxResources = structuredClone(u);
  delete effective.devices; // runc update never changes device rules
  for (const k of ['memory', 'cpu', 'pids', 'blockIO'] as const) {
    const src = u[k] as Record<string, unknown> | undefined;
    if (!src) continue;
    const dst = ((merged as Record<string, unknown>)[k] ??= {}) as Record<string, unknown>;
    for (const [f, v] of Object.entries(src)) {
      // pids.limit 0 is a real limit (runtime-spec 1.3); cpu idle 0 and burst 0 are values too.
      if (set(v) || (v === 0 && ((k === 'pids' && f === 'limit') || (k === 'cpu' && (f === 'idle' || f === 'burst'))))) dst[f] = v;
    }
  }
  // Quota and period are written together (cpu.max): one given alone keeps the other.
  const ec = effective.cpu;
  if (ec && set(ec.quota) !== set(ec.period)) {
    if (!set(ec.quota) && old?.cpu?.quota) ec.quota = old.cpu.quota;
    if (!set(ec.period) && old?.cpu?.period) ec.period = old.cpu.period;
  }
  for (const k of ['hugepageLimits', 'rdma', 'unified'] as const) {
    if (u[k] !== undefined) (merged as Record<string, unknown>)[k] = structuredClone(u[k]);
  }
  if (u.unified) merged.unified = { ...(old?.unified ?? {}), ...u.unified };
  return { merged, effective };
}

export interface UpdateOptions {
  root: string;
  id: string;
  /** The new limits (readResources or resourcesFromFlags for the CLI's forms). */
  resources: LinuxResources;
}

/** Applies the update through the container's cgroup Manager; returns the merged resources. */
export async function updateContainer(o: UpdateOptions): Promise<LinuxResources> {
  return withContainer(o.root, o.id, { lock: true }, async (h) => {
    h.assert('update');
    const rec = h.record;
    const { merged, effective } = mergeResources(rec.config.linux?.resources, o.resources);
    await h.cgroup.set(effective);
    rec.config.linux = { ...(rec.config.linux ?? {}), resources: merged };
    h.save();
    return merged;
  });
}
