// Seccomp for `run --image` (issue 13: image runs had no seccomp filter at all). Two inputs give
// a runtime-spec linux.seccomp here:
// - the built-in policy, tsrun's own data (default-profile.json, schema: BuiltinProfile below),
//   which follows the semantics of Docker's default seccomp profile (moby
//   profiles/seccomp/default.json): EPERM for anything not allowed, ordinary calls allowed, the
//   privileged ones only when the capability guarding them is in the bounding set;
// - `--security-opt seccomp=FILE`, a profile in Docker's format (users bring those), interpreted as
//   moby's setupSeccomp does: the native architecture's archMap entry gives `architectures`, and a
//   rule's `includes`/`excludes` keep or drop it by the native architecture (Go/libseccomp names:
//   amd64, arm64, …), the container's bounding capabilities (all of `includes.caps` needed; any of
//   `excludes.caps` drops it) and the running kernel's version.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { InvalidArgumentError } from '../errors.js';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, Spec } from '../spec/types.js';
import builtinProfileData from './default-profile.json' with { type: 'json' };

export interface DockerSeccompFilter {
  caps?: string[];
  arches?: string[];
  /** "major.minor" */
  minKernel?: string;
}

export interface DockerSyscall extends Partial<LinuxSyscall> {
  /** The older single-name form (moby keeps it for compatibility); not with `names`. */
  name?: string;
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

export interface DockerSeccompProfile extends Omit<LinuxSeccomp, 'syscalls' | 'defaultAction'> {
  defaultAction?: string;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls?: DockerSyscall[];
}

/** What a profile's conditions are decided on. */
export interface ProfileContext {
  /** libseccomp's native name (moby goToNative): amd64, arm64, x86, … */
  arch: string;
  /** The container process's bounding capabilities. */
  capabilities: readonly string[];
  /** The kernel's [major, minor]. */
  kernel: readonly [number, number];
}

/** Node's process.arch → moby's native arch name → SCMP_ARCH_* (seccomp_linux.go nativeToSeccomp). */
const NODE_TO_NATIVE: Record<string, string> = {
  ia32: 'x86',
  x64: 'amd64',
  arm: 'arm',
  arm64: 'arm64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
  ppc: 'ppc',
  ppc64: os.endianness() === 'LE' ? 'ppc64le' : 'ppc64',
  riscv64: 'riscv64',
  s390: 's390',
  s390x: 's390x',
};
const NATIVE_TO_SCMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mips3l64n32: 'SCMP_ARCH_MIPSEL64N32',
  mipsle: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

/** "6.18.0-1-amd64" → [6, 18]. */
export function parseKernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new InvalidArgumentError(`kernel release ${JSON.stringify(release)}: not MAJOR.MINOR…`);
  return [Number(m[1]), Number(m[2])];
}

/** The running host's context for capabilities `caps`. */
export function hostProfileContext(capabilities: readonly string[]): ProfileContext {
  return { arch: NODE_TO_NATIVE[process.arch] ?? process.arch, capabilities, kernel: parseKernelVersion(os.release()) };
}

function kernelAtLeast(kernel: readonly [number, number], min: string, where: string): boolean {
  const m = /^(\d+)\.(\d+)$/.exec(min);
  if (!m) throw new InvalidArgumentError(`${where}: minKernel ${JSON.stringify(min)} is not MAJOR.MINOR`);
  const [maj, minor] = [Number(m[1]), Number(m[2])];
  return kernel[0] > maj || (kernel[0] === maj && kernel[1] >= minor);
}

/** Whether a rule applies in ctx (moby setupSeccomp: excludes first, then includes). */
function applies(call: DockerSyscall, ctx: ProfileContext, where: string): boolean {
  const ex = call.excludes;
  if (ex) {
    if (ex.arches?.includes(ctx.arch)) return false;
    if (ex.caps?.some((c) => ctx.capabilities.includes(c))) return false;
    if (ex.minKernel !== undefined && kernelAtLeast(ctx.kernel, ex.minKernel, `${where}.excludes`)) return false;
  }
  const inc = call.includes;
  if (inc) {
    if (inc.arches?.length && !inc.arches.includes(ctx.arch)) return false;
    if (inc.caps?.length && !inc.caps.every((c) => ctx.capabilities.includes(c))) return false;
    if (inc.minKernel !== undefined && !kernelAtLeast(ctx.kernel, inc.minKernel, `${where}.includes`)) return false;
  }
  return true;
}

