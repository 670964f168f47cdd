// config.json → the plan the child runs between clone and execve. The order follows runc's
// init (nsexec.c, rootfs_linux.go, standard_init_linux.go) and runtime-spec runtime.md
// "Lifecycle": namespaces and id maps, rootfs and pivot, sysctl, masked and read-only paths,
// hostname, rlimits, the user and its capabilities, fds, then park on exec.fifo and execve.
// A diagram of the parent/child conversation is in protocol.ts.
import path from 'node:path';
import { InvalidSpecError } from '../errors.js';
import { capSets, kernelLastCap } from './capabilities.js';
import { JOIN_ORDER, planNamespaces, NS_FLAG, type NamespacePlan } from './namespaces.js';
import { callerNofile, RLIMIT_NUMBERS, rlimitValue } from './rlimits.js';
import { emitRootfs, ROOT_SLOT } from './rootfs.js';
import { emitIdmapPrepare, planIdmapMounts } from './idmap.js';
import type { Hook, LinuxMemoryPolicy, LinuxPersonality, NamespaceType, Process, Spec } from '../spec/types.js';
import { emitFinalAffinity, emitProcessAttrs } from './process-attrs.js';
import { ChdirMode, CLONE, NONE, Op, Sync } from './opcodes.js';
import { PlanBuilder, split64, type CompiledPlan } from './plan-builder.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SIGKILL = 9;
/** Plan slot of the read-only tmpfs the masked directories share (rootfs.ts uses 0 and 1). */
const MASK_SLOT = 2;

export interface CompileOptions {
  spec: Spec;
  bundle: string;
  /** Absolute host path of the root filesystem. */
  rootfs: string;
  /** create parks the init on exec.fifo; run execs at once. */
  mode: 'create' | 'run';
  /** The exec.fifo fd the child inherits (create). */
  fifoFd?: number;
  /** fds 3 .. 3+preserveFds-1 survive into the container (--preserve-fds, LISTEN_FDS). */
  preserveFds: number;
  noPivot: boolean;
  /** fds the parent opened for namespaces joined by path. */
  nsFds: Map<NamespaceType, number>;
  /** The container's cgroup directory on the host, if it has one. */
  cgroupDir?: string;
  /** The BPF program generated from linux.seccomp, if any. */
  seccomp?: SeccompProgram;
  /** Run by the static helper: namespaces by unshare, never by clone flags. */
  forceUnshare?: boolean;
  /** fds to become the process's 0-2 (library pipes); each is >= 3 or its own index. */
  stdio?: readonly number[];
}

export interface CompileResult {
  plan: CompiledPlan;
  cloneFlags: number;
  namespaces: NamespacePlan;
}

