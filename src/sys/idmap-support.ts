// Whether this host can make idmapped mounts, for `tsrun features` (features-linux.md
// "mountExtensions.idmap") and for a clear refusal before the child tries. Two conditions
// (mount_setattr(2) "EINVAL ... the underlying filesystem does not support idmapped mounts"):
//  - the kernel has mount_setattr(2) and MOUNT_ATTR_IDMAP: Linux 5.12;
//  - the source's filesystem sets FS_ALLOW_IDMAP, which each filesystem gained in its own release.
import { statfsSync } from 'node:fs';
import os from 'node:os';

type Version = readonly [number, number];

const MOUNT_SETATTR_SINCE: Version = [5, 12];

/** statfs(2) f_type → [name, first kernel whose driver allows idmapped mounts]. */
const IDMAP_FS: ReadonlyMap<number, readonly [string, Version]> = new Map([
  [0xef53, ['ext4', [5, 12]]],
  [0x58465342, ['xfs', [5, 12]]],
  [0x4d44, ['vfat', [5, 12]]],
  [0x9123683e, ['btrfs', [5, 15]]],
  [0xf2f52010, ['f2fs', [5, 18]]],
  [0x794c7630, ['overlayfs', [5, 19]]],
  [0x01021994, ['tmpfs', [6, 3]]],
]);

export function kernelVersion(release: string = os.release()): Version {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function atLeast(v: Version, want: Version): boolean {
  return v[0] > want[0] || (v[0] === want[0] && v[1] >= want[1]);
}

/**
 * Why the filesystem holding `file` cannot be idmapped on this kernel, or undefined when it can or
 * when tsrun does not know the filesystem (the kernel then has the last word).
 */
export function idmapRefusal(file: string, release: string = os.release()): string | undefined {
  const kernel = kernelVersion(release);
  if (!atLeast(kernel, MOUNT_SETATTR_SINCE)) return `Linux ${release} has no mount_setattr(2) (idmapped mounts need 5.12 or later)`;
  let type: number;
  try {
    type = Number(statfsSync(file).type);
  } catch {
    return undefined;
  }
  const known = IDMAP_FS.get(type);
  if (known && !atLeast(kernel, known[1])) return `${known[0]} supports idmapped mounts only since Linux ${known[1].join('.')} (this is ${release})`;
  return undefined;
}

/** features: idmap is claimed when the kernel has mount_setattr and the host's / can be idmapped. */
export function idmapSupported(release: string = os.release()): boolean {
  return idmapRefusal('/', release) === undefined;
}