/**
 * The runtime-spec seccomp config a Docker profile gives in ctx; null when the profile disables
 * seccomp (no defaultAction and no syscalls, as moby). `source` names the profile in errors.
 */
export function dockerProfileToSpec(profile: DockerSeccompProfile, ctx: ProfileContext, source = 'seccomp profile'): LinuxSeccomp | null {
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) throw new InvalidArgumentError(`${source}: not a JSON object`);
  if (!profile.defaultAction && !profile.syscalls?.length) return null;
  if (!profile.defaultAction) throw new InvalidArgumentError(`${source}: no defaultAction`);
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new InvalidArgumentError(`${source}: both 'architectures' and 'archMap' are specified, use either 'architectures' or 'archMap'`);
  }
  if (profile.syscalls !== undefined && !Array.isArray(profile.syscalls)) throw new InvalidArgumentError(`${source}: syscalls is not an array`);
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;
  const architectures = [...(profile.architectures ?? [])];
  const scmp = NATIVE_TO_SCMP[ctx.arch];
  const native = scmp ? profile.archMap?.find((a) => a.architecture === scmp) : undefined;
  if (native) architectures.push(native.architecture, ...(native.subArchitectures ?? []));
  if (architectures.length) out.architectures = architectures;
  const syscalls: LinuxSyscall[] = [];
  (profile.syscalls ?? []).forEach((call, i) => {
    const where = `${source}: syscalls[${i}]`;
    if (typeof call !== 'object' || call === null) throw new InvalidArgumentError(`${where}: not an object`);
    if (call.name && call.names?.length) throw new InvalidArgumentError(`${where}: both 'name' and 'names' are specified, use either 'name' or 'names'`);
    const names = call.name ? [call.name] : call.names;
    if (!Array.isArray(names) || !names.length) throw new InvalidArgumentError(`${where}: no syscall names`);
    if (typeof call.action !== 'string') throw new InvalidArgumentError(`${where}: no action`);
    if (!applies(call, ctx, where)) return;
    const s: LinuxSyscall = { names: [...names], action: call.action };
    if (call.errnoRet !== undefined) s.errnoRet = call.errnoRet;
    if (call.args?.length) s.args = call.args.map((a) => ({ ...a }));
    syscalls.push(s);
  });
  if (syscalls.length) out.syscalls = syscalls;
  return out;
}

/** When a built-in group or rule applies: all that is given must hold. */
export interface BuiltinCondition {
  /** Native arch names (as ProfileContext.arch): one of them. */
  arches?: string[];
  /** Capabilities: at least one of them in the bounding set. */
  anyCap?: string[];
  /** "major.minor": the running kernel at least that. */
  minKernel?: string;
}

/** A named set of syscalls allowed together, for one reason. */
export interface BuiltinGroup {
  name: string;
  /** Why these are allowed (or why only under `when`). */
  why: string;
  when?: BuiltinCondition;
  /**
   * The kernel release that added these calls: libseccomp releases older than it do not know their
   * names (compileSeccomp skips unknown names), which the unit test accepts for these groups only.
   */
  since?: string;
  allow: string[];
}

/** A number in the data: decimal, or a "0x…" string. */
export type BuiltinValue = number | string;

/** One syscall allowed only for some values of one argument. */
export interface BuiltinArgumentRule {
  syscall: string;
  why: string;
  /** The rule is left out when this holds. */
  unless?: BuiltinCondition;
  /** The argument checked (0-based)… */
  arg: number;
  /** …or, on these native arches, this one instead. */
  argOnArch?: Record<string, number>;
  /** Allowed when the argument is one of these. */
  oneOf?: BuiltinValue[];
  /** Allowed when the argument is none of these. */
  noneOf?: BuiltinValue[];
  /** Allowed when none of these flags (CLONE_NEW*) is set in the argument. */
  flagsClear?: string[];
}

