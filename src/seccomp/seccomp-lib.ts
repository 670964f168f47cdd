// libseccomp 2.5.x and the few libc calls seccomp generation needs, through koffi. Loaded on first
// use only: a config without linux.seccomp never pays the ~8 ms koffi costs
// (measured: loading koffi and libseccomp). Nothing here loads a filter into this process: the BPF is
// generated here and loaded by the child with the raw seccomp() syscall, as crun does.
import { TsrunError } from '../errors.js';
import { koffi as loadKoffi, lastErrno, libc as sharedLibc, type Library } from '../sys/libc.js';

/** seccomp.h: the rule action values (SCMP_ACT_*). */
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  NOTIFY: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** seccomp.h enum scmp_filter_attr. */
export const SCMP_FLTATR_CTL_NNP = 3;
export const SCMP_FLTATR_CTL_OPTIMIZE = 8;

/** seccomp.h enum scmp_compare. */
export const SCMP_CMP: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

/** seccomp.h: __NR_SCMP_ERROR, what the resolvers return for a name they do not know. */
export const NR_SCMP_ERROR = -1;

export interface ArgCmp {
  arg: number;
  op: number;
  datum_a: bigint;
  datum_b: bigint;
}

export interface SeccompLib {
  init(defAction: number): unknown;
  release(ctx: unknown): void;
  archAdd(ctx: unknown, arch: number): number;
  archNative(): number;
  archResolveName(name: string): number;
  resolveName(name: string): number;
  resolveNameArch(arch: number, name: string): number;
  /** The name of syscall `num` on `arch`, or null when libseccomp's table has none. */
  resolveNumArch(arch: number, num: number): string | null;
  ruleAddArray(ctx: unknown, action: number, nr: number, count: number, args: ArgCmp[] | null): number;
  attrSet(ctx: unknown, attr: number, value: number): number;
  exportBpf(ctx: unknown, fd: number): number;
  memfdCreate(name: string, flags: number): number;
  /** The raw seccomp(2) syscall with a NULL argument: only used to probe which flags exist. */
  seccompProbe(op: number, flags: number): number;
  errno(): number;
  version: string;
}

// seccomp(2) has no glibc wrapper in Debian 12; these are the kernel's __NR_seccomp values.
const SYS_SECCOMP: Partial<Record<string, number>> = {
  x64: 317,
  arm64: 277,
  riscv64: 277,
  loong64: 277,
  ppc64: 358,
  s390x: 348,
  ia32: 354,
  arm: 383,
};

let lib: SeccompLib | undefined;

/** Binds libseccomp.so.2 and libc once; throws TSRUN_UNSUPPORTED when libseccomp is missing. */
export function seccompLib(): SeccompLib {
  if (lib) return lib;
  const koffi = loadKoffi();
  let ls: Library;
  try {
    ls = koffi.load('libseccomp.so.2');
  } catch (err) {
    throw new TsrunError('TSRUN_UNSUPPORTED', 'seccomp: cannot load libseccomp.so.2 (install the libseccomp2 package)', { cause: err });
  }
  const libc = sharedLibc();
  // seccomp.h: struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a, datum_b; }
  // Registered by name for the prototypes below.
  koffi.struct('tsrun_scmp_arg_cmp', { arg: 'uint32_t', op: 'int', datum_a: 'uint64_t', datum_b: 'uint64_t' });
  const scmpVersion = koffi.struct('tsrun_scmp_version', { major: 'uint32_t', minor: 'uint32_t', micro: 'uint32_t' });
  const f = (sig: string) => ls.func(sig) as never;
  const versionFn = ls.func('const tsrun_scmp_version *seccomp_version(void)');
  const v = koffi.decode(versionFn(), scmpVersion) as { major: number; minor: number; micro: number };
  const nr = SYS_SECCOMP[process.arch];
  const rawSeccomp = nr === undefined ? undefined : libc.func('long syscall(long nr, long op, unsigned long flags, void *args)');
  lib = {
    init: f('void *seccomp_init(uint32_t def_action)'),
    release: f('void seccomp_release(void *ctx)'),
    archAdd: f('int seccomp_arch_add(void *ctx, uint32_t arch)'),
    archNative: f('uint32_t seccomp_arch_native(void)'),
    archResolveName: f('uint32_t seccomp_arch_resolve_name(const char *name)'),
    resolveName: f('int seccomp_syscall_resolve_name(const char *name)'),
    resolveNameArch: f('int seccomp_syscall_resolve_name_arch(uint32_t arch, const char *name)'),
    // The returned string is malloc'd by libseccomp: `!` makes koffi free it after copying.
    resolveNumArch: f('str! seccomp_syscall_resolve_num_arch(uint32_t arch, int num)'),
    // Never the variadic seccomp_rule_add: struct arguments through varargs are not portable.
    ruleAddArray: ls.func(
      'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const tsrun_scmp_arg_cmp *arg_array)',
    ) as never,
    attrSet: f('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    exportBpf: f('int seccomp_export_bpf(void *ctx, int fd)'),
    memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)') as never,
    seccompProbe: (op, flags) => {
      if (!rawSeccomp || nr === undefined) return -1;
      return Number(rawSeccomp(nr, op, flags, null));
    },
    errno: lastErrno,
    version: `${v.major}.${v.minor}.${v.micro}`,
  };
  return lib;
}