export function compilePlan(o: CompileOptions): CompileResult {
  const { spec } = o;
  const proc = spec.process;
  if (!proc || !proc.args?.length) throw new InvalidSpecError(['process.args: must name the program to run']);
  const idmaps = planIdmapMounts(spec, { bundle: o.bundle, joinedUsernsFd: o.nsFds.get('user') });
  // Idmapped mounts are prepared before any namespace is entered (src/plan/idmap.ts), so the
  // namespaces are then made by unshare rather than by the clone.
  const ns = planNamespaces(spec.linux?.namespaces, o.forceUnshare || idmaps.size > 0);
  if (!ns.isNew('mount')) {
    throw new InvalidSpecError(['linux.namespaces: tsrun needs a new mount namespace to set up the root filesystem']);
  }
  const b = new PlanBuilder();
  b.op('set the parent-death signal', Op.PDEATHSIG, SIGKILL);
  emitIdmapPrepare(b, idmaps);

  let cloneFlags = 0;
  if (ns.viaClone) {
    cloneFlags = ns.newFlags;
    if (ns.isNew('user')) emitBecomeRoot(b, 'user namespace');
  } else {
    const user = ns.joins.find((j) => j.type === 'user');
    if (user) b.op(`join user namespace ${user.path}`, Op.SETNS, nsFd(o, 'user'), CLONE.NEWUSER);
    if (ns.isNew('user')) {
      b.op('unshare the user namespace', Op.UNSHARE, CLONE.NEWUSER);
      emitBecomeRoot(b, 'user namespace');
    } else if (user) {
      emitBecomeRoot(b, 'joined user namespace', false);
    }
    for (const j of ns.joins) {
      if (j.type !== 'user') b.op(`join ${j.type} namespace ${j.path}`, Op.SETNS, nsFd(o, j.type), NS_FLAG[j.type]);
    }
    const rest = ns.newFlags & ~CLONE.NEWUSER;
    if (rest) b.op('unshare namespaces', Op.UNSHARE, rest);
    if (ns.isNew('time')) b.op('write time namespace offsets', Op.SYNC, Sync.TIMENS);
    if (ns.needFork) {
      b.op('fork into the new pid/time namespace', Op.FORK);
      b.op('set the parent-death signal', Op.PDEATHSIG, SIGKILL);
    }
  }

  if (Object.keys(spec.linux?.netDevices ?? {}).length) b.op('move network devices in', Op.SYNC, Sync.NETDEV);
  emitRootfs(b, spec, {
    bundle: o.bundle,
    rootfs: o.rootfs,
    userns: ns.has('user'),
    hostSources: ns.has('user') && (process.geteuid?.() ?? 0) === 0,
    netns: ns.isNew('network'),
    cgroupns: ns.isNew('cgroup'),
    cgroupDir: o.cgroupDir,
    noPivot: o.noPivot,
    idmaps,
    beforePivot: () => {
      const h = spec.hooks;
      if (h?.prestart?.length || h?.createRuntime?.length) b.op('run prestart and createRuntime hooks', Op.SYNC, Sync.CREATE_RUNTIME);
      if (h?.createContainer?.length) {
        // runc prepareRootfs chdirs to the rootfs before the createContainer hooks (and the pivot).
        b.op('chdir to the rootfs for createContainer hooks', Op.FCHDIR, ROOT_SLOT);
        b.op('get the state for createContainer hooks', Op.RECV_STATE, Sync.STATE_CREATING);
        emitHooks(b, 'createContainer', h.createContainer);
      }
    },
  });

  // runc's nsexec makes the init a session leader (setsid) in its namespaces, so its process
  // group and session are its own, not the caller's from outside the pid namespace.
  b.op('start a new session', Op.SETSID);
  // runc's specconv gives every new network namespace the "loopback" network: lo is up.
  if (ns.isNew('network')) b.op('bring the loopback interface up', Op.LOOPBACK_UP);
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    b.op(`write sysctl ${key}`, Op.WRITE_PROC, b.str(`/proc/sys/${key.replace(/\./g, '/')}`), b.str(value));
  }
  // runc HEAD maskPaths: each path once (lexically cleaned), and the masked directories share one
  // read-only tmpfs (held in MASK_SLOT while the masks are made).
  const masked = [...new Set((spec.linux?.maskedPaths ?? []).map((p) => path.posix.normalize(p).replace(/(.)\/+$/, '$1')))];
  for (const p of masked) b.op(`mask ${p}`, Op.MASK_PATH, b.str(p), MASK_SLOT);
  if (masked.length) b.op('close the shared mask', Op.CLOSE_SLOT, MASK_SLOT);
  for (const p of spec.linux?.readonlyPaths ?? []) b.op(`make ${p} read-only`, Op.READONLY_PATH, b.str(p));
  if (proc.terminal) emitConsole(b, proc, true);
  if (spec.root?.readonly) b.op('remount / read-only', Op.REMOUNT_ROOT_RO);
  if (spec.hostname !== undefined && ns.has('uts')) b.op(`sethostname ${spec.hostname}`, Op.SETHOSTNAME, b.str(spec.hostname));
  if (spec.domainname !== undefined && ns.has('uts')) b.op(`setdomainname ${spec.domainname}`, Op.SETDOMAINNAME, b.str(spec.domainname));
  if (proc.oomScoreAdj !== undefined) {
    b.op(`write oom_score_adj ${proc.oomScoreAdj}`, Op.WRITE_PROC, b.str('/proc/self/oom_score_adj'), b.str(String(proc.oomScoreAdj)));
  }

  emitProcess(b, proc, {
    userns: ns.has('user'),
    preserveFds: o.preserveFds,
    fifoFd: o.fifoFd,
    mode: o.mode,
    seccomp: o.seccomp,
    startHooks: spec.hooks?.startContainer,
    stdio: o.stdio,
    personality: spec.linux?.personality,
    memoryPolicy: spec.linux?.memoryPolicy,
  });
  return { plan: b.build(), cloneFlags, namespaces: ns };
}

