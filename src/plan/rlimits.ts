// process.rlimits → prlimit64 resources (getrlimit(2), asm-generic/resource.h numbering).
export const RLIMIT_NUMBERS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

export const RLIM_INFINITY = 0xffffffffffffffffn;

/** A limit from config.json as the kernel's u64 (values ≥ 2^64-1, or negative, mean infinity). */
export function rlimitValue(v: number): bigint {
  if (!Number.isFinite(v) || v < 0 || v >= 2 ** 64 - 1) return RLIM_INFINITY;
  return BigInt(Math.floor(v));
}

/**
 * The RLIMIT_NOFILE the caller had before Node raised the soft limit to the hard one at
 * start-up (node.cc PlatformInit). bin/tsrun records it in TSRUN_NOFILE as "soft:hard" (or the two on two lines: one subshell for both).
 */
export function callerNofile(env: NodeJS.ProcessEnv = process.env): { soft: bigint; hard: bigint } | undefined {
  const m = /^(\d+|unlimited)[:\n](\d+|unlimited)$/.exec(env.TSRUN_NOFILE ?? '');
  if (!m) return undefined;
  const v = (s: string) => (s === 'unlimited' ? RLIM_INFINITY : BigInt(s));
  return { soft: v(m[1]), hard: v(m[2]) };
}
