// TypeScript shapes of the OCI runtime-spec v1.3.0 documents: config.json (config.md,
// config-linux.md), the runtime state (runtime.md "State") and the features document
// (features.md, features-linux.md). Field names are the JSON names; a field is optional exactly
// where specs-go marks it `omitempty` (or the Markdown says OPTIONAL). Numbers that the spec
// gives as uint64/int64 are plain `number` here: JSON.parse yields doubles, and values above
// 2^53 do not occur in practice (runc's "-1 means unlimited" is representable).

/** runtime-spec config.md: the root object of config.json. */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  // Other platforms: carried through untouched, never interpreted by tsrun.
  solaris?: Record<string, unknown>;
  windows?: Record<string, unknown>;
  vm?: Record<string, unknown>;
  zos?: Record<string, unknown>;
  freebsd?: Record<string, unknown>;
}

/** config.md "Process". `user` and `cwd` are REQUIRED on Linux. */
export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  args?: string[];
  /** Windows only. */
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: IOPriority;
  execCPUAffinity?: CPUAffinity;
}

/** config.md "consoleSize". */
export interface Box {
  height: number;
  width: number;
}

/** config.md "User" (POSIX platforms). */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

/** config.md "capabilities": each set is a list of CAP_* names. */
export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** config.md "rlimits": `type` is an RLIMIT_* name (getrlimit(2)). */
export interface POSIXRlimit {
  type: string;
  hard: number;
  soft: number;
}

export type SchedulerPolicy = 'SCHED_OTHER' | 'SCHED_FIFO' | 'SCHED_RR' | 'SCHED_BATCH' | 'SCHED_ISO' | 'SCHED_IDLE' | 'SCHED_DEADLINE';

export type SchedulerFlag =
  | 'SCHED_FLAG_RESET_ON_FORK'
  | 'SCHED_FLAG_RECLAIM'
  | 'SCHED_FLAG_DL_OVERRUN'
  | 'SCHED_FLAG_KEEP_POLICY'
  | 'SCHED_FLAG_KEEP_PARAMS'
  | 'SCHED_FLAG_UTIL_CLAMP_MIN'
  | 'SCHED_FLAG_UTIL_CLAMP_MAX';

/** config.md "scheduler" (sched_setattr(2)), since spec 1.1.0. */
export interface Scheduler {
  policy: SchedulerPolicy | string;
  nice?: number;
  priority?: number;
  flags?: (SchedulerFlag | string)[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export type IOPriorityClass = 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';

/** config.md "ioPriority" (ioprio_set(2)), since spec 1.1.0. */
export interface IOPriority {
  class: IOPriorityClass | string;
  priority: number;
}

/** config.md "execCPUAffinity", since spec 1.2.1: cpu lists like "0-3,7". */
export interface CPUAffinity {
  initial?: string;
  final?: string;
}

/** config.md "Root". */
export interface Root {
  path: string;
  readonly?: boolean;
}

/** config.md "Mounts"; uid/gidMappings (idmapped mounts) since 1.1.0. */
export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

/** config.md "POSIX-platform Hooks": one hook entry. */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** config.md "POSIX-platform Hooks". `prestart` is deprecated since 1.2.0. */
export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type HookName = keyof Hooks;

/** config-linux.md: the `linux` object. */
export interface Linux {
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  sysctl?: Record<string, string>;
  resources?: LinuxResources;
  cgroupsPath?: string;
  namespaces?: LinuxNamespace[];
  devices?: LinuxDevice[];
  netDevices?: Record<string, LinuxNetDevice>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: LinuxIntelRdt;
  memoryPolicy?: LinuxMemoryPolicy;
  personality?: LinuxPersonality;
  timeOffsets?: Record<string, LinuxTimeOffset>;
}

/** config-linux.md "Namespaces"; `time` since 1.1.0. */
export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export const NAMESPACE_TYPES: readonly NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

export interface LinuxNamespace {
  type: NamespaceType;
  path?: string;
}

/** config-linux.md "User namespace mappings". */
export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** config-linux.md "Offset for Time Namespace": keys are "monotonic" and "boottime". */
export interface LinuxTimeOffset {
  secs?: number;
  nanosecs?: number;
}

/** config-linux.md "Devices". */
export interface LinuxDevice {
  path: string;
  /** c, b, u or p (mknod(1)). */
  type: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** config-linux.md "Network Devices" (1.3.0): the key is the host device name. */
export interface LinuxNetDevice {
  name?: string;
}

/** config-linux.md "Personality". */
export interface LinuxPersonality {
  domain: 'LINUX' | 'LINUX32' | string;
  flags?: string[];
}

/** config-linux.md "Memory policy" (1.3.0, set_mempolicy(2)). */
export interface LinuxMemoryPolicy {
  mode: string;
  nodes?: string;
  flags?: string[];
}
/** Alias under the name the brief uses. */
export type MemoryPolicy = LinuxMemoryPolicy;

/** config-linux.md "IntelRdt"; `schemata` and `enableMonitoring` since 1.3.0. */
export interface LinuxIntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  schemata?: string[];
  enableMonitoring?: boolean;
  /** Removed in 1.3.0 (replaced by enableMonitoring); still accepted on input. */
  enableCMT?: boolean;
  /** Removed in 1.3.0 (replaced by enableMonitoring); still accepted on input. */
  enableMBM?: boolean;
}

// ---- resources (config-linux.md "Control groups") ----

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  unified?: Record<string, string>;
}

/** "Allowed Device list": access is a subset of "rwm". */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  /** NOT RECOMMENDED since 1.1.0 (cgroup v1 only). */
  kernel?: number;
  /** NOT RECOMMENDED since 1.1.0 (cgroup v1 only). */
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids {
  /** 0 means "no new processes" since the 1.3.0 clarification; unset means no limit. */
  limit?: number;
}

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  pageSize: string;
  limit: number;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

// ---- seccomp (config-linux.md "Seccomp") ----

export type LinuxSeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type LinuxSeccompOperator = 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export interface LinuxSeccomp {
  defaultAction: LinuxSeccompAction | string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

export interface LinuxSyscall {
  names: string[];
  action: LinuxSeccompAction | string;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: LinuxSeccompOperator | string;
}

// ---- runtime state (runtime.md "State") ----

/** runtime.md "State": `creating`, `created`, `running`, `stopped`; runc adds `paused`. */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** REQUIRED when status is created or running. */
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** What `runc state` prints (runc list.go containerState): the OCI state plus runc's extras. */
export interface RuncState {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  /** RFC3339Nano. */
  created: string;
  annotations?: Record<string, string>;
  owner: string;
}

// ---- features (features.md, features-linux.md) ----

export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: LinuxFeatures;
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
}

export interface LinuxFeatures {
  namespaces?: string[];
  capabilities?: string[];
  cgroup?: CgroupFeatures;
  seccomp?: SeccompFeatures;
  apparmor?: { enabled?: boolean };
  selinux?: { enabled?: boolean };
  intelRdt?: { enabled?: boolean; schemata?: boolean; monitoring?: boolean };
  memoryPolicy?: { modes?: string[]; flags?: string[] };
  mountExtensions?: { idmap?: { enabled?: boolean } };
  netDevices?: { enabled?: boolean };
}

export interface CgroupFeatures {
  v1?: boolean;
  v2?: boolean;
  systemd?: boolean;
  systemdUser?: boolean;
  rdma?: boolean;
}

export interface SeccompFeatures {
  enabled?: boolean;
  actions?: string[];
  operators?: string[];
  archs?: string[];
  knownFlags?: string[];
  supportedFlags?: string[];
}
