// config.json validation: structure (the JSON type of every field tsrun reads) and the semantic
// rules runc enforces (libcontainer/specconv, libcontainer/configs/validate/validator.go), all
// collected in one pass so the user sees every problem at once. Hand-written, not a compiled
// JSON schema, to keep CLI start-up cheap: compiling a schema validator at start-up costs more than a
// short CLI call may spend.
// Where runc only warns (relative mount destinations, unknown capabilities) we warn too.

import { InvalidSpecError } from '../errors.js';
import { CAPABILITIES, HOOK_NAMES, IOPRIO_CLASSES, RLIMITS, SCHED_FLAGS, SCHED_POLICIES } from './known-names.js';
import { SPEC_VERSION } from './defaults.js';
import { MS, parseMountOptions } from './mount-options.js';
import type { Spec } from './types.js';
import { Checker, I32, I64, U32, U64, isAbs, isCpuList, type Obj, Problems, shapeProblem } from './validate-check.js';
import { cut, quote } from './cut.js';
import { normalizeSpec } from './normalize.js';
import { validateIdMappings, validateLinux } from './validate-linux.js';

export interface ValidateOptions {
  /** Receives runc-style warnings (the config is still accepted). */
  warnings?: string[];
}

/** Validate a parsed config.json. Returns it typed, or throws InvalidSpecError listing every problem. */
export function validateSpec(spec: unknown, opts: ValidateOptions = {}): Spec {
  // First, before any recursive walk (ours or JSON.stringify's when the state is saved) meets it.
  const shape = shapeProblem(spec);
  if (shape) throw new InvalidSpecError([`${cut(shape.path)}: ${shape.msg}`]);
  // Go's decoding rules (runc): canonical key spelling, zero values for absent fields.
  normalizeSpec(spec);
  const p = new Problems();
  const c = new Checker(p);
  const s = c.object('config', spec, true);
  if (s) {
    const version = c.string('ociVersion', s.ociVersion, true);
    // runtime-spec config.md: ociVersion "MUST be in SemVer v2.0.0 format". runc does not check
    // the version at all, so other majors only warn (the spec's own example says 0.5.0-dev).
    if (version !== undefined) {
      const m = /^(\d+)\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(version);
      if (!m) p.err('ociVersion', `${quote(version)} is not a SemVer version`);
      else if (m[1] !== '1') p.warn('ociVersion', `version ${version} is not 1.x; interpreting it as ${SPEC_VERSION}`);
    }
    const root = c.object('root', s.root, true);
    if (root) {
      const rp = c.string('root.path', root.path, true);
      if (rp === '') p.err('root.path', 'must not be empty');
      c.bool('root.readonly', root.readonly);
    }
    const namespaces = validateLinux(c, c.object('linux', s.linux));
    const hostname = c.string('hostname', s.hostname);
    const domainname = c.string('domainname', s.domainname);
    // runc validator.go uts(): the names can only be set in a private UTS namespace.
    if (hostname && !namespaces.has('uts')) p.err('hostname', 'unable to set hostname without a private UTS namespace');
    if (domainname && !namespaces.has('uts')) p.err('domainname', 'unable to set domainname without a private UTS namespace');
    c.eachObject('mounts', s.mounts, (m, path) => validateMount(c, m, path, namespaces.has('user')));
    validateProcess(c, c.object('process', s.process));
    validateHooks(c, c.object('hooks', s.hooks));
    c.stringMap('annotations', s.annotations);
  }
  if (opts.warnings) opts.warnings.push(...p.warnings);
  if (p.errors.length > 0) throw new InvalidSpecError(p.errors);
  return spec as Spec;
}

function validateMount(c: Checker, m: Obj, path: string, userns: boolean): void {
  const dest = c.string(`${path}.destination`, m.destination, true);
  if (dest === '') c.p.err(`${path}.destination`, 'must not be empty');
  // runc validator.go mountsWarn: relative destinations are deprecated, taken relative to "/".
  else if (dest !== undefined && !isAbs(dest)) {
    c.p.warn(`${path}.destination`, `relative destination ${quote(dest)} is deprecated, using it as relative to /`);
  }
  c.string(`${path}.type`, m.type);
  c.string(`${path}.source`, m.source);
  const options = c.strings(`${path}.options`, m.options);
  const uid = validateIdMappings(c, `${path}.uidMappings`, m.uidMappings);
  const gid = validateIdMappings(c, `${path}.gidMappings`, m.gidMappings);
  const parsed = parseMountOptions(options);
  const bind = (parsed.flags & MS.BIND) !== 0;
  // runc validator.go checkBindOptions: the kernel ignores filesystem data on bind mounts.
  if (bind && parsed.data !== '') {
    c.p.err(`${path}.options`, `bind mounts cannot have any filesystem-specific options applied (${quote(parsed.data)})`);
  }
  // runc validator.go checkIDMapMounts (runtime-spec 1.1.0 idmapped mounts). runc specconv:
  // "idmap"/"ridmap" without any mappings take the container's user namespace, if it has one.
  if (parsed.idmap || uid !== undefined || gid !== undefined) {
    if (!bind) c.p.err(path, 'id-mapped mounts are only supported for bind-mounts');
    const fromUserns = userns && uid === undefined && gid === undefined;
    if (!fromUserns && (!uid?.length || !gid?.length)) c.p.err(path, 'id-mapped mounts must have both uid and gid mappings specified');
  }
}

