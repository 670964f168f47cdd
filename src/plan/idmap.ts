// Idmapped bind mounts: runtime-spec config.md "Mounts" (uidMappings, gidMappings; options
// "idmap" and "ridmap"), planned the way runc 1.2 carries them out (libcontainer/specconv
// createLibcontainerMount, mount_linux.go mountFd):
//  - a mount is idmapped when it has mappings or one of the two options; only bind mounts can be;
//  - the mappings are user-namespace mappings ("containerID hostID size"): an id stored on the
//    source filesystem as containerID is seen at the mount as hostID;
//  - "idmap"/"ridmap" without mappings take the container's user namespace: its linux.uidMappings
//    and gidMappings when it makes one, the namespace itself when it joins one by path;
//  - "ridmap" idmaps every mount of an "rbind" tree, anything else only its top mount.
// The child clones the source and applies MOUNT_ATTR_IDMAP before it enters any namespace (the
// kernel wants the caller privileged over the source's filesystem, mount_setattr(2)), then attaches
// the clone once the rootfs is being set up (OP_IDMAP_MOUNT, native/child.cc).
import path from 'node:path';
import { InvalidSpecError } from '../errors.js';
import { MS, parseMountOptions } from '../spec/mount-options.js';
import type { LinuxIDMapping, Mount, Spec } from '../spec/types.js';
import { Idmap, NONE, Op } from './opcodes.js';
import type { PlanBuilder } from './plan-builder.js';
import { idmapRefusal } from '../sys/idmap-support.js';

/** Plan slots 16..63 hold the prepared (detached, idmapped) trees until they are attached. */
const FIRST_SLOT = 16;
const LAST_SLOT = 63;

export interface IdmapMount {
  /** Host path of the source (a relative source is taken from the bundle, as for any bind). */
  source: string;
  destination: string;
  /** Plan slot holding the prepared tree. */
  slot: number;
  /** Idmap.TREE_RECURSIVE ("rbind") | Idmap.RECURSIVE ("ridmap"). */
  flags: number;
  /** user_namespaces(7) map texts for a namespace made just for this mount... */
  uidMap?: string;
  gidMap?: string;
  /** ...or the fd of the container's joined user namespace. */
  usernsFd?: number;
}

/** True when the mount asks for an idmapping (runc specconv: mappings, "idmap" or "ridmap"). */
export function isIdmapped(m: Mount): boolean {
  return m.uidMappings !== undefined || m.gidMappings !== undefined || parseMountOptions(m.options).idmap !== undefined;
}

/** user_namespaces(7) "uid_map and gid_map" lines. */
export function mapText(maps: readonly LinuxIDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

export interface IdmapContext {
  bundle: string;
  /** fd of the user namespace the container joins by path, if it does. */
  joinedUsernsFd?: number;
  /** Effective uid of the runtime (rootless runtimes cannot idmap, as runc says). */
  euid?: number;
}

/** The idmapped mounts of a spec, keyed by their Mount; throws InvalidSpecError naming each bad one. */
export function planIdmapMounts(spec: Spec, ctx: IdmapContext): Map<Mount, IdmapMount> {
  const out = new Map<Mount, IdmapMount>();
  const problems: string[] = [];
  const userns = spec.linux?.namespaces?.find((n) => n.type === 'user');
  let slot = FIRST_SLOT;
  for (const [i, m] of (spec.mounts ?? []).entries()) {
    if (!isIdmapped(m)) continue;
    const where = `mounts[${i}] (${m.destination})`;
    const opts = parseMountOptions(m.options);
    // runc validator.go checkIDMapMounts, in its words.
    if ((opts.flags & MS.BIND) === 0) {
      problems.push(`${where}: id-mapped mounts are only supported for bind-mounts`);
      continue;
    }
    if ((ctx.euid ?? process.geteuid?.() ?? 0) !== 0) {
      problems.push(`${where}: id-mapped mounts are not supported for rootless containers`);
      continue;
    }
    let uid = m.uidMappings;
    let gid = m.gidMappings;
    let usernsFd: number | undefined;
    if (uid === undefined && gid === undefined && userns) {
      if (userns.path) usernsFd = ctx.joinedUsernsFd;
      else [uid, gid] = [spec.linux?.uidMappings, spec.linux?.gidMappings];
    }
    if (usernsFd === undefined && (!uid?.length || !gid?.length)) {
      problems.push(`${where}: id-mapped mounts must have both uid and gid mappings specified`);
      continue;
    }
    if (slot > LAST_SLOT) {
      problems.push(`${where}: tsrun makes at most ${LAST_SLOT - FIRST_SLOT + 1} id-mapped mounts per container`);
      continue;
    }
    const src = m.source ?? '';
    const source = path.isAbsolute(src) ? src : path.join(ctx.bundle, src);
    const refusal = idmapRefusal(source);
    if (refusal) {
      problems.push(`${where}: idmap mount of ${source}: ${refusal}`);
      continue;
    }
    out.set(m, {
      source,
      destination: m.destination,
      slot: slot++,
      flags: ((opts.flags & MS.REC) !== 0 ? Idmap.TREE_RECURSIVE : 0) | (opts.idmap?.recursive ? Idmap.RECURSIVE : 0),
      ...(usernsFd !== undefined ? { usernsFd } : { uidMap: mapText(uid!), gidMap: mapText(gid!) }),
    });
  }
  if (problems.length) throw new InvalidSpecError(problems);
  return out;
}

function describe(im: IdmapMount): string {
  return `idmap mount of ${im.source} on ${im.destination}`;
}

/** Clone each source and idmap it; must come before the plan enters any namespace. */
export function emitIdmapPrepare(b: PlanBuilder, mounts: ReadonlyMap<Mount, IdmapMount>): void {
  for (const im of mounts.values()) {
    const uid = im.uidMap !== undefined ? b.str(im.uidMap) : NONE;
    const gid = im.gidMap !== undefined ? b.str(im.gidMap) : NONE;
    b.op(describe(im), Op.IDMAP_MOUNT, im.slot, b.str(im.source), uid, gid, im.flags, im.usernsFd ?? NONE, NONE);
  }
}

/** Attach the prepared tree onto the mount point held in targetSlot. */
export function emitIdmapAttach(b: PlanBuilder, im: IdmapMount, targetSlot: number): void {
  b.op(`${describe(im)} (move_mount)`, Op.IDMAP_MOUNT, im.slot, NONE, NONE, NONE, 0, NONE, targetSlot);
}