/** After a new (or joined) user namespace: wait for the id maps, then become its root. */
function emitBecomeRoot(b: PlanBuilder, what: string, wait = true): void {
  if (wait) b.op(`wait for the ${what} id maps`, Op.SYNC, Sync.USERMAP);
  b.op(`become root in the ${what} (gid)`, Op.SETRESGID, 0);
  b.op(`become root in the ${what} (uid)`, Op.SETRESUID, 0);
}

function nsFd(o: CompileOptions, type: NamespaceType): number {
  const fd = o.nsFds.get(type);
  if (fd === undefined) throw new TypeError(`compilePlan: no fd for the ${type} namespace to join`);
  return fd;
}

export interface ProcessOptions {
  /** In a user namespace: setgroups may be denied. */
  userns: boolean;
  preserveFds: number;
  fifoFd?: number;
  mode: 'create' | 'run';
  seccomp?: SeccompProgram;
  /** An `exec`'d process (runc's setns init), not a container's init. */
  exec?: boolean;
  /** startContainer hooks: run in the container after start, before execve. */
  startHooks?: Hook[];
  /** fds to dup2 onto 0-2 (ignored with a terminal: the pty is 0-2 then). */
  stdio?: readonly number[];
  personality?: LinuxPersonality;
  memoryPolicy?: LinuxMemoryPolicy;
}

export interface SeccompProgram {
  bpf: Buffer;
  flags: number;
  notify: boolean;
}

/**
 * The process part shared by a container's init and `exec`: rlimits, seccomp (before the
 * capabilities drop unless no_new_privs, as runc), user and capabilities in runc's
 * finalizeNamespace order, umask, cwd, fds, PATH lookup, READY, and execve.
 */