function validateProcess(c: Checker, proc: Obj | undefined): void {
  if (!proc) return;
  const p = c.p;
  c.bool('process.terminal', proc.terminal);
  const box = c.object('process.consoleSize', proc.consoleSize);
  if (box) {
    c.int('process.consoleSize.height', box.height, U32, true);
    c.int('process.consoleSize.width', box.width, U32, true);
  }
  const user = c.object('process.user', proc.user, true);
  if (user) {
    c.int('process.user.uid', user.uid, U32, true);
    c.int('process.user.gid', user.gid, U32, true);
    // umask(2) takes only the permission bits.
    c.int('process.user.umask', user.umask, [0, 0o777]);
    const gids = c.array('process.user.additionalGids', user.additionalGids);
    gids?.forEach((g, i) => c.int(`process.user.additionalGids[${i}]`, g, U32, true));
    c.string('process.user.username', user.username);
  }
  // runc: "args must not be empty" (a process with nothing to exec).
  c.strings('process.args', proc.args);
  if (proc.args === undefined || proc.args === null || (Array.isArray(proc.args) && proc.args.length === 0)) {
    p.err('process.args', 'must not be empty');
  }
  c.strings('process.env', proc.env);
  // config.md: cwd "MUST be an absolute path".
  c.absPath('process.cwd', proc.cwd, true);
  const caps = c.object('process.capabilities', proc.capabilities);
  if (caps) {
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) {
      const names = c.strings(`process.capabilities.${set}`, caps[set]);
      names?.forEach((n, i) => {
        // runc capabilities.New: unknown or unavailable capabilities are ignored with a warning,
        // so configs written for newer kernels still run.
        if (!CAPABILITIES.includes(n)) p.warn(`process.capabilities.${set}[${i}]`, `ignoring unknown capability ${quote(n)}`);
      });
    }
  }
  const seen = new Set<string>();
  c.eachObject('process.rlimits', proc.rlimits, (r, path) => {
    const type = c.oneOf(`${path}.type`, r.type, RLIMITS, 'rlimit type', true);
    const hard = c.int(`${path}.hard`, r.hard, U64, true);
    const soft = c.int(`${path}.soft`, r.soft, U64, true);
    if (type !== undefined) {
      // config.md: "If config.json contains duplicated entries of the same type, the runtime MUST generate an error".
      if (seen.has(type)) p.err(`${path}.type`, `duplicate rlimit ${type}`);
      seen.add(type);
    }
    // setrlimit(2) fails with EINVAL when soft > hard; report it before any side effect.
    if (hard !== undefined && soft !== undefined && soft > hard) p.err(path, `soft limit ${soft} exceeds hard limit ${hard}`);
  });
  c.bool('process.noNewPrivileges', proc.noNewPrivileges);
  c.string('process.apparmorProfile', proc.apparmorProfile);
  c.string('process.selinuxLabel', proc.selinuxLabel);
  // proc(5) /proc/pid/oom_score_adj accepts -1000..1000.
  c.int('process.oomScoreAdj', proc.oomScoreAdj, [-1000, 1000]);
  validateScheduler(c, c.object('process.scheduler', proc.scheduler));
  const io = c.object('process.ioPriority', proc.ioPriority);
  if (io) {
    // runc validator.go ioPriority(): class known, priority 0..7.
    c.oneOf('process.ioPriority.class', io.class, IOPRIO_CLASSES, 'ioPriority class', true);
    c.int('process.ioPriority.priority', io.priority, [0, 7], true);
  }
  const aff = c.object('process.execCPUAffinity', proc.execCPUAffinity);
  if (aff) {
    for (const k of ['initial', 'final']) {
      const v = c.string(`process.execCPUAffinity.${k}`, aff[k]);
      if (v !== undefined && !isCpuList(v)) p.err(`process.execCPUAffinity.${k}`, `invalid cpu list ${quote(v)}`);
    }
  }
}

function validateScheduler(c: Checker, s: Obj | undefined): void {
  if (!s) return;
  const path = 'process.scheduler';
  const policy = c.oneOf(`${path}.policy`, s.policy, SCHED_POLICIES, 'scheduler policy', true);
  const nice = c.int(`${path}.nice`, s.nice, I32);
  const prio = c.int(`${path}.priority`, s.priority, I32);
  c.strings(`${path}.flags`, s.flags)?.forEach((f, i) => {
    if (!SCHED_FLAGS.includes(f)) c.p.err(`${path}.flags[${i}]`, `unknown scheduler flag ${quote(f)}`);
  });
  const runtime = c.int(`${path}.runtime`, s.runtime, U64);
  const deadline = c.int(`${path}.deadline`, s.deadline, U64);
  const period = c.int(`${path}.period`, s.period, U64);
  if (policy === undefined) return;
  // runc validator.go scheduler(), after sched_setattr(2).
  if ((policy === 'SCHED_OTHER' || policy === 'SCHED_BATCH') && nice !== undefined && (nice < -20 || nice > 19)) {
    c.p.err(`${path}.nice`, `invalid nice ${nice} for ${policy} (want -20..19)`);
  }
  if (prio && policy !== 'SCHED_FIFO' && policy !== 'SCHED_RR') {
    c.p.err(`${path}.priority`, 'can only be specified for SCHED_FIFO or SCHED_RR policy');
  }
  if (policy !== 'SCHED_DEADLINE' && (runtime || deadline || period)) {
    c.p.err(path, 'runtime/deadline/period can only be specified for SCHED_DEADLINE policy');
  }
}

function validateHooks(c: Checker, hooks: Obj | undefined): void {
  if (!hooks) return;
  for (const name of HOOK_NAMES) {
    c.eachObject(`hooks.${name}`, hooks[name], (h, path) => {
      // config.md: hook path "MUST be absolute"; timeout "MUST be greater than zero".
      c.absPath(`${path}.path`, h.path, true);
      c.strings(`${path}.args`, h.args);
      c.strings(`${path}.env`, h.env);
      c.int(`${path}.timeout`, h.timeout, [1, I64[1]]);
    });
  }
}