/** One syscall answered with an errno other than the default one. */
export interface BuiltinRefusal {
  syscall: string;
  why: string;
  unless?: BuiltinCondition;
  errno: string;
}

/** default-profile.json. */
export interface BuiltinProfile {
  about: string;
  /** The errno (by name) of everything not allowed. */
  refuseWith: string;
  /** Native arch → the SCMP_ARCH_* the filter covers there (the native one first). */
  architectures: Record<string, string[]>;
  groups: BuiltinGroup[];
  argumentRules: BuiltinArgumentRule[];
  refusals: BuiltinRefusal[];
}

/** The errnos the data may name. */
const ERRNO: Record<string, number> = { EPERM: 1, EACCES: 13, ENOSYS: 38 };
/** <linux/sched.h>: the flags that make new namespaces. */
const CLONE_FLAGS: Record<string, number> = {
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
};

/** The built-in policy's data (default-profile.json). */
export function builtinProfile(): BuiltinProfile {
  return builtinProfileData as BuiltinProfile;
}

function holds(c: BuiltinCondition, ctx: ProfileContext, where: string): boolean {
  if (c.arches && !c.arches.includes(ctx.arch)) return false;
  if (c.anyCap && !c.anyCap.some((cap) => ctx.capabilities.includes(cap))) return false;
  if (c.minKernel !== undefined && !kernelAtLeast(ctx.kernel, c.minKernel, where)) return false;
  return true;
}