export function emitProcess(b: PlanBuilder, proc: Process, o: ProcessOptions): void {
  // Library pipes become 0-2 first, so the stdio chown below sees them; the originals are
  // >= 3 + preserveFds, so CLOSE_FDS marks them close-on-exec and they do not reach the program.
  if (!proc.terminal) {
    for (const [to, from] of (o.stdio ?? []).entries()) {
      if (from !== to) b.op(`dup fd ${from} onto ${to}`, Op.DUP2, from, to);
    }
  }
  const args = proc.args ?? [];
  const { env, homeIndex } = withHome(proc.env ?? []);
  const envList = b.list(env);
  // runc setupUser: HOME from the container's /etc/passwd when the env has none (or "HOME="),
  // read in the child from the container's root (RESOLVE_IN_ROOT), before seccomp and the user switch.
  if (homeIndex !== undefined) b.op(`set HOME of uid ${proc.user.uid}`, Op.SET_HOME, proc.user.uid, envList, homeIndex);
  emitRlimits(b, proc);
  emitProcessAttrs(b, proc, o.personality, o.memoryPolicy);
  if (o.seccomp && !proc.noNewPrivileges) emitSeccomp(b, o.seccomp);

  const caps = capSets(proc.capabilities);
  const [bLo, bHi] = split64(caps.bounding);
  b.op('drop capabilities from the bounding set', Op.CAPBSET_DROP, bLo, bHi, kernelLastCap());
  // runc finalizeNamespace: chdir before the user switch (a directory only root can enter, such as
  // /root, still works) and again after it if that was refused (a directory only the user can enter).
  b.op(`chdir to ${proc.cwd}`, Op.CHDIR, b.str(proc.cwd), ChdirMode.FIRST);
  b.op('keep capabilities across setuid', Op.KEEPCAPS, 1);
  // runc fixStdioPermissions: stdio (the pty slave, a file) is chowned to the user it becomes.
  b.op(`chown stdio to uid ${proc.user.uid}`, Op.FIX_STDIO, proc.user.uid);
  const gids = (proc.user.additionalGids ?? []).map(String);
  // setgroups(2) is refused in a user namespace whose setgroups file says "deny".
  if (!o.userns || gids.length) b.op(`setgroups [${gids.join(',')}]`, Op.SETGROUPS, b.list(gids));
  b.op(`setresgid ${proc.user.gid}`, Op.SETRESGID, proc.user.gid);
  b.op(`setresuid ${proc.user.uid}`, Op.SETRESUID, proc.user.uid);
  b.op('clear keep-capabilities', Op.KEEPCAPS, 0);
  b.op(`chdir to ${proc.cwd} (as the user)`, Op.CHDIR, b.str(proc.cwd), ChdirMode.RETRY);
  const [eLo, eHi] = split64(caps.effective);
  const [pLo, pHi] = split64(caps.permitted);
  const [iLo, iHi] = split64(caps.inheritable);
  b.op('capset', Op.CAPSET, eLo, eHi, pLo, pHi, iLo, iHi);
  const [aLo, aHi] = split64(caps.ambient);
  b.op('set ambient capabilities', Op.AMBIENT, aLo, aHi);
  b.op('set umask', Op.UMASK, proc.user.umask ?? 0o022);

  b.op('close inherited fds', Op.CLOSE_FDS, 3 + o.preserveFds, o.fifoFd ?? NONE);
  const pathVar =
    [...env]
      .reverse()
      .find((e) => e.startsWith('PATH='))
      ?.slice(5) ?? DEFAULT_PATH;
  const lookup = b.op(`exec: "${args[0]}"`, Op.LOOKUP_EXEC, b.str(args[0]), b.str(pathVar));
  b.meta[lookup] = { exec: args[0] };
  if (proc.noNewPrivileges) b.op('set no_new_privs', Op.NO_NEW_PRIVS);
  if (o.startHooks?.length) b.op('get the state for startContainer hooks', Op.RECV_STATE, Sync.STATE_CREATED);
  // The parent (create) exits as soon as it has answered READY; the init must outlive it and be
  // inherited by the engine. Cleared before READY, not after: otherwise the parent may exit
  // between its answer and this prctl, and the pending SIGKILL takes the parked init with it.
  // A parent that dies before answering is still noticed: the READY read sees EOF and exits.
  b.op('clear the parent-death signal', Op.PDEATHSIG, 0);
  // runc standard_init_linux.go: with no_new_privs the filter is loaded as late as it can be but
  // before the init reports ready, so the fifo wait and the startContainer hooks run under it.
  // (`exec` follows runc's setns init instead: the filter right before execve.)
  if (o.seccomp && proc.noNewPrivileges && !o.exec) emitSeccomp(b, o.seccomp);
  b.op('report ready', Op.SYNC, Sync.READY);
  if (o.mode === 'create') {
    if (o.fifoFd === undefined) throw new TypeError('compilePlan: create needs the exec.fifo fd');
    b.op('wait for start on exec.fifo', Op.WAIT_FIFO, o.fifoFd);
  }
  if (o.startHooks?.length) emitHooks(b, 'startContainer', o.startHooks);
  if (o.seccomp && proc.noNewPrivileges && o.exec) emitSeccomp(b, o.seccomp);
  emitFinalAffinity(b, proc);
  const exec = b.op(`exec "${args[0]}"`, Op.EXECVE, b.list(args), envList);
  b.meta[exec] = { exec: args[0] };
}

/**
 * runc sets HOME when `os.Getenv("HOME")` is empty after the process env is applied: no HOME
 * entry, or the last one is "HOME=". The entry to fill is "HOME=/" (runc's default for a user
 * without a passwd entry) until the child finds the user's home.
 */
export function withHome(env: readonly string[]): { env: string[]; homeIndex?: number } {
  const out = [...env];
  let last = -1;
  for (const [i, e] of out.entries()) if (e.startsWith('HOME=')) last = i;
  if (last < 0) {
    out.push('HOME=/');
    return { env: out, homeIndex: out.length - 1 };
  }
  if (out[last] !== 'HOME=') return { env: out };
  out[last] = 'HOME=/';
  return { env: out, homeIndex: last };
}

