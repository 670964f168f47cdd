// memory controller (cgroup-v2.rst "Memory"): limit → memory.max, reservation → memory.low,
// swap (memory+swap in the spec) → memory.swap.max = swap - limit, as runc fs2 setMemory.
// kernel, kernelTCP, swappiness and disableOOMKiller have no v2 file: runc ignores them on v2
// (kernel memory is accounted with the rest in memory.max), and so does tsrun.
import { CgroupError } from '../errors.js';
import type { LinuxMemory } from '../spec/types.js';
import { numToStr, swapToV2 } from './convert.js';
import { isErrno, parseSingle, readCgroupFile, writeCgroupFile } from './files.js';

export function memoryNeeded(m: LinuxMemory | undefined): boolean {
  return !!m && !!(m.limit || m.reservation || m.swap);
}

/** checkBeforeUpdate (runtime-spec 1.1): refuse a limit below what the cgroup already uses. */
export function checkMemoryUsage(dir: string, m: LinuxMemory): void {
  if (!m.checkBeforeUpdate || !m.limit || m.limit <= 0) return;
  const usage = parseSingle(readCgroupFile(dir, 'memory.current')) ?? 0;
  if (m.limit <= usage) {
    throw new CgroupError(`cgroup ${dir}: rejecting memory limit ${m.limit} below current usage ${usage} (checkBeforeUpdate)`);
  }
}

export function setMemory(dir: string, m: LinuxMemory | undefined): void {
  if (!m || !memoryNeeded(m)) return;
  checkMemoryUsage(dir, m);
  const swap = swapToV2(m.swap ?? 0, m.limit ?? 0);
  let swapStr = numToStr(swap);
  // memory and memory+swap equal: no swap at all (never write "", the kernel reads it as 0).
  if (swapStr === '' && swap === 0 && (m.swap ?? 0) > 0) swapStr = '0';
  if (swapStr !== '') {
    try {
      writeCgroupFile(dir, 'memory.swap.max', swapStr);
    } catch (err) {
      // No swap accounting (CONFIG_MEMCG_SWAP off): "max" and "0" ask for nothing that exists.
      if (!(isErrno(err, 'ENOENT') && (swapStr === 'max' || swapStr === '0'))) throw err;
    }
  }
  const max = numToStr(m.limit);
  if (max) writeCgroupFile(dir, 'memory.max', max);
  const low = numToStr(m.reservation);
  if (low) writeCgroupFile(dir, 'memory.low', low);
}
