// Capability names → bit sets, and the ops that apply them. Order follows runc's
// finalizeNamespace: bounding set first (PR_CAPBSET_DROP needs CAP_SETPCAP, which setuid may
// drop), keep-caps across the uid change, then capset and the ambient set (capabilities(7)).
import { readFileSync } from 'node:fs';
import { CAPABILITIES } from '../spec/known-names.js';
import type { LinuxCapabilities } from '../spec/types.js';

export function capabilityMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const n of names ?? []) {
    const bit = CAPABILITIES.indexOf(n);
    // Unknown names were rejected by validation; a name newer than this table is skipped as
    // runc skips capabilities the running kernel does not know.
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask;
}

let lastCap: number | undefined;

/** /proc/sys/kernel/cap_last_cap: the highest capability the running kernel knows. */
export function kernelLastCap(): number {
  if (lastCap === undefined) {
    try {
      lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    } catch {
      lastCap = CAPABILITIES.length - 1;
    }
  }
  return lastCap;
}

export interface CapSets {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

export function capSets(caps: LinuxCapabilities | undefined): CapSets {
  return {
    bounding: capabilityMask(caps?.bounding),
    effective: capabilityMask(caps?.effective),
    permitted: capabilityMask(caps?.permitted),
    inheritable: capabilityMask(caps?.inheritable),
    ambient: capabilityMask(caps?.ambient),
  };
}

export function capabilityNames(mask: bigint): string[] {
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}
