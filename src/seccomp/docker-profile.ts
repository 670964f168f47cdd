// Docker's seccomp profile format → runtime-spec linux.seccomp, for `run --image` (issue 13: image
// runs had no seccomp filter at all). The default profile is data (docker-default.json, moby's
// profiles/seccomp/default.json at cd3bed80, reformatted only); this file only interprets it, as moby's
// profiles/seccomp/seccomp_linux.go setupSeccomp does: the native architecture's archMap entry
// gives `architectures`, and a rule's `includes`/`excludes` keep or drop it by the native
// architecture (Go/libseccomp names: amd64, arm64, …), the container's bounding capabilities (all
// of `includes.caps` needed; any of `excludes.caps` drops it) and the running kernel's version.
// `--security-opt seccomp=FILE` takes a file in the same format (Docker's).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { InvalidArgumentError } from '../errors.js';
import type { LinuxSeccomp, LinuxSyscall, Spec } from '../spec/types.js';
import defaultProfileData from './docker-default.json' with { type: 'json' };

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

/** Docker's default profile (moby profiles/seccomp/default.json), as data. */
export function dockerDefaultProfile(): DockerSeccompProfile {
  return defaultProfileData as DockerSeccompProfile;
}

/** What `--security-opt seccomp=…` chose: Docker's default, none, or a profile file's content. */
export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'file'; path: string; profile: DockerSeccompProfile };

/**
 * `--security-opt seccomp=VALUE` (undefined: Docker's default): "unconfined", or a file holding a
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
  if (choice.kind === 'default') return dockerProfileToSpec(dockerDefaultProfile(), ctx, 'the default seccomp profile') ?? undefined;
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
