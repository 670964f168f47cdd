// Decoding config.json as runc does (issue 14 item 26). runc reads it with Go's encoding/json into
// specs-go structs: an object key matches a field exactly or, failing that, case-insensitively
// (strings.EqualFold; a later key wins), and a missing field takes its zero value. This pass
// rewrites the parsed object in place, before validation, so that everything downstream sees the
// spec's own spelling and runc's defaults:
//   - keys of the known spec objects are renamed to their canonical spelling ("pagesize" →
//     "pageSize"); free-form maps (annotations, sysctl, unified, …) keep their keys;
//   - process.user, and its uid and gid, default to 0 (specs-go: User is a value, not a pointer);
//   - ioPriority.priority defaults to 0 (IOPRIO_CLASS_IDLE takes none; runc HEAD);
//   - a namespace with an empty `path` is a new namespace (specconv: `if ns.Path != ""`);
//   - device cgroup access letters other than r, w and m are dropped, as runc's device rule
//     emulator does (devices.Permissions.toSet), and a rule left with none is a no-op, removed.
// Type checks stay in validate*.ts: this pass only renames keys and fills absent fields.

type Schema = { [key: string]: Node };
/** An object with known keys; a list of such objects; a map whose values are such objects; a leaf. */
type Node = Schema | { list: Schema } | { map: Schema } | null;

const IDMAP: Schema = { containerID: null, hostID: null, size: null };
const HOOK: Schema = { path: null, args: null, env: null, timeout: null };
const WEIGHT_DEV: Schema = { major: null, minor: null, weight: null, leafWeight: null };
const THROTTLE_DEV: Schema = { major: null, minor: null, rate: null };

