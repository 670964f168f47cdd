// rdma controller (cgroup-v2.rst "RDMA"): one rdma.max line per HCA device,
// "mlx4_0 hca_handle=2 hca_object=2000", with only the fields the spec sets (runc RdmaSet).
import type { LinuxRdma } from '../spec/types.js';
import { writeCgroupFile } from './files.js';

export function rdmaNeeded(r: Record<string, LinuxRdma> | undefined): boolean {
  return !!r && Object.keys(r).length > 0;
}

export function rdmaLine(device: string, l: LinuxRdma): string {
  let line = device;
  if (l.hcaHandles !== undefined && l.hcaHandles !== null) line += ` hca_handle=${l.hcaHandles}`;
  if (l.hcaObjects !== undefined && l.hcaObjects !== null) line += ` hca_object=${l.hcaObjects}`;
  return line;
}

export function setRdma(dir: string, r: Record<string, LinuxRdma> | undefined): void {
  for (const [device, limits] of Object.entries(r ?? {})) writeCgroupFile(dir, 'rdma.max', rdmaLine(device, limits));
}
