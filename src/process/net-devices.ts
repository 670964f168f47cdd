// linux.netDevices (config-linux.md, spec 1.3.0): host interfaces moved into the container's new
// network namespace, renamed when `name` is given. Done by the parent once the namespace exists,
// with iproute2's `ip` (netlink is not worth hand-writing here), run on the event loop. The move
// is undone by the kernel when the namespace dies: physical devices return to the initial one.
import { TsrunError } from '../errors.js';
import type { LinuxNetDevice } from '../spec/types.js';

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // node:child_process on first use: create loads this module for every container, few move devices.
    process.getBuiltinModule('node:child_process').execFile('ip', [...args], { encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      reject(new Error(typeof code === 'string' ? err.message : stderr.trim() || `exit status ${String(code)}`, { cause: err }));
    });
  });
}

export async function moveNetDevices(devices: Record<string, LinuxNetDevice> | undefined, pid: number): Promise<void> {
  for (const [host, d] of Object.entries(devices ?? {})) {
    const args = ['link', 'set', 'dev', host, 'netns', String(pid)];
    if (d.name && d.name !== host) args.push('name', d.name);
    try {
      await ip(args);
    } catch (err) {
      throw new TsrunError('TSRUN_CHILD_SETUP', `linux.netDevices: move ${host} into the container: ${(err as Error).message}`, { cause: err });
    }
  }
}