function value(v: BuiltinValue, where: string): number {
  const n = typeof v === 'number' ? v : /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v.slice(2), 16) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${where}: ${JSON.stringify(v)} is not a number or 0x… string`);
  return n;
}

function errnoOf(name: string, where: string): number {
  const n = ERRNO[name];
  if (n === undefined) throw new InvalidArgumentError(`${where}: unknown errno ${JSON.stringify(name)}`);
  return n;
}

/** The rules an argument rule gives: one per allowed value or range (libseccomp ORs rules). */
function argumentRule(r: BuiltinArgumentRule, index: number, where: string): LinuxSyscall[] {
  const allow = (args: LinuxSeccompArg[]): LinuxSyscall => ({ names: [r.syscall], action: 'SCMP_ACT_ALLOW', args });
  const forms = [r.oneOf, r.noneOf, r.flagsClear].filter((f) => f !== undefined).length;
  if (forms !== 1) throw new InvalidArgumentError(`${where}: exactly one of oneOf, noneOf, flagsClear`);
  if (r.oneOf) return r.oneOf.map((v) => allow([{ index, value: value(v, where), op: 'SCMP_CMP_EQ' }]));
  if (r.flagsClear) {
    let mask = 0;
    for (const f of r.flagsClear) {
      const bit = CLONE_FLAGS[f];
      if (bit === undefined) throw new InvalidArgumentError(`${where}: unknown flag ${JSON.stringify(f)}`);
      mask |= bit;
    }
    return [allow([{ index, value: mask >>> 0, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }])];
  }
  // noneOf: the gaps between the refused values, each as a comparison (a rule's comparisons AND,
  // and one rule cannot compare the same argument twice, so a gap is LT, EQ or GT only).
  const refused = [...new Set(r.noneOf!.map((v) => value(v, where)))].sort((a, b) => a - b);
  const out: LinuxSyscall[] = [];
  if (refused[0] > 0) out.push(allow([{ index, value: refused[0], op: 'SCMP_CMP_LT' }]));
  for (let i = 1; i < refused.length; i++) {
    const [lo, hi] = [refused[i - 1], refused[i]];
    if (hi - lo === 2) out.push(allow([{ index, value: lo + 1, op: 'SCMP_CMP_EQ' }]));
    else if (hi - lo > 2) throw new InvalidArgumentError(`${where}: noneOf values ${lo} and ${hi} leave a gap wider than one value`);
  }
  out.push(allow([{ index, value: refused[refused.length - 1], op: 'SCMP_CMP_GT' }]));
  return out;
}

/** The runtime-spec seccomp config the built-in policy gives in ctx. */
export function builtinProfileToSpec(ctx: ProfileContext, profile: BuiltinProfile = builtinProfile()): LinuxSeccomp {
  const src = 'the built-in seccomp profile';
  const out: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: errnoOf(profile.refuseWith, `${src}: refuseWith`) };
  const architectures = profile.architectures[ctx.arch];
  if (architectures?.length) out.architectures = [...architectures];
  const syscalls: LinuxSyscall[] = [];
  for (const g of profile.groups) {
    const where = `${src}: group ${JSON.stringify(g.name)}`;
    if (g.when && !holds(g.when, ctx, where)) continue;
    syscalls.push({ names: [...g.allow], action: 'SCMP_ACT_ALLOW' });
  }
  for (const r of profile.argumentRules) {
    const where = `${src}: argument rule for ${r.syscall}`;
    if (r.unless && holds(r.unless, ctx, where)) continue;
    syscalls.push(...argumentRule(r, r.argOnArch?.[ctx.arch] ?? r.arg, where));
  }
  for (const r of profile.refusals) {
    const where = `${src}: refusal of ${r.syscall}`;
    if (r.unless && holds(r.unless, ctx, where)) continue;
    syscalls.push({ names: [r.syscall], action: 'SCMP_ACT_ERRNO', errnoRet: errnoOf(r.errno, where) });
  }
  out.syscalls = syscalls;
  return out;
}

/** What `--security-opt seccomp=…` chose: the built-in policy, none, or a Docker-format profile file's content. */
export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'file'; path: string; profile: DockerSeccompProfile };

/**
 * `--security-opt seccomp=VALUE` (undefined: the built-in policy): "unconfined", or a file holding a
 * Docker-format profile, read and parsed here, before anything is made, with errors naming it.
 */
export function loadSeccompChoice(value: string | undefined): SeccompChoice {
  if (value === undefined || value === 'builtin' || value === 'default') return { kind: 'default' };
  if (value === 'unconfined') return { kind: 'unconfined' };
  if (!value) throw new InvalidArgumentError('--security-opt seccomp= needs "unconfined" or a profile file');
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`seccomp profile ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let profile: unknown;
  try {
    profile = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`seccomp profile ${value}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) throw new InvalidArgumentError(`seccomp profile ${value}: not a JSON object`);
  // Its structure is checked now (the conditions are decided again with the container's caps).
  dockerProfileToSpec(profile as DockerSeccompProfile, hostProfileContext([]), `seccomp profile ${value}`);
  return { kind: 'file', path: value, profile: profile as DockerSeccompProfile };
}

/** The linux.seccomp an image run gets for `choice` in ctx (undefined: none). */
export function seccompForImageRun(choice: SeccompChoice, ctx: ProfileContext): LinuxSeccomp | undefined {
  if (choice.kind === 'unconfined') return undefined;
  if (choice.kind === 'default') return builtinProfileToSpec(ctx);
  return dockerProfileToSpec(choice.profile, ctx, `seccomp profile ${choice.path}`) ?? undefined;
}

/**
 * Sets an image run's linux.seccomp for `choice`, its conditional rules decided by the spec's
 * bounding capabilities (moby setupSeccomp uses Process.Capabilities.Bounding) on this host.
 */
export function applyImageSeccomp(spec: Spec, choice: SeccompChoice, host: Omit<ProfileContext, 'capabilities'> = hostProfileContext([])): void {
  const seccomp = seccompForImageRun(choice, { ...host, capabilities: spec.process?.capabilities?.bounding ?? [] });
  spec.linux ??= {};
  if (seccomp) spec.linux.seccomp = seccomp;
  else delete spec.linux.seccomp;
}