function emitHooks(b: PlanBuilder, kind: string, hooks: readonly Hook[]): void {
  for (const [i, h] of hooks.entries()) {
    const args = h.args?.length ? h.args : [h.path];
    const op = b.op(`${kind} hook #${i} (${h.path})`, Op.RUN_HOOK, b.str(h.path), b.list(args), b.list(h.env ?? []), h.timeout ?? 0);
    b.meta[op] = { hook: { kind, index: i, path: h.path, timeout: h.timeout ?? 0 } };
  }
}

/** A pty from the container's devpts; the init also gets it bound on /dev/console. */
function emitConsole(b: PlanBuilder, proc: Process, mountConsole: boolean): void {
  b.op('set up the console', Op.CONSOLE, proc.consoleSize?.height ?? 0, proc.consoleSize?.width ?? 0, Sync.PTY, mountConsole ? 1 : 0);
}

function emitSeccomp(b: PlanBuilder, p: SeccompProgram): void {
  const [off, len] = b.blob(p.bpf);
  b.op('load the seccomp filter', Op.SECCOMP, off, len, p.flags, Sync.SECCOMP_LISTENER);
}

function emitRlimits(b: PlanBuilder, proc: Process): void {
  const limits = proc.rlimits ?? [];
  for (const r of limits) {
    const res = RLIMIT_NUMBERS[r.type];
    const [sLo, sHi] = split64(rlimitValue(r.soft));
    const [hLo, hHi] = split64(rlimitValue(r.hard));
    b.op(`setrlimit ${r.type}`, Op.RLIMIT, res, sLo, sHi, hLo, hHi);
  }
  if (!limits.some((r) => r.type === 'RLIMIT_NOFILE')) {
    // Node raised RLIMIT_NOFILE's soft limit at start-up; give the container the caller's.
    const nofile = callerNofile();
    if (nofile) {
      const [sLo, sHi] = split64(nofile.soft);
      const [hLo, hHi] = split64(nofile.hard);
      b.op('restore the caller RLIMIT_NOFILE', Op.RLIMIT, RLIMIT_NUMBERS.RLIMIT_NOFILE, sLo, sHi, hLo, hHi);
    }
  }
}

export interface ExecCompileOptions {
  process: Process;
  /** fds of the init's namespaces (/proc/<pid>/ns/*), by type. */
  nsFds: Map<NamespaceType, number>;
  preserveFds: number;
  seccomp?: SeccompProgram;
  /** fds to become the process's 0-2. */
  stdio?: readonly number[];
  /** The container's linux.personality and linux.memoryPolicy: runc's setns init applies both. */
  personality?: LinuxPersonality;
  memoryPolicy?: LinuxMemoryPolicy;
}

/**
 * `exec`: join every namespace of the container's init (user first so the rest are entered with
 * its rights, mount last since it moves the root), fork so pid and time namespaces apply, then
 * the same process set-up as the init.
 */
export function compileExecPlan(o: ExecCompileOptions): CompiledPlan {
  const b = new PlanBuilder();
  b.op('set the parent-death signal', Op.PDEATHSIG, SIGKILL);
  for (const type of JOIN_ORDER) {
    const fd = o.nsFds.get(type);
    if (fd === undefined) continue;
    b.op(`join the container's ${type} namespace`, Op.SETNS, fd, NS_FLAG[type]);
    if (type === 'user') emitBecomeRoot(b, 'container user namespace', false);
  }
  b.op('fork into the container pid namespace', Op.FORK);
  b.op('set the parent-death signal', Op.PDEATHSIG, SIGKILL);
  b.op('start a new session', Op.SETSID);
  if (o.process.terminal) emitConsole(b, o.process, false);
  emitProcess(b, o.process, {
    exec: true,
    userns: o.nsFds.has('user'),
    preserveFds: o.preserveFds,
    mode: 'run',
    seccomp: o.seccomp,
    stdio: o.stdio,
    personality: o.personality,
    memoryPolicy: o.memoryPolicy,
  });
  return b.build();
}
