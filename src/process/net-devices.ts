// linux.netDevices (config-linux.md, spec 1.3.0): host interfaces moved into the container's new
// network namespace, renamed when `name` is given. Done by the parent once the namespace exists,
// with iproute2's `ip` (netlink is not worth hand-writing here). The move is undone by the kernel
// when the namespace dies: physical devices return to the initial namespace.
import { spawnSync } from 'node:child_process';
import { TsrunError } from '../errors.js';
import type { LinuxNetDevice } from '../spec/types.js';

export function moveNetDevices(devices: Record<string, LinuxNetDevice> | undefined, pid: number): void {
  for (const [host, d] of Object.entries(devices ?? {})) {
    const args = ['link', 'set', 'dev', host, 'netns', String(pid)];
    if (d.name && d.name !== host) args.push('name', d.name);
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : r.stderr.trim() || `exit status ${r.status}`;
      throw new TsrunError('TSRUN_CHILD_SETUP', `linux.netDevices: move ${host} into the container: ${why}`);
    }
  }
}
