// io controller (cgroup-v2.rst "IO"), as runc fs2 setIo: the weight goes to io.bfq.weight
// unchanged when BFQ's per-device weights exist (kernel ≥ 5.4, the file starts with "default"),
// else converted to io.weight; weightDevice only exists with BFQ ("MAJ:MIN WEIGHT"); each throttle
// entry is one io.max line "MAJ:MIN rbps=N" (wbps, riops, wiops).
import type { LinuxBlockIO, LinuxThrottleDevice } from '../spec/types.js';
import { blkioToIoWeight } from './convert.js';
import { readOptional, writeCgroupFile } from './files.js';

const THROTTLES: [keyof LinuxBlockIO, string][] = [
  ['throttleReadBpsDevice', 'rbps'],
  ['throttleWriteBpsDevice', 'wbps'],
  ['throttleReadIOPSDevice', 'riops'],
  ['throttleWriteIOPSDevice', 'wiops'],
];

export function ioNeeded(b: LinuxBlockIO | undefined): boolean {
  if (!b) return false;
  return !!b.weight || !!b.weightDevice?.length || THROTTLES.some(([k]) => (b[k] as unknown[] | undefined)?.length);
}

export function ioMaxLine(t: LinuxThrottleDevice, key: string): string {
  return `${t.major}:${t.minor} ${key}=${t.rate}`;
}

export function setIo(dir: string, b: LinuxBlockIO | undefined): void {
  if (!b || !ioNeeded(b)) return;
  let bfq = false;
  if (b.weight || b.weightDevice?.length) bfq = (readOptional(dir, 'io.bfq.weight') ?? '').startsWith('default ');
  if (b.weight) {
    if (bfq) writeCgroupFile(dir, 'io.bfq.weight', String(b.weight));
    else writeCgroupFile(dir, 'io.weight', String(blkioToIoWeight(b.weight)));
  }
  if (bfq) {
    for (const wd of b.weightDevice ?? []) {
      if (wd.weight) writeCgroupFile(dir, 'io.bfq.weight', `${wd.major}:${wd.minor} ${wd.weight}`);
    }
  }
  for (const [field, key] of THROTTLES) {
    for (const t of (b[field] as LinuxThrottleDevice[] | undefined) ?? []) writeCgroupFile(dir, 'io.max', ioMaxLine(t, key));
  }
}
