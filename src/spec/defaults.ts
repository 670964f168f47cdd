// The config.json `tsrun spec` writes: runc's specconv.Example() and ToRootless()
// (libcontainer/specconv/example.go at runc HEAD 76d9cf5), with hostname "tsrun" instead of
// "runc" and ociVersion 1.3.0. Differences from the local runc 1.1.5 binary's output, all of
// them changes runc itself made after 1.1.5:
//  - ociVersion "1.3.0" (runc 1.1.5 writes "1.0.2-dev");
//  - no `ambient` capability set (runc dropped it from the example: ambient caps with
//    noNewPrivileges are pointless for a shell);
//  - a `cgroup` namespace is added when the host runs cgroup v2 only (unified mode), as runc
//    does since 1.1; on this hybrid host runc 1.1.5 adds none.
// The object is fresh on every call, so callers may mutate it.

import { statfsSync } from 'node:fs';
import type { Spec } from './types.js';

export const SPEC_VERSION = '1.3.0';

export interface DefaultSpecOptions {
  /** `spec --rootless`: user namespace mapping the caller, no netns, /sys rbind, no resources. */
  rootless?: boolean;
  /** Add a cgroup namespace (runc does when the host is in cgroup v2 unified mode). */
  cgroupNamespace?: boolean;
  /** Host uid/gid mapped to root with `rootless` (default: the caller's effective ids). */
  hostUid?: number;
  hostGid?: number;
}

const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const spec: Spec = {
    ociVersion: SPEC_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...CAPS], effective: [...CAPS], permitted: [...CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrun',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  if (opts.cgroupNamespace) spec.linux!.namespaces!.push({ type: 'cgroup' });
  if (opts.rootless) toRootless(spec, opts.hostUid ?? process.geteuid?.() ?? 0, opts.hostGid ?? process.getegid?.() ?? 0);
  return spec;
}

/** runc specconv.ToRootless: what a container started by an unprivileged user can do. */
function toRootless(spec: Spec, uid: number, gid: number): void {
  const old = spec.linux!;
  // Drop network (a rootless user cannot configure one) and any user ns, then add a user ns last.
  const namespaces = (old.namespaces ?? []).filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  namespaces.push({ type: 'user' });
  // Rebuilt so that JSON key order matches runc's (Go struct order: mappings first).
  const { resources: _dropped, namespaces: _old, ...rest } = old;
  const linux = {
    uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    namespaces,
    ...rest,
  };
  spec.linux = linux;
  spec.mounts = (spec.mounts ?? []).map((m) => {
    // sysfs cannot be mounted without owning the netns: bind the host's instead.
    if (m.destination.replace(/\/+$/, '') === '/sys') {
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    // Only one id is mapped, so uid=/gid= options (devpts gid=5) would fail.
    if (!m.options) return m;
    const options = m.options.filter((o) => !o.startsWith('gid=') && !o.startsWith('uid='));
    return { ...m, options };
  });
  // `resources` was dropped above: unprivileged users cannot set cgroup limits without delegation.
}

/** The bytes `runc spec` writes: json.MarshalIndent(spec, "", "\t"), no trailing newline. */
export function formatSpec(spec: Spec): string {
  return JSON.stringify(spec, null, '\t');
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Whether /sys/fs/cgroup is a pure cgroup v2 mount (runc's cgroups.IsCgroup2UnifiedMode). */
export function isCgroup2UnifiedMode(): boolean {
  try {
    return statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}
