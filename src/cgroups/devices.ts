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

/**
 * Installs the filter for `devices` on the cgroup and detaches the ones it replaces. Returns the
 * id of the program it attached (undefined when the kernel cannot say), so that whoever made the
 * cgroup can detach it again if the create fails (detachDevicePrograms): a cgroup tsrun did not
 * make outlives the failed create, and a default-deny program left on it would take every
 * device from the processes there.
 */
export function setDevices(dir: string, devices: readonly LinuxDeviceCgroup[] | undefined): number | undefined {
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
    let attached: number | undefined;
    try {
      bpf().bpfProgAttach(prog, cg, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
      try {
        attached = bpf()
          .bpfProgQuery(cg, BPF_CGROUP_DEVICE)
          .find((id) => !old.includes(id));
      } catch {
        /* no query: the id stays unknown */
      }
    } catch (err) {
      throw new CgroupError(`cgroup ${dir}: attach the device filter (eBPF): ${code(err)}`, { cause: err });
    } finally {
      closeSync(prog);
    }
    try {
      detachAll(dir, cg, old, 'the old device filter');
    } catch (err) {
      // Neither half-way state is safe to leave: the new filter goes again and the error stands.
      if (attached !== undefined) {
        try {
          detachAll(dir, cg, [attached], 'the new device filter');
        } catch {
          /* reported with the first error */
        }
      }
      throw err;
    }
    return attached;
  } finally {
    closeSync(cg);
  }
}

function detachAll(dir: string, cg: number, ids: readonly number[], what: string): void {
  for (const id of ids) {
    let fd: number;
    try {
      fd = bpf().bpfProgGetFdById(id);
    } catch {
      continue; // gone meanwhile
    }
    try {
      bpf().bpfProgDetach(fd, cg, BPF_CGROUP_DEVICE);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw new CgroupError(`cgroup ${dir}: detach ${what} ${id}: ${code(err)}`, { cause: err });
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Detaches the programs `ids` (which setDevices attached) from the cgroup `dir`; one detached
 * already, or a cgroup already gone, is fine. Tries every id, then throws the first failure.
 */
export function detachDevicePrograms(dir: string, ids: readonly number[]): void {
  if (!ids.length) return;
  let cg: number;
  try {
    cg = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    if (code(err) === 'ENOENT') return; // removed, and its programs with it
    throw new CgroupError(`cgroup ${dir}: open to detach the device filter: ${code(err)}`, { cause: err });
  }
  let first: unknown;
  try {
    for (const id of ids) {
      try {
        detachAll(dir, cg, [id], 'the device filter');
      } catch (err) {
        first ??= err;
      }
    }
  } finally {
    closeSync(cg);
  }
  if (first) throw first;
}
