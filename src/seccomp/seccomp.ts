// linux.seccomp (runtime-spec config-linux.md "Seccomp") → a BPF program for seccomp(2).
// Generated here, in the parent, with libseccomp through koffi; loaded by the child with the raw
// seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) syscall as the last step before execve (OP_SECCOMP,
// native/child.cc). Mapping rules are runc's (libcontainer/seccomp/seccomp_linux.go and
// specconv.SetupSeccomp) so profiles written for Docker/containerd/Podman behave the same.
import fs from 'node:fs';
import { InvalidSpecError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LinuxSeccomp } from '../spec/types.js';
import { AUDIT_ARCH_X86_64, BPF_MAXINSNS, decodeProgram, encodeProgram, enosysPrologue, type EnosysArch } from './seccomp-bpf.js';
import { NR_SCMP_ERROR, SCMP_ACT, SCMP_CMP, SCMP_FLTATR_CTL_NNP, SCMP_FLTATR_CTL_OPTIMIZE, seccompLib, type ArgCmp, type SeccompLib } from './seccomp-lib.js';
import { errnoCode, syscallError } from '../sys/libc.js';
import { resolveFlags, SECCOMP_FILTER_FLAG_NEW_LISTENER } from './seccomp-flags.js';
import { cacheKey, readCached, writeCached } from './seccomp-cache.js';
import { seccompSupportedFlags } from './seccomp-flags.js';
import { SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from '../spec/known-names.js';

export { sendSeccompListener } from './seccomp-listener.js';
export { seccompSupportedFlags, SECCOMP_FILTER_FLAG_NEW_LISTENER } from './seccomp-flags.js';

export interface CompiledSeccomp {
  /** struct sock_filter[] in host byte order, ready for struct sock_fprog. */
  bpf: Buffer;
  /** SECCOMP_FILTER_FLAG_* for the seccomp() call. */
  flags: number;
  /** True when the filter has SCMP_ACT_NOTIFY rules: flags include NEW_LISTENER. */
  notify: boolean;
}

const EPERM = 1;
const ENOSYS = 38;
const ENOMEM = 12;
const MFD_CLOEXEC = 1;

const quiet: Pick<Logger, 'debug'> = { debug() {} };

/** The libseccomp value of an OCI action; `errnoRet` only for ERRNO and TRACE (default EPERM). */
function actionValue(action: string, errnoRet: number | undefined, where: string, problems: string[]): number | undefined {
  const needsErrno = action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE';
  // config-linux.md: "When the action doesn't support an errno, the runtime MUST print and error and fail."
  if (errnoRet !== undefined && !needsErrno) {
    problems.push(`${where}: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}`);
  }
  // SCMP_ACT_ERRNO(x) keeps 16 bits (seccomp.h); anything wider would be silently truncated.
  if (errnoRet !== undefined && (!Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 0xffff)) {
    problems.push(`${where}: errnoRet ${errnoRet} is not an integer in 0..65535`);
    return undefined;
  }
  const e = errnoRet ?? EPERM;
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SCMP_ACT.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SCMP_ACT.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SCMP_ACT.TRAP;
    case 'SCMP_ACT_ERRNO':
      return (SCMP_ACT.ERRNO | e) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SCMP_ACT.TRACE | e) >>> 0;
    case 'SCMP_ACT_LOG':
      return SCMP_ACT.LOG;
    case 'SCMP_ACT_ALLOW':
      return SCMP_ACT.ALLOW;
    case 'SCMP_ACT_NOTIFY':
      return SCMP_ACT.NOTIFY;
    default:
      problems.push(`${where}: unknown seccomp action ${JSON.stringify(action)}`);
      return undefined;
  }
}

/** SCMP_ARCH_X86_64 → libseccomp's token, via its own name table ("x86_64"). */
function archToken(lib: SeccompLib, name: string): number {
  if (!/^SCMP_ARCH_[A-Z0-9_]+$/.test(name)) return 0;
  return lib.archResolveName(name.slice('SCMP_ARCH_'.length).toLowerCase()) >>> 0;
}

