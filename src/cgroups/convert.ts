// The v1-shaped runtime-spec values converted to cgroup v2 files as runc converts them
// (opencontainers/cgroups utils.go; runc HEAD), so a container gets the same numbers under
// tsrun as under runc.
import { CgroupError } from '../errors.js';

/**
 * cpu.shares [2, 262144] → cpu.weight [1, 10000]. runc PR#4785 (kubernetes#131216) replaced the
 * linear map by a quadratic in log2(shares) that keeps the defaults aligned: 1024 → 100.
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(10 ** exponent);
}

/** blkio.weight [10, 1000] → io.weight [1, 10000] (runc ConvertBlkIOToIOWeightValue). */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * memory.swap in the spec is memory+swap (the v1 memsw limit); v2's memory.swap.max is swap
 * alone, so it is swap - limit (runc ConvertMemorySwapToCgroupV2Value). -1 is "max", 0 unset.
 */
export function swapToV2(swap: number, limit: number): number {
  if (limit === -1 && swap === 0) return -1; // v1 compatibility: unlimited memory, unlimited swap
  if (swap === -1 || swap === 0) return swap;
  if (limit === 0 || limit === -1) throw new CgroupError('linux.resources.memory.swap: unable to set swap limit without memory limit');
  if (limit < 0) throw new CgroupError(`linux.resources.memory.limit: invalid memory value: ${limit}`);
  if (swap < limit) throw new CgroupError(`linux.resources.memory.swap: memory+swap limit (${swap}) should be >= memory limit (${limit})`);
  return swap - limit;
}

/** runc fs2 numToStr: 0 means "leave alone", -1 means "max". */
export function numToStr(v: number | undefined): string {
  if (!v) return '';
  if (v === -1) return 'max';
  return String(v);
}
