// Process attributes the init and exec processes get before execve (runtime-spec config.md
// "scheduler", "ioPriority", "execCPUAffinity"; config-linux.md "personality", "memoryPolicy"),
// encoded as the kernel structures the plan interpreter passes to the system calls.
import { InvalidSpecError } from '../errors.js';
import type { LinuxMemoryPolicy, LinuxPersonality, Process } from '../spec/types.js';
import { Op } from './opcodes.js';
import type { PlanBuilder } from './plan-builder.js';

const SCHED_POLICIES: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const PERSONALITIES: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };
const MPOL_MODES: Record<string, number> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};
const MPOL_FLAGS: Record<string, number> = { MPOL_F_NUMA_BALANCING: 1 << 13, MPOL_F_RELATIVE_NODES: 1 << 14, MPOL_F_STATIC_NODES: 1 << 15 };

/** "0-3,7" → a little-endian bit mask, a multiple of 8 bytes long (cpu_set_t / nodemask words). */
export function listToMask(list: string, what: string): Buffer {
  const bits: number[] = [];
  for (const part of list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new InvalidSpecError([`${what}: invalid list "${list}"`]);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo || hi > 8191) throw new InvalidSpecError([`${what}: invalid range "${part}"`]);
    for (let i = lo; i <= hi; i++) bits.push(i);
  }
  const buf = Buffer.alloc(Math.max(8, Math.ceil((Math.max(-1, ...bits) + 1) / 64) * 8));
  for (const b of bits) buf[b >> 3] |= 1 << (b & 7);
  return buf;
}

function schedAttr(s: NonNullable<Process['scheduler']>): Buffer {
  const policy = SCHED_POLICIES[s.policy];
  if (policy === undefined) throw new InvalidSpecError([`process.scheduler.policy: unknown policy "${s.policy}"`]);
  let flags = 0;
  for (const f of s.flags ?? []) {
    if (SCHED_FLAGS[f] === undefined) throw new InvalidSpecError([`process.scheduler.flags: unknown flag "${f}"`]);
    flags |= SCHED_FLAGS[f];
  }
  const b = Buffer.alloc(56); // struct sched_attr, SCHED_ATTR_SIZE_VER1 (sched_setattr(2))
  b.writeUInt32LE(56, 0);
  b.writeUInt32LE(policy, 4);
  b.writeBigUInt64LE(BigInt(flags), 8);
  b.writeInt32LE(s.nice ?? 0, 16);
  b.writeUInt32LE(s.priority ?? 0, 20);
  b.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  b.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  b.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return b;
}

/** Scheduler, I/O priority, personality, memory policy and the initial CPU affinity. */
export function emitProcessAttrs(b: PlanBuilder, proc: Process, personality?: LinuxPersonality, mempolicy?: LinuxMemoryPolicy): void {
  if (proc.execCPUAffinity?.initial) {
    const [off, len] = b.blob(listToMask(proc.execCPUAffinity.initial, 'process.execCPUAffinity.initial'));
    b.op(`set the initial CPU affinity ${proc.execCPUAffinity.initial}`, Op.AFFINITY, off, len);
  }
  if (personality) {
    const p = PERSONALITIES[personality.domain];
    if (p === undefined) throw new InvalidSpecError([`linux.personality.domain: unknown domain "${personality.domain}"`]);
    b.op(`set personality ${personality.domain}`, Op.PERSONALITY, p);
  }
  if (proc.scheduler) {
    const [off, len] = b.blob(schedAttr(proc.scheduler));
    b.op(`sched_setattr ${proc.scheduler.policy}`, Op.SCHED_SETATTR, off, len);
  }
  if (proc.ioPriority) {
    const cls = IOPRIO_CLASSES[proc.ioPriority.class];
    if (cls === undefined) throw new InvalidSpecError([`process.ioPriority.class: unknown class "${proc.ioPriority.class}"`]);
    b.op(`ioprio_set ${proc.ioPriority.class} ${proc.ioPriority.priority}`, Op.IOPRIO, (cls << 13) | (proc.ioPriority.priority & 0x1fff));
  }
  if (mempolicy) {
    const mode = MPOL_MODES[mempolicy.mode];
    if (mode === undefined) throw new InvalidSpecError([`linux.memoryPolicy.mode: unknown mode "${mempolicy.mode}"`]);
    let flags = 0;
    for (const f of mempolicy.flags ?? []) {
      if (MPOL_FLAGS[f] === undefined) throw new InvalidSpecError([`linux.memoryPolicy.flags: unknown flag "${f}"`]);
      flags |= MPOL_FLAGS[f];
    }
    const mask = mempolicy.nodes ? listToMask(mempolicy.nodes, 'linux.memoryPolicy.nodes') : Buffer.alloc(0);
    const [off, len] = mask.length ? b.blob(mask) : [0, 0];
    b.op(`set_mempolicy ${mempolicy.mode}`, Op.MEMPOLICY, mode | flags, off, len);
  }
}

/** The final CPU affinity, set just before execve. */
export function emitFinalAffinity(b: PlanBuilder, proc: Process): void {
  if (!proc.execCPUAffinity?.final) return;
  const [off, len] = b.blob(listToMask(proc.execCPUAffinity.final, 'process.execCPUAffinity.final'));
  b.op(`set the final CPU affinity ${proc.execCPUAffinity.final}`, Op.AFFINITY, off, len);
}
