// Platform selection from an OCI index / Docker manifest list (image-spec image-index.md,
// "platform"; GOARCH/GOOS names). Normalisation follows containerd's platforms package:
// arm64 without a variant is arm64/v8, x86_64 is amd64, aarch64 is arm64.

import { ImageError, InvalidArgumentError } from '../../errors.js';
import { quote } from '../../spec/cut.js';
import type { Descriptor, ImageIndex, Platform } from './media-types.js';

const ARCH_ALIASES: Record<string, string> = {
  x64: 'amd64',
  x86_64: 'amd64',
  'x86-64': 'amd64',
  ia32: '386',
  i386: '386',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  ppc64: 'ppc64',
  ppc64le: 'ppc64le',
};

/** Normalise architecture and variant (arm64 → v8 by default; amd64/v1 → no variant). */
export function normalizePlatform(p: Platform): Platform {
  for (const k of ['os', 'architecture'] as const) {
    if (typeof p?.[k] !== 'string') throw new InvalidArgumentError(`invalid platform: ${k} must be a string, got ${quote(p?.[k])}`);
  }
  if (p.variant !== undefined && typeof p.variant !== 'string')
    throw new InvalidArgumentError(`invalid platform: variant must be a string, got ${quote(p.variant)}`);
  const architecture = Object.hasOwn(ARCH_ALIASES, p.architecture) ? ARCH_ALIASES[p.architecture] : p.architecture;
  let variant = p.variant || undefined;
  if (architecture === 'arm64' && !variant) variant = 'v8';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const out: Platform = { os: p.os.toLowerCase(), architecture };
  if (variant) out.variant = variant;
  return out;
}

/** The platform this Node process runs on (process.arch x64 → amd64, arm64 → arm64/v8). */
export function hostPlatform(): Platform {
  const p: Platform = { os: process.platform === 'win32' ? 'windows' : process.platform, architecture: process.arch };
  if (process.arch === 'arm') {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    if (v) p.variant = `v${v}`;
  }
  return normalizePlatform(p);
}

/** Parse `os/arch[/variant]`, e.g. `linux/arm64/v8`. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => !/^[A-Za-z0-9_.-]+$/.test(x))) {
    throw new InvalidArgumentError(`invalid platform ${quote(s)}: want os/arch[/variant]`);
  }
  const p: Platform = { os: parts[0], architecture: parts[1] };
  if (parts[2]) p.variant = parts[2];
  return normalizePlatform(p);
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function matches(want: Platform, have: Platform | undefined, strictVariant: boolean): boolean {
  if (!have) return false;
  const h = normalizePlatform(have);
  if (h.os !== want.os || h.architecture !== want.architecture) return false;
  if (!strictVariant) return true;
  return (h.variant ?? '') === (want.variant ?? '');
}

/**
 * Pick the manifest for `want` from an index: an exact os/arch/variant match first, then (when
 * the caller gave no variant or none matches exactly) the first os/arch match. Entries without a
 * platform (attestations, nested artifacts) never match.
 */
export function selectManifest(index: ImageIndex, want: Platform, what: string): Descriptor {
  const w = normalizePlatform(want);
  const exact = index.manifests.find((m) => matches(w, m.platform, true));
  if (exact) return exact;
  // arm v7 hosts can run v6 and v5 images; amd64 without variant accepts any amd64 entry.
  const loose = index.manifests.filter((m) => matches(w, m.platform, false));
  if (w.architecture === 'arm' && w.variant) {
    const order = ['v8', 'v7', 'v6', 'v5'].slice(['v8', 'v7', 'v6', 'v5'].indexOf(w.variant));
    for (const v of order) {
      const m = loose.find((d) => normalizePlatform(d.platform as Platform).variant === v);
      if (m) return m;
    }
  } else if (loose.length > 0 && !w.variant) {
    return loose[0];
  }
  const have = index.manifests.map((m) => (m.platform ? formatPlatform(normalizePlatform(m.platform)) : 'none')).join(', ');
  throw new ImageError('TSRUN_IMAGE', `${what}: no manifest for platform ${formatPlatform(w)} (index has: ${have || 'nothing'})`);
}
