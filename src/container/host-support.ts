// Spec fields whose effect depends on what the host has, treated as runc treats them when the
// host lacks it (runc libcontainer/configs/validate):
//  - selinuxLabel / mountLabel with SELinux off: an error ("selinux label is specified in config,
//    but selinux is disabled or not supported").
//  - apparmorProfile with AppArmor off: ignored, as runc's apparmor.ApplyProfile does.
//  - intelRdt without resctrl mounted: an error.
import { existsSync, readFileSync } from 'node:fs';
import { TsrunError } from '../errors.js';
import type { Process, Spec } from '../spec/types.js';

export function selinuxEnabled(): boolean {
  return existsSync('/sys/fs/selinux/enforce');
}

export function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

export function resctrlMounted(): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').includes(' - resctrl ');
  } catch {
    return false;
  }
}

/** Problems with the LSM and RDT fields on this host; applying a label or profile is not built. */
export function checkHostSupport(spec: Spec, proc: Process | undefined = spec.process): string[] {
  const problems: string[] = [];
  const labelled = proc?.selinuxLabel || spec.linux?.mountLabel;
  if (labelled && !selinuxEnabled()) problems.push('selinux label is specified in config, but selinux is disabled or not supported');
  else if (labelled) problems.push('process.selinuxLabel: applying SELinux labels is not implemented by tsrun');
  if (proc?.apparmorProfile && apparmorEnabled()) problems.push('process.apparmorProfile: applying AppArmor profiles is not implemented by tsrun');
  if (spec.linux?.intelRdt && !resctrlMounted()) problems.push('intelRdt is specified in config, but Intel RDT is not supported or enabled');
  else if (spec.linux?.intelRdt) problems.push('linux.intelRdt: resctrl groups are not implemented by tsrun');
  return problems;
}

export function assertHostSupport(spec: Spec, proc?: Process): void {
  const problems = checkHostSupport(spec, proc);
  if (problems.length) throw new TsrunError('TSRUN_UNSUPPORTED', problems.join('; '));
}