function u64(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v >= 0n && v < 1n << 64n ? v : undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  return undefined;
}

interface Rule {
  name: string;
  nr: number;
  action: number;
  args: ArgCmp[][];
  where: string;
}

export interface CompileSeccompOptions {
  logger?: Pick<Logger, 'debug'>;
  /** A root-owned directory (e.g. <root>/.cache/seccomp) for compiled filters; see seccomp-cache.ts. */
  cacheDir?: string;
}

/**
 * Compiles linux.seccomp to BPF. Returns undefined when the section asks for nothing (no default
 * action and no rules: runc treats that as seccomp disabled). Throws InvalidSpecError naming every
 * bad rule, or TsrunError when libseccomp refuses something.
 */
export function compileSeccomp(seccomp: LinuxSeccomp, opts: CompileSeccompOptions = {}): CompiledSeccomp | undefined {
  const log = opts.logger ?? quiet;
  if (!seccomp.defaultAction && (seccomp.syscalls ?? []).length === 0) return undefined;
  const key = opts.cacheDir ? cacheKey(seccomp) : undefined;
  if (opts.cacheDir && key) {
    const hit = readCached(opts.cacheDir, key);
    if (hit) {
      log.debug(`seccomp: filter ${key.slice(0, 12)} from the cache (${hit.bpf.length / 8} instructions)`);
      return hit;
    }
  }
  const out = generate(seccomp, log);
  if (opts.cacheDir && key && !writeCached(opts.cacheDir, key, out)) log.debug(`seccomp: cannot write the filter cache in ${opts.cacheDir}`);
  return out;
}

