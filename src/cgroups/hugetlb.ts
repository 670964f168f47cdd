// hugetlb controller (cgroup-v2.rst "HugeTLB"): hugetlb.<size>.max, and the reservation limit
// hugetlb.<size>.rsvd.max (Linux 5.7) with the same value, as runc ≥ 1.1.10 writes it; a kernel
// without rsvd files is not an error.
import type { LinuxHugepageLimit } from '../spec/types.js';
import { isErrno, writeCgroupFile } from './files.js';

export function hugetlbNeeded(h: LinuxHugepageLimit[] | undefined): boolean {
  return !!h?.length;
}

export function setHugetlb(dir: string, limits: LinuxHugepageLimit[] | undefined): void {
  let rsvd = true;
  for (const h of limits ?? []) {
    const prefix = `hugetlb.${h.pageSize}`;
    writeCgroupFile(dir, `${prefix}.max`, String(h.limit));
    if (!rsvd) continue;
    try {
      writeCgroupFile(dir, `${prefix}.rsvd.max`, String(h.limit));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      rsvd = false;
    }
  }
}