const SPEC: Schema = {
  ociVersion: null,
  process: {
    terminal: null,
    consoleSize: { height: null, width: null },
    user: { uid: null, gid: null, umask: null, additionalGids: null, username: null },
    args: null,
    commandLine: null,
    env: null,
    cwd: null,
    capabilities: { bounding: null, effective: null, inheritable: null, permitted: null, ambient: null },
    rlimits: { list: { type: null, hard: null, soft: null } },
    noNewPrivileges: null,
    apparmorProfile: null,
    oomScoreAdj: null,
    scheduler: { policy: null, nice: null, priority: null, flags: null, runtime: null, deadline: null, period: null },
    selinuxLabel: null,
    ioPriority: { class: null, priority: null },
    execCPUAffinity: { initial: null, final: null },
  },
  root: { path: null, readonly: null },
  hostname: null,
  domainname: null,
  mounts: { list: { destination: null, type: null, source: null, options: null, uidMappings: { list: IDMAP }, gidMappings: { list: IDMAP } } },
  hooks: {
    prestart: { list: HOOK },
    createRuntime: { list: HOOK },
    createContainer: { list: HOOK },
    startContainer: { list: HOOK },
    poststart: { list: HOOK },
    poststop: { list: HOOK },
  },
  annotations: null,
  linux: {
    uidMappings: { list: IDMAP },
    gidMappings: { list: IDMAP },
    sysctl: null,
    resources: {
      devices: { list: { allow: null, type: null, major: null, minor: null, access: null } },
      memory: {
        limit: null,
        reservation: null,
        swap: null,
        kernel: null,
        kernelTCP: null,
        swappiness: null,
        disableOOMKiller: null,
        useHierarchy: null,
        checkBeforeUpdate: null,
      },
      cpu: { shares: null, quota: null, burst: null, period: null, realtimeRuntime: null, realtimePeriod: null, cpus: null, mems: null, idle: null },
      pids: { limit: null },
      blockIO: {
        weight: null,
        leafWeight: null,
        weightDevice: { list: WEIGHT_DEV },
        throttleReadBpsDevice: { list: THROTTLE_DEV },
        throttleWriteBpsDevice: { list: THROTTLE_DEV },
        throttleReadIOPSDevice: { list: THROTTLE_DEV },
        throttleWriteIOPSDevice: { list: THROTTLE_DEV },
      },
      hugepageLimits: { list: { pageSize: null, limit: null } },
      network: { classID: null, priorities: { list: { name: null, priority: null } } },
      rdma: { map: { hcaHandles: null, hcaObjects: null } },
      unified: null,
    },
    cgroupsPath: null,
    namespaces: { list: { type: null, path: null } },
    devices: { list: { path: null, type: null, major: null, minor: null, fileMode: null, uid: null, gid: null } },
    netDevices: { map: { name: null } },
    seccomp: {
      defaultAction: null,
      defaultErrnoRet: null,
      architectures: null,
      flags: null,
      listenerPath: null,
      listenerMetadata: null,
      syscalls: { list: { names: null, action: null, errnoRet: null, args: { list: { index: null, value: null, valueTwo: null, op: null } } } },
    },
    rootfsPropagation: null,
    maskedPaths: null,
    readonlyPaths: null,
    mountLabel: null,
    intelRdt: { closID: null, l3CacheSchema: null, memBwSchema: null, schemata: null, enableMonitoring: null, enableCMT: null, enableMBM: null },
    memoryPolicy: { mode: null, nodes: null, flags: null },
    personality: { domain: null, flags: null },
    timeOffsets: { map: { secs: null, nanosecs: null } },
  },
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go's encoding/json field matching on one object: exact key, else case-insensitive; a later key wins. */
function foldKeys(o: Obj, schema: Schema): void {
  const names = Object.keys(schema);
  const entries = Object.entries(o);
  if (entries.every(([k]) => k in schema || !names.some((n) => n.toLowerCase() === k.toLowerCase()))) return;
  for (const k of Object.keys(o)) delete o[k];
  for (const [k, v] of entries) {
    const canonical = k in schema ? k : (names.find((n) => n.toLowerCase() === k.toLowerCase()) ?? k);
    if (canonical in o) delete o[canonical]; // a later key wins, in its own position
    o[canonical] = v;
  }
}

function walk(v: unknown, node: Node): void {
  if (node === null) return;
  if ('list' in node && Object.keys(node).length === 1 && isObj(node.list)) {
    if (Array.isArray(v)) for (const e of v) if (isObj(e)) walk(e, node.list as Schema);
    return;
  }
  if ('map' in node && Object.keys(node).length === 1 && isObj(node.map)) {
    if (isObj(v)) for (const e of Object.values(v)) if (isObj(e)) walk(e, node.map as Schema);
    return;
  }
  if (!isObj(v)) return;
  const schema = node as Schema;
  foldKeys(v, schema);
  for (const [k, child] of Object.entries(schema)) if (child !== null && k in v) walk(v[k], child);
}

/** Rewrites a parsed config.json in place as Go's decoding into specs-go would see it (see above). */
export function normalizeSpec(spec: unknown): void {
  if (!isObj(spec)) return;
  walk(spec, SPEC);
  const proc = spec.process;
  if (isObj(proc)) {
    if (proc.user === undefined || proc.user === null) proc.user = { uid: 0, gid: 0 };
    const user = proc.user;
    if (isObj(user)) {
      if (user.uid === undefined || user.uid === null) user.uid = 0;
      if (user.gid === undefined || user.gid === null) user.gid = 0;
    }
    const io = proc.ioPriority;
    if (isObj(io) && (io.priority === undefined || io.priority === null)) io.priority = 0;
  }
  const linux = spec.linux;
  if (!isObj(linux)) return;
  if (Array.isArray(linux.namespaces)) {
    for (const ns of linux.namespaces) if (isObj(ns) && ns.path === '') delete ns.path;
  }
  const res = linux.resources;
  if (isObj(res) && Array.isArray(res.devices)) {
    res.devices = res.devices.filter((d) => {
      if (!isObj(d) || typeof d.access !== 'string' || d.access === '') return true; // validation reports it
      const kept = [...new Set(d.access.split('').filter((ch) => ch === 'r' || ch === 'w' || ch === 'm'))].join('');
      d.access = kept;
      return kept !== '';
    });
  }
}
