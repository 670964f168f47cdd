// linux.seccomp.flags → SECCOMP_FILTER_FLAG_* for the seccomp(2) call itself (they are not libseccomp
// attributes here: the child loads the raw program). Semantics are runc's (specconv.SetupSeccomp,
// seccomp.FlagSupported): no `flags` key → SPEC_ALLOW if the kernel has it; a listed flag the
// kernel lacks is an error; TSYNC is accepted and ignored (the child is single-threaded).
import { InvalidSpecError } from '../errors.js';
import { seccompLib } from './seccomp-lib.js';

// linux/seccomp.h
export const SECCOMP_SET_MODE_FILTER = 1;
export const SECCOMP_FILTER_FLAG_TSYNC = 1 << 0;
export const SECCOMP_FILTER_FLAG_LOG = 1 << 1;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2;
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5;

const FLAG_BITS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 0,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
};

const EFAULT = 14;
const probed = new Map<number, boolean>();

/**
 * Whether this kernel knows a filter flag. seccomp(SET_MODE_FILTER, flags, NULL) checks the flags
 * before it reads the program (kernel/seccomp.c seccomp_set_mode_filter): EFAULT means the flags
 * were accepted, EINVAL that they were not, and nothing is ever installed. WAIT_KILLABLE_RECV is
 * only valid together with NEW_LISTENER, so it is probed with it.
 */
function kernelHas(bit: number): boolean {
  if (bit === 0) return true;
  let ok = probed.get(bit);
  if (ok === undefined) {
    const lib = seccompLib();
    const flags = bit === SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ? bit | SECCOMP_FILTER_FLAG_NEW_LISTENER : bit;
    ok = lib.seccompProbe(SECCOMP_SET_MODE_FILTER, flags) < 0 && lib.errno() === EFAULT;
    probed.set(bit, ok);
  }
  return ok;
}

/** The flag names `features` may list as supportedFlags (features-linux.md). */
export function seccompSupportedFlags(): string[] {
  return Object.entries(FLAG_BITS)
    .filter(([, bit]) => kernelHas(bit))
    .map(([name]) => name);
}

/** The seccomp() flags for a config's `flags`, without NEW_LISTENER (the caller adds it). */
export function resolveFlags(names: string[] | undefined, notify: boolean, path: string): number {
  if (names === undefined) return kernelHas(SECCOMP_FILTER_FLAG_SPEC_ALLOW) ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0;
  const problems: string[] = [];
  let flags = 0;
  names.forEach((name, i) => {
    const bit = FLAG_BITS[name];
    if (bit === undefined) problems.push(`${path}[${i}]: seccomp flag ${JSON.stringify(name)} is not known`);
    else if (!kernelHas(bit)) problems.push(`${path}[${i}]: seccomp flag ${name} is not supported by this kernel`);
    // The kernel refuses WAIT_KILLABLE_RECV without a listener (EINVAL at load time); say why now.
    else if (bit === SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV && !notify) problems.push(`${path}[${i}]: ${name} needs an SCMP_ACT_NOTIFY rule`);
    else flags |= bit;
  });
  if (problems.length > 0) throw new InvalidSpecError(problems);
  return flags;
}
