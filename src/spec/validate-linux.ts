// The `linux` section of config.json (runtime-spec config-linux.md), with runc's semantic rules
// (libcontainer/specconv/spec_linux.go, libcontainer/configs/validate/validator.go).

import {
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  ROOTFS_PROPAGATIONS,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHS,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from './known-names.js';
import { NAMESPACE_TYPES, type LinuxIDMapping, type NamespaceType } from './types.js';
import { Checker, I64, U32, U64, isAbs, isCpuList, type Obj } from './validate-check.js';
import { validateResources } from './validate-resources.js';
import { quote } from './cut.js';

/** Validate `linux`; returns the set of namespace types the container gets (for cross-checks). */
export function validateLinux(c: Checker, linux: Obj | undefined): Set<NamespaceType> {
  const ns = new Set<NamespaceType>();
  if (!linux) return ns;
  const p = c.p;
  const paths = new Map<NamespaceType, string>();
  c.eachObject('linux.namespaces', linux.namespaces, (n, path) => {
    const type = c.oneOf(`${path}.type`, n.type, NAMESPACE_TYPES, 'namespace type', true) as NamespaceType | undefined;
    // A namespace to join must be named by an absolute path (config-linux.md "Namespaces").
    const nsPath = c.absPath(`${path}.path`, n.path);
    if (type === undefined) return;
    // runc specconv: "malformed spec file: duplicated ns".
    if (ns.has(type)) p.err(`${path}.type`, `duplicate namespace type ${quote(type)}`);
    ns.add(type);
    if (nsPath) paths.set(type, nsPath);
  });

  const uid = validateIdMappings(c, 'linux.uidMappings', linux.uidMappings);
  const gid = validateIdMappings(c, 'linux.gidMappings', linux.gidMappings);
  const hasMappings = uid !== undefined || gid !== undefined;
  // runc validator.go namespaces(): mappings iff a new user namespace.
  if (ns.has('user')) {
    if (!paths.has('user') && !hasMappings) {
      p.err('linux.namespaces', 'user namespaces enabled, but no namespace path to join nor mappings to apply specified');
    }
    if (paths.has('user') && hasMappings) {
      p.warn('linux.uidMappings', 'a user namespace path and mappings are both given; the mappings must match the joined namespace');
    }
    if (!paths.has('user') && (!uid?.length || !gid?.length)) {
      p.err('linux', 'a new user namespace needs both uidMappings and gidMappings');
    }
  } else if (hasMappings) {
    p.err(uid !== undefined ? 'linux.uidMappings' : 'linux.gidMappings', "user namespace mappings specified, but user namespace isn't enabled in the config");
  }

  const offsets = c.object('linux.timeOffsets', linux.timeOffsets);
  if (offsets) {
    for (const [clock, v] of Object.entries(offsets)) {
      const path = `linux.timeOffsets.${clock}`;
      // time_namespaces(7): only CLOCK_MONOTONIC and CLOCK_BOOTTIME can be offset.
      if (clock !== 'monotonic' && clock !== 'boottime') p.err(path, `unknown clock ${quote(clock)} (want monotonic or boottime)`);
      const o = c.object(path, v, true);
      if (o) {
        c.int(`${path}.secs`, o.secs, I64);
        c.int(`${path}.nanosecs`, o.nanosecs, [0, 999_999_999]);
      }
    }
    if (!ns.has('time')) p.err('linux.timeOffsets', "time namespace offsets specified, but time namespace isn't enabled in the config");
    else if (paths.has('time'))
      p.err('linux.timeOffsets', 'time namespace enabled, but both namespace path and time offsets specified -- you may only provide one');
  }

  validateSysctl(c, c.stringMap('linux.sysctl', linux.sysctl), ns);
  validateResources(c, c.object('linux.resources', linux.resources));
  c.string('linux.cgroupsPath', linux.cgroupsPath);

  c.eachObject('linux.devices', linux.devices, (d, path) => {
    c.absPath(`${path}.path`, d.path, true);
    // mknod(1) types; runc stringToDeviceRune. c/b/u need major and minor (config-linux.md "Devices").
    const type = c.oneOf(`${path}.type`, d.type, ['c', 'b', 'u', 'p'], 'device type', true);
    c.int(`${path}.major`, d.major, I64);
    c.int(`${path}.minor`, d.minor, I64);
    if (type !== undefined && type !== 'p' && (d.major == null || d.minor == null)) {
      p.err(path, `device type ${type} needs major and minor numbers`);
    }
    c.int(`${path}.fileMode`, d.fileMode, [0, 0o7777]);
    c.int(`${path}.uid`, d.uid, U32);
    c.int(`${path}.gid`, d.gid, U32);
  });

  const netDevices = c.object('linux.netDevices', linux.netDevices);
  if (netDevices) {
    for (const [name, v] of Object.entries(netDevices)) {
      const path = `linux.netDevices.${name}`;
      if (!isValidIfName(name)) p.err(path, `invalid network device name ${quote(name)}`);
      const o = c.object(path, v, true);
      const newName = o ? c.string(`${path}.name`, o.name) : undefined;
      if (newName && !isValidIfName(newName)) p.err(`${path}.name`, `invalid network device name ${quote(newName)}`);
    }
    // runc validator.go netdevices().
    if (Object.keys(netDevices).length > 0 && !ns.has('network')) p.err('linux.netDevices', 'unable to move network devices without a NET namespace');
  }

  validateSeccomp(c, c.object('linux.seccomp', linux.seccomp));
  c.oneOf('linux.rootfsPropagation', linux.rootfsPropagation || undefined, ROOTFS_PROPAGATIONS, 'rootfsPropagation');
  const masked = c.strings('linux.maskedPaths', linux.maskedPaths);
  const ro = c.strings('linux.readonlyPaths', linux.readonlyPaths);
  // runc validator.go security(): masking needs a private mount namespace.
  if ((masked?.length || ro?.length) && !ns.has('mount')) {
    p.err('linux.maskedPaths', 'unable to restrict sys entries without a private MNT namespace');
  }
  c.string('linux.mountLabel', linux.mountLabel);

  const rdt = c.object('linux.intelRdt', linux.intelRdt);
  if (rdt) {
    const clos = c.string('linux.intelRdt.closID', rdt.closID);
    // runc validator.go intelrdtCheck: the CLOS is a resctrl directory name.
    if (clos !== undefined && (clos === '.' || clos === '..' || clos.includes('/'))) p.err('linux.intelRdt.closID', `invalid closID ${quote(clos)}`);
    c.string('linux.intelRdt.l3CacheSchema', rdt.l3CacheSchema);
    c.string('linux.intelRdt.memBwSchema', rdt.memBwSchema);
    c.strings('linux.intelRdt.schemata', rdt.schemata);
    for (const k of ['enableMonitoring', 'enableCMT', 'enableMBM']) c.bool(`linux.intelRdt.${k}`, rdt[k]);
  }

  const mp = c.object('linux.memoryPolicy', linux.memoryPolicy);
  if (mp) {
    // runc's words (libcontainer/specconv CreateLibcontainerConfig, then set_mempolicy(2)'s checks
    // in its init): `invalid memory policy mode "X"`, `invalid memory policy nodes "X"`,
    // `invalid memory policy flag "X"`, `mode requires 0 nodes but got 8`.
    const rawMode = c.string('linux.memoryPolicy.mode', mp.mode);
    const mode = rawMode !== undefined && MEMORY_POLICY_MODES.includes(rawMode) ? rawMode : undefined;
    if (!mode && (rawMode !== undefined || mp.mode === undefined || mp.mode === null)) {
      p.err('linux.memoryPolicy.mode', `invalid memory policy mode ${quote(rawMode ?? '')}`);
    }
    const nodes = c.string('linux.memoryPolicy.nodes', mp.nodes);
    const count = nodes ? countNodes(nodes) : 0;
    if (count === undefined) p.err('linux.memoryPolicy.nodes', `invalid memory policy nodes ${quote(nodes!)}`);
    c.strings('linux.memoryPolicy.flags', mp.flags)?.forEach((f, i) => {
      if (!MEMORY_POLICY_FLAGS.includes(f)) p.err(`linux.memoryPolicy.flags[${i}]`, `invalid memory policy flag ${quote(f)}`);
    });
    if ((mode === 'MPOL_DEFAULT' || mode === 'MPOL_LOCAL') && count) p.err('linux.memoryPolicy.nodes', `mode requires 0 nodes but got ${count}`);
    if ((mode === 'MPOL_BIND' || mode === 'MPOL_INTERLEAVE' || mode === 'MPOL_PREFERRED_MANY' || mode === 'MPOL_WEIGHTED_INTERLEAVE') && count === 0) {
      p.err('linux.memoryPolicy.nodes', 'mode requires at least one node but got 0');
    }
  }

  const pers = c.object('linux.personality', linux.personality);
  if (pers) {
    // runc supports the two personality(2) domains the spec names.
    c.oneOf('linux.personality.domain', pers.domain, ['LINUX', 'LINUX32'], 'personality domain', true);
    c.strings('linux.personality.flags', pers.flags);
  }
  return ns;
}

/** An array of {containerID, hostID, size}; undefined when absent. */
/** user_namespaces(7): since Linux 4.15 a map holds at most 340 lines. */
export const MAX_ID_MAP_LINES = 340;

export function validateIdMappings(c: Checker, path: string, v: unknown): LinuxIDMapping[] | undefined {
  const a = c.array(path, v);
  if (!a) return undefined;
  const ranges: { i: number; ctr: number; host: number; size: number }[] = [];
  c.eachObject(path, a, (m, mp, i) => {
    const ctr = c.int(`${mp}.containerID`, m.containerID, U32, true);
    const host = c.int(`${mp}.hostID`, m.hostID, U32, true);
    // user_namespaces(7): a map line with length 0 is rejected by the kernel.
    const size = c.int(`${mp}.size`, m.size, [1, U32[1]], true);
    if (ctr === undefined || host === undefined || size === undefined) return;
    // kernel/user_namespace.c map_write: neither end of a range may wrap past 2^32 - 1.
    if (ctr + size > U32[1] || host + size > U32[1]) c.p.err(mp, `range of ${size} ids from ${ctr} (container) / ${host} (host) goes past 4294967295`);
    ranges.push({ i, ctr, host, size });
  });
  if (a.length > MAX_ID_MAP_LINES) {
    c.p.err(path, `${a.length} mappings; the kernel takes at most ${MAX_ID_MAP_LINES} (user_namespaces(7))`);
    return a as LinuxIDMapping[];
  }
  // map_write mappings_overlap: ranges may overlap neither on the container side nor on the host side.
  for (const [x, r] of ranges.entries()) {
    for (const q of ranges.slice(x + 1)) {
      const side = r.ctr < q.ctr + q.size && q.ctr < r.ctr + r.size ? 'containerID' : r.host < q.host + q.size && q.host < r.host + r.size ? 'hostID' : '';
      if (side) c.p.err(path, `mappings ${r.i} and ${q.i} overlap (${side} ranges); the kernel refuses overlapping ranges (user_namespaces(7))`);
    }
  }
  return a as LinuxIDMapping[];
}

/** Kernel dev_valid_name (net/core/dev.c), as runc's devValidName. IFNAMSIZ is 16 incl. NUL. */
function isValidIfName(name: string): boolean {
  return name.length > 0 && name.length < 16 && name !== '.' && name !== '..' && !/[/: ]/.test(name);
}

const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** runc validator.go sysctl(): only keys namespaced by a namespace the container owns. */
function validateSysctl(c: Checker, sysctl: Record<string, string> | undefined, ns: Set<NamespaceType>): void {
  if (!sysctl) return;
  for (const raw of Object.keys(sysctl)) {
    const path = `linux.sysctl.${raw}`;
    // sysctl.d(5): "/" may separate the components instead of ".": swap them to compare.
    const first = raw.search(/[./]/);
    const s = first >= 0 && raw[first] === '/' ? raw.replace(/[./]/g, (ch) => (ch === '.' ? '/' : '.')) : raw;
    if (IPC_SYSCTLS.has(s) || s.startsWith('fs.mqueue.')) {
      if (!ns.has('ipc')) fail(c, path, `sysctl ${quote(s)} is not allowed in the hosts ipc namespace`);
    } else if (s.startsWith('net.')) {
      // A joined netns might be the host's; the runtime checks that when it opens the path.
      if (!ns.has('network')) fail(c, path, `sysctl ${quote(s)} not allowed in host network namespace`);
    } else if (ns.has('uts') && s === 'kernel.domainname') {
      // namespaced, and there is no conflicting OCI field
    } else if (ns.has('uts') && s === 'kernel.hostname') {
      fail(c, path, `sysctl ${quote(s)} is not allowed as it conflicts with the OCI "hostname" field`);
    } else if (s.startsWith('user.')) {
      if (!ns.has('user')) fail(c, path, `setting ucounts without a user namespace not allowed: ${s}`);
    } else {
      fail(c, path, `sysctl ${quote(s)} is not in a separate kernel namespace`);
    }
  }
}

function fail(c: Checker, path: string, msg: string): void {
  c.p.err(path, msg);
}

function validateSeccomp(c: Checker, sc: Obj | undefined): void {
  if (!sc) return;
  const path = 'linux.seccomp';
  const da = c.string(`${path}.defaultAction`, sc.defaultAction, true);
  if (da && !SECCOMP_ACTIONS.includes(da)) c.p.err(`${path}.defaultAction`, `unknown seccomp action ${quote(da)}`);
  // runc libcontainer/seccomp: the notify fd cannot serve every syscall of the container.
  if (da === 'SCMP_ACT_NOTIFY') c.p.err(`${path}.defaultAction`, 'SCMP_ACT_NOTIFY cannot be used as default action');
  c.int(`${path}.defaultErrnoRet`, sc.defaultErrnoRet, U32);
  c.strings(`${path}.architectures`, sc.architectures)?.forEach((a, i) => {
    if (!SECCOMP_ARCHS.includes(a)) c.p.err(`${path}.architectures[${i}]`, `unknown seccomp architecture ${quote(a)}`);
  });
  c.strings(`${path}.flags`, sc.flags)?.forEach((f, i) => {
    if (!SECCOMP_FLAGS.includes(f)) c.p.err(`${path}.flags[${i}]`, `unknown seccomp flag ${quote(f)}`);
  });
  const lp = c.string(`${path}.listenerPath`, sc.listenerPath);
  if (lp && !isAbs(lp)) c.p.err(`${path}.listenerPath`, `must be an absolute path, got ${quote(lp)}`);
  c.string(`${path}.listenerMetadata`, sc.listenerMetadata);
  let syscalls = 0;
  c.eachObject(`${path}.syscalls`, sc.syscalls, (s, sp) => {
    syscalls++;
    const names = c.strings(`${sp}.names`, s.names, true);
    if (names && names.length === 0) c.p.err(`${sp}.names`, 'must not be empty');
    const action = c.oneOf(`${sp}.action`, s.action, SECCOMP_ACTIONS, 'seccomp action', true);
    // runc: notifying on write(2) would deadlock the runtime's own logging.
    if (action === 'SCMP_ACT_NOTIFY' && names?.includes('write')) c.p.err(`${sp}.action`, 'SCMP_ACT_NOTIFY cannot be used for the write syscall');
    c.int(`${sp}.errnoRet`, s.errnoRet, U32);
    c.eachObject(`${sp}.args`, s.args, (a, ap) => {
      // seccomp_rule_add(3): six syscall arguments, indices 0..5.
      c.int(`${ap}.index`, a.index, [0, 5], true);
      c.int(`${ap}.value`, a.value, U64, true);
      c.int(`${ap}.valueTwo`, a.valueTwo, U64);
      c.oneOf(`${ap}.op`, a.op, SECCOMP_OPERATORS, 'seccomp operator', true);
    });
  });
  if (da === '' && syscalls > 0) c.p.err(`${path}.defaultAction`, 'must be set when syscalls are listed');
}

/** The number of nodes in a list such as "0-3,7", or undefined when it is not one (runc: a CPUSet). */
function countNodes(list: string): number | undefined {
  if (!isCpuList(list)) return undefined;
  let n = 0;
  for (const part of list.split(',')) {
    if (part.trim() === '') continue;
    const [a, b] = part.split('-').map((x) => Number(x.trim()));
    if (b === undefined) n += 1;
    else if (b < a) return undefined;
    else n += b - a + 1;
  }
  return n;
}