function generate(seccomp: LinuxSeccomp, log: Pick<Logger, 'debug'>): CompiledSeccomp {
  const syscalls = seccomp.syscalls ?? [];
  const problems: string[] = [];
  const P = 'linux.seccomp';
  const defAction = actionValue(seccomp.defaultAction, seccomp.defaultErrnoRet, `${P}.defaultAction`, problems);
  // runc: the notify fd has to reach the runtime through write(2) and the sync socket first.
  if (seccomp.defaultAction === 'SCMP_ACT_NOTIFY') problems.push(`${P}.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action`);

  const lib = seccompLib();
  const native = lib.archNative() >>> 0;
  const arches = new Map<string, { tok: number; i: number }>();
  (seccomp.architectures ?? []).forEach((name, i) => {
    const tok = archToken(lib, name);
    if (tok === 0) problems.push(`${P}.architectures[${i}]: architecture ${JSON.stringify(name)} is not supported by libseccomp ${lib.version}`);
    else arches.set(name, { tok, i });
  });

  const rules: Rule[] = [];
  let notify = false;
  let entries = 0;
  syscalls.forEach((sc, i) => {
    const where = `${P}.syscalls[${i}]`;
    const action = actionValue(sc.action, sc.errnoRet, where, problems);
    const names = sc.names ?? [];
    if (names.length === 0) problems.push(`${where}.names: must not be empty`);
    if (sc.action === 'SCMP_ACT_NOTIFY') {
      notify = true;
      if (names.includes('write')) problems.push(`${where}: SCMP_ACT_NOTIFY cannot be used for the write syscall`);
    }
    const conds = conditions(sc.args ?? [], where, problems);
    entries += names.length;
    if (action === undefined || conds === undefined) return;
    for (const name of names) {
      if (typeof name !== 'string' || name === '') {
        problems.push(`${where}.names: empty syscall name`);
        continue;
      }
      // Same action as the default: redundant, and libseccomp refuses it (runc skips it silently).
      if (action === defAction) continue;
      const nr = lib.resolveName(name);
      if (nr === NR_SCMP_ERROR) {
        log.debug(`seccomp: unknown syscall ${JSON.stringify(name)} ignored`);
        continue;
      }
      rules.push({ name, nr, action, args: conds, where });
    }
  });
  // Without an agent the notify fd has nowhere to go and every notified syscall would hang (runc
  // fails later, at the handshake: "seccomp listenerPath is not set"); refuse before any side effect.
  if (notify && !seccomp.listenerPath) problems.push(`${P}.listenerPath: required when a rule uses SCMP_ACT_NOTIFY`);
  if (problems.length > 0) throw new InvalidSpecError(problems);
  const flags = resolveFlags(seccomp.flags, notify, `${P}.flags`) | (notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);

  const ctx = lib.init(defAction!);
  // seccomp_init returns NULL for an invalid default action (checked above) or when its allocation
  // fails, and reports no errno of its own: what is left is ENOMEM.
  if (!ctx) throw syscallError('seccomp_init', ENOMEM, undefined, { context: 'seccomp' });
  let bpf: Buffer;
  try {
    for (const [name, { tok, i }] of arches) {
      const r = lib.archAdd(ctx, tok);
      if (r >= 0 || -r === 17 /* EEXIST: the native arch is already there */) continue;
      // EDOM: libseccomp cannot put arches of different byte order or word size rules in one filter.
      const why = -r === 33 ? `cannot share a filter with the native architecture (${errnoCode(r)})` : `cannot be added (${errnoCode(r)})`;
      throw new InvalidSpecError([`${P}.architectures[${i}]: ${name} ${why}`]);
    }
    // runc: > 32 entries → libseccomp's binary tree (2.5.x misbehaves with it and no rules).
    if (entries > 32) lib.attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    // The runtime sets no_new_privs itself, from process.noNewPrivileges (runc SetNoNewPrivsBit(false)).
    lib.attrSet(ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (const rule of rules) {
      for (const args of rule.args) {
        const r = lib.ruleAddArray(ctx, rule.action, rule.nr, args.length, args.length ? args : null);
        if (r < 0) throw new InvalidSpecError([`${rule.where}: libseccomp refused the rule for syscall ${rule.name} (${errnoCode(r)})`]);
      }
    }
    bpf = exportBpf(lib, ctx);
  } finally {
    lib.release(ctx);
  }

  if (needsEnosysPrologue(seccomp)) {
    const prologue = enosysPrologue(enosysArches(lib, seccomp, arches, native), (SCMP_ACT.ERRNO | ENOSYS) >>> 0);
    bpf = Buffer.concat([encodeProgram(prologue), bpf]);
  }
  const insns = bpf.length / 8;
  if (insns > BPF_MAXINSNS) {
    throw new InvalidSpecError([`${P}: the filter has ${insns} BPF instructions, more than the kernel's ${BPF_MAXINSNS} (BPF_MAXINSNS)`]);
  }
  return { bpf, flags, notify };
}

/**
 * runc's AND/OR rule: if one argument index appears more than once, each condition becomes its own
 * rule (OR, "revert to old behavior"); otherwise all conditions form one rule (AND).
 * MASKED_EQ: datum_a = value = the mask, datum_b = valueTwo = the expected result.
 */
function conditions(args: NonNullable<LinuxSeccomp['syscalls']>[number]['args'] & object, where: string, problems: string[]): ArgCmp[][] | undefined {
  const out: ArgCmp[] = [];
  const seen = new Set<number>();
  let repeated = false;
  let ok = true;
  args.forEach((a, j) => {
    const at = `${where}.args[${j}]`;
    const op = Object.hasOwn(SCMP_CMP, a.op) ? SCMP_CMP[a.op] : undefined;
    const value = u64(a.value),
      valueTwo = a.valueTwo === undefined ? 0n : u64(a.valueTwo);
    if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
      problems.push(`${at}.index: ${a.index} is not a syscall argument index (0..5)`);
      ok = false;
    }
    if (op === undefined) {
      problems.push(`${at}.op: unknown seccomp operator ${JSON.stringify(a.op)}`);
      ok = false;
    }
    if (value === undefined) {
      problems.push(`${at}.value: ${String(a.value)} is not an unsigned 64-bit integer`);
      ok = false;
    }
    if (valueTwo === undefined) {
      problems.push(`${at}.valueTwo: ${String(a.valueTwo)} is not an unsigned 64-bit integer`);
      ok = false;
    }
    if (!ok) return;
    if (seen.has(a.index)) repeated = true;
    seen.add(a.index);
    out.push({ arg: a.index, op: op!, datum_a: value!, datum_b: valueTwo! });
  });
  if (!ok) return undefined;
  if (out.length === 0) return [[]];
  return repeated ? out.map((c) => [c]) : [out];
}

