// linux.resources.devices → the set of device rules a cgroup v2 eBPF filter enforces.
// cgroup v1 semantics are the contract (config-linux.md "Allowed Device list" was written for
// devices.allow/deny), so the rules run through an emulator of the v1 kernel list, as runc does:
// a type "a" rule resets the list and sets the default (allow-all or deny-all); a rule with the
// other verdict adds to the list; a rule with the default's verdict removes (or narrows) an
// entry, and refuses to punch a hole in a wildcard entry, which v1 silently ignored.
import { CgroupError } from '../errors.js';
import type { LinuxDeviceCgroup } from '../spec/types.js';

export type DeviceType = 'b' | 'c';
export const WILDCARD = -1;

export interface DeviceRule {
  type: DeviceType;
  major: number;
  minor: number;
  /** A subset of "rwm", in that order. */
  access: string;
}

export interface DeviceRuleSet {
  /** True: everything is allowed except the rules (blacklist); false: only the rules are allowed. */
  defaultAllow: boolean;
  rules: DeviceRule[];
}

const c = (major: number, minor: number, access = 'rwm'): LinuxDeviceCgroup => ({ allow: true, type: 'c', major, minor, access });

/**
 * runc specconv AllowedDevices, appended after the config's rules: mknod of any device, the
 * standard character devices, the pty devices and /dev/net/tun.
 */
export const DEFAULT_ALLOWED_DEVICES: readonly LinuxDeviceCgroup[] = [
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  c(1, 3), // /dev/null
  c(1, 8), // /dev/random
  c(1, 7), // /dev/full
  c(5, 0), // /dev/tty
  c(1, 5), // /dev/zero
  c(1, 9), // /dev/urandom
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
  c(5, 2), // /dev/ptmx
  c(10, 200), // /dev/net/tun
];

function normAccess(a: string): string {
  return ['r', 'w', 'm'].filter((x) => a.includes(x)).join('');
}

const keyOf = (t: DeviceType, major: number, minor: number) => `${t} ${major} ${minor}`;

export class DeviceEmulator {
  defaultAllow = false;
  private entries = new Map<string, DeviceRule>();

  apply(r: LinuxDeviceCgroup, where = 'linux.resources.devices'): void {
    const type = r.type ?? 'a';
    const access = normAccess(r.access ?? 'rwm');
    if (type === 'a' || type === '') {
      // v1: "a" (all devices, all access) resets the list whatever else the rule says.
      this.defaultAllow = r.allow;
      this.entries.clear();
      return;
    }
    if (type !== 'b' && type !== 'c') throw new CgroupError(`${where}: unsupported device type ${JSON.stringify(type)}`);
    const major = r.major ?? WILDCARD;
    const minor = r.minor ?? WILDCARD;
    const key = keyOf(type, major, minor);
    if (r.allow !== this.defaultAllow) {
      const old = this.entries.get(key);
      this.entries.set(key, { type, major, minor, access: normAccess((old?.access ?? '') + access) });
      return;
    }
    for (const [pMajor, pMinor] of [
      [WILDCARD, minor],
      [major, WILDCARD],
      [WILDCARD, WILDCARD],
    ]) {
      if (pMajor === major && pMinor === minor) continue;
      const partial = this.entries.get(keyOf(type, pMajor, pMinor));
      if (partial && [...access].some((x) => partial.access.includes(x))) {
        const fmt = (a: number) => (a === WILDCARD ? '*' : String(a));
        throw new CgroupError(
          `${where}: rule ${type} ${fmt(major)}:${fmt(minor)} ${access} cannot punch a hole in the wildcard rule ${type} ${fmt(pMajor)}:${fmt(pMinor)} ${partial.access}`,
        );
      }
    }
    const old = this.entries.get(key);
    if (!old) return;
    const rest = [...old.access].filter((x) => !access.includes(x)).join('');
    if (rest) this.entries.set(key, { ...old, access: rest });
    else this.entries.delete(key);
  }

  result(): DeviceRuleSet {
    // Types are 'b' and 'c': a code-unit comparison, not localeCompare, whose first call sets up
    // ICU's collator (about half a millisecond of every create).
    const byType = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
    const rules = [...this.entries.values()].sort((a, b) => byType(a.type, b.type) || a.major - b.major || a.minor - b.minor);
    return { defaultAllow: this.defaultAllow, rules };
  }
}

/** The effective rule set: the config's rules, then runc's default allow list. */
export function deviceRuleSet(devices: readonly LinuxDeviceCgroup[] | undefined, defaults = true): DeviceRuleSet {
  const emu = new DeviceEmulator();
  (devices ?? []).forEach((d, i) => emu.apply(d, `linux.resources.devices[${i}]`));
  if (defaults) DEFAULT_ALLOWED_DEVICES.forEach((d) => emu.apply(d, 'default device rule'));
  return emu.result();
}

/** What the rule set decides for one access (the reference the eBPF program must agree with). */
export function decide(set: DeviceRuleSet, type: DeviceType, major: number, minor: number, access: string): boolean {
  const want = normAccess(access);
  const hit = set.rules.some(
    (r) =>
      r.type === type &&
      (r.major === WILDCARD || r.major === major) &&
      (r.minor === WILDCARD || r.minor === minor) &&
      [...want].every((x) => r.access.includes(x)),
  );
  return hit ? !set.defaultAllow : set.defaultAllow;
}
