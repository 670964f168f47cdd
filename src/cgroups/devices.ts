// Applies linux.resources.devices to a cgroup v2 directory: the rule set (device-rules.ts)
// assembled into an eBPF program (device-bpf.ts), loaded and attached by the addon. A new program
// is attached with BPF_F_ALLOW_MULTI before the old ones are detached, so an update never leaves
// the container unfiltered, even for an instant (runc does the same).
import { closeSync, constants, openSync } from 'node:fs';
import { CgroupError } from '../errors.js';
import { addon } from '../sys/addon.js';
import type { LinuxDeviceCgroup } from '../spec/types.js';
import { BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_DEVICE, deviceFilterProgram, encodeProgram } from './device-bpf.js';
import { deviceRuleSet } from './device-rules.js';

interface BpfAddon {
  bpfProgLoad(insns: Buffer, license: string, progType: number): number;
  bpfProgAttach(progFd: number, targetFd: number, attachType: number, flags: number): void;
  bpfProgDetach(progFd: number, targetFd: number, attachType: number): void;
  bpfProgQuery(targetFd: number, attachType: number): number[];
  bpfProgGetFdById(id: number): number;
}

function bpf(): BpfAddon {
  return addon() as unknown as BpfAddon;
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

/** The compiled filter for a device list: what setDevices loads. */
export function deviceProgramFor(devices: readonly LinuxDeviceCgroup[] | undefined): Buffer {
  return encodeProgram(deviceFilterProgram(deviceRuleSet(devices)));
}

/** Ids of the device programs attached to the cgroup (tsrun's own and anyone else's). */
export function attachedDevicePrograms(dir: string): number[] {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return bpf().bpfProgQuery(fd, BPF_CGROUP_DEVICE);
  } finally {
    closeSync(fd);
  }
}

/**
 * The verifier gives up with EAGAIN when a signal is pending (kernel/bpf/verifier.c do_check), and
 * a service gets SIGCHLD for every container that exits: retry as libbpf's sys_bpf_prog_load does.
 */
function loadRetrying(insns: Parameters<ReturnType<typeof bpf>['bpfProgLoad']>[0]): number {
  for (let attempt = 1; ; attempt++) {
    try {
      return bpf().bpfProgLoad(insns, 'Apache', BPF_PROG_TYPE_CGROUP_DEVICE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt >= 5) throw err;
    }
  }
}

export function setDevices(dir: string, devices: readonly LinuxDeviceCgroup[] | undefined): void {
  const insns = deviceProgramFor(devices);
  const cg = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    let old: number[] = [];
    try {
      old = bpf().bpfProgQuery(cg, BPF_CGROUP_DEVICE);
    } catch {
      /* nothing attached, or a kernel without query: attach anyway */
    }
    let prog: number;
    try {
      // The license matters only to GPL-only helpers; this program calls none.
      prog = loadRetrying(insns);
    } catch (err) {
      const log = (err as { verifierLog?: string }).verifierLog;
      throw new CgroupError(`cgroup ${dir}: load the device filter (eBPF): ${code(err)}${log ? `: ${log.trim().split('\n').slice(-3).join(' | ')}` : ''}`, {
        cause: err,
      });
    }
    try {
      bpf().bpfProgAttach(prog, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
    } catch (err) {
      throw new CgroupError(`cgroup ${dir}: attach the device filter (eBPF): ${code(err)}`, { cause: err });
    } finally {
      closeSync(prog);
    }
    for (const id of old) {
      let fd: number;
      try {
        fd = bpf().bpfProgGetFdById(id);
      } catch {
        continue; // gone meanwhile
      }
      try {
        bpf().bpfProgDetach(fd, cg, BPF_CGROUP_DEVICE);
      } catch (err) {
        if (code(err) !== 'ENOENT') throw new CgroupError(`cgroup ${dir}: detach the old device filter ${id}: ${code(err)}`, { cause: err });
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    closeSync(cg);
  }
}