/** seccomp_export_bpf into a memfd: it never blocks like a pipe would, and needs no temp file. */
function exportBpf(lib: SeccompLib, ctx: unknown): Buffer {
  const fd = lib.memfdCreate('tsrun-seccomp', MFD_CLOEXEC);
  if (fd < 0) throw syscallError('memfd_create', lib.errno(), undefined, { context: 'seccomp' });
  try {
    const r = lib.exportBpf(ctx, fd);
    if (r < 0) throw syscallError('seccomp_export_bpf', r, undefined, { context: 'seccomp' });
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    decodeProgram(buf.subarray(0, got)); // a whole number of instructions, or throw
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * runc patchbpf generatePatch: only when the default is not permissive (ALLOW, LOG, and TRACE,
 * whose tracer should handle new syscalls itself), and not when the default already is ENOSYS.
 */
function needsEnosysPrologue(s: LinuxSeccomp): boolean {
  if (['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(s.defaultAction)) return false;
  if (s.defaultAction === 'SCMP_ACT_ERRNO' && s.defaultErrnoRet === ENOSYS) return false;
  return true;
}

/**
 * Why a BPF prologue and not ERRNO(ENOSYS) rules for every number above the maximum: libseccomp
 * 2.5.4's tables stop at the syscalls it knows, but the kernel keeps adding them (6.x: statmount,
 * listmount, mseal, setxattrat, file_getattr …), and a newer libc calls those first. A rule per known
 * number would leave every syscall newer than libseccomp at the default errno, which is exactly the
 * failure this exists to prevent; one `nr > max → ENOSYS` compare per arch covers all of them.
 * The maximum is taken over every name the profile lists, whatever its action (runc findLastSyscalls),
 * on each arch of the filter; the native arch is always included.
 */
function enosysArches(lib: SeccompLib, s: LinuxSeccomp, arches: Map<string, { tok: number }>, native: number): EnosysArch[] {
  const tokens = new Set<number>([native, ...[...arches.values()].map((a) => a.tok)]);
  const names = new Set<string>();
  for (const sc of s.syscalls ?? []) for (const n of sc.names ?? []) names.add(n);
  const byAudit = new Map<number, EnosysArch>();
  const X32 = lib.archResolveName('x32') >>> 0;
  for (const tok of tokens) {
    let max = -1;
    for (const n of names) max = Math.max(max, lib.resolveNameArch(tok, n));
    if (max < 0) continue; // nothing named on this arch: libseccomp's program decides alone
    const audit = tok === X32 ? AUDIT_ARCH_X86_64 : tok;
    const e = byAudit.get(audit) ?? { auditArch: audit };
    if (tok === X32) e.maxX32 = max;
    else e.max = max;
    // AUDIT_ARCH_S390 / AUDIT_ARCH_S390X (EM_S390 = 22).
    if ((audit & 0xffff) === 22) e.s390 = true;
    byAudit.set(audit, e);
  }
  return [...byAudit.values()];
}

/**
 * What `tsrun features` may claim for linux.seccomp (features-linux.md), measured on this machine:
 * the archs this libseccomp knows, the flags this kernel accepts. Loads libseccomp.
 */
export function seccompFeatures(): {
  enabled: true;
  actions: string[];
  operators: string[];
  archs: string[];
  knownFlags: string[];
  supportedFlags: string[];
  libseccompVersion: string;
} {
  const lib = seccompLib();
  return {
    enabled: true,
    actions: [...SECCOMP_ACTIONS],
    operators: [...SECCOMP_OPERATORS],
    archs: SECCOMP_ARCHS.filter((a) => archToken(lib, a) !== 0),
    knownFlags: [...SECCOMP_FLAGS],
    supportedFlags: seccompSupportedFlags(),
    libseccompVersion: lib.version,
  };
}
