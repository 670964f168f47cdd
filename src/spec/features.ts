// `tsrun features`: the runtime-spec features document (features.md, features-linux.md) in the
// shape and key order runc prints (runc features.go). It must be truthful, because engines act on
// it: containerd's CRI looks for "rro" in mountOptions and at mountExtensions.idmap, CRI-O derives
// RuntimeSupportsIDMap/RROMounts from it. So what we claim comes from one object,
// CURRENT_SUPPORT, which is edited as features land.

import {
  CAPABILITIES,
  HOOK_NAMES,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHS,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from './known-names.js';
import { knownMountOptions } from './mount-options.js';
import { SPEC_VERSION } from './defaults.js';
import { NAMESPACE_TYPES, type Features, type LinuxFeatures, type NamespaceType } from './types.js';
import { idmapSupported } from '../sys/idmap-support.js';

export interface FeatureSupport {
  namespaces: readonly NamespaceType[];
  capabilities: readonly string[];
  /** Hook names the runtime runs (config.md "POSIX-platform Hooks"). */
  hooks: readonly string[];
  mountOptions: readonly string[];
  cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
  seccomp:
    | { enabled: false }
    | {
        enabled: true;
        actions: readonly string[];
        operators: readonly string[];
        archs: readonly string[];
        knownFlags: readonly string[];
        supportedFlags: readonly string[];
      };
  apparmor: boolean;
  selinux: boolean;
  intelRdt: { enabled: boolean; schemata: boolean; monitoring: boolean };
  /** linux.memoryPolicy (spec 1.3.0) applied with set_mempolicy(2). */
  memoryPolicy: boolean;
  /** Idmapped mounts (mounts[].uidMappings, "idmap"/"ridmap"). */
  idmap: boolean;
  netDevices: boolean;
  /** Annotations whose value changes what the runtime does (features.md potentiallyUnsafeConfigAnnotations). */
  unsafeAnnotations: readonly string[];
}

/** What tsrun implements today. Edit as features land; tests check the output follows it. */
export const CURRENT_SUPPORT: FeatureSupport = {
  namespaces: NAMESPACE_TYPES,
  capabilities: CAPABILITIES,
  hooks: HOOK_NAMES,
  mountOptions: knownMountOptions(),
  cgroup: { v1: false, v2: true, systemd: true, systemdUser: false, rdma: true },
  seccomp: { enabled: false },
  apparmor: false,
  selinux: false,
  intelRdt: { enabled: false, schemata: false, monitoring: false },
  memoryPolicy: true,
  // Idmapped bind mounts (src/plan/idmap.ts), where the kernel and the host's / allow them.
  idmap: idmapSupported(),
  netDevices: true,
  unsafeAnnotations: [],
};

/** Everything tsrun knows the names of, for when a feature is enabled: pass these lists in. */
export const KNOWN = {
  hooks: HOOK_NAMES,
  seccompActions: SECCOMP_ACTIONS,
  seccompOperators: SECCOMP_OPERATORS,
  seccompArchs: SECCOMP_ARCHS,
  seccompFlags: SECCOMP_FLAGS,
} as const;

export interface FeaturesInfo {
  version?: string;
  commit?: string;
  libseccompVersion?: string;
}

// Go's encoding/json with `omitempty` drops empty slices: do the same so output matches runc's shape.
function list(a: readonly string[]): string[] | undefined {
  return a.length > 0 ? [...a] : undefined;
}

export function features(support: FeatureSupport = CURRENT_SUPPORT, info: FeaturesInfo = {}): Features {
  const linux: LinuxFeatures = {
    namespaces: list([...support.namespaces].sort()),
    capabilities: list(support.capabilities),
    cgroup: { ...support.cgroup },
    seccomp: support.seccomp.enabled
      ? {
          enabled: true,
          actions: list(support.seccomp.actions),
          operators: list(support.seccomp.operators),
          archs: list(support.seccomp.archs),
          knownFlags: list(support.seccomp.knownFlags),
          supportedFlags: list(support.seccomp.supportedFlags),
        }
      : { enabled: false },
    apparmor: { enabled: support.apparmor },
    selinux: { enabled: support.selinux },
    intelRdt: { ...support.intelRdt },
    ...(support.memoryPolicy ? { memoryPolicy: { modes: [...MEMORY_POLICY_MODES], flags: [...MEMORY_POLICY_FLAGS] } } : {}),
    mountExtensions: { idmap: { enabled: support.idmap } },
    netDevices: { enabled: support.netDevices },
  };
  const annotations: Record<string, string> = {};
  if (info.version) annotations['io.github.tsrun.version'] = info.version;
  if (info.commit) annotations['io.github.tsrun.commit'] = info.commit;
  annotations['io.github.tsrun.checkpoint.enabled'] = 'false';
  if (support.seccomp.enabled && info.libseccompVersion) annotations['io.github.seccomp.libseccomp.version'] = info.libseccompVersion;
  return dropUndefined({
    ociVersionMin: '1.0.0',
    ociVersionMax: SPEC_VERSION,
    hooks: list(support.hooks),
    mountOptions: list([...support.mountOptions].sort()),
    linux,
    annotations,
    potentiallyUnsafeConfigAnnotations: list(support.unsafeAnnotations),
  });
}

function dropUndefined<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** runc prints features with json.Encoder.SetIndent("", "    "): 4 spaces and a trailing newline. */
export function formatFeatures(f: Features): string {
  return `${JSON.stringify(f, null, 4)}\n`;
}
