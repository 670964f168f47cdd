// config.json mount `options` → mount(2) flags, propagation changes, mount_setattr(2) recursive
// attributes and filesystem data, following runc's parseMountOptions
// (libcontainer/specconv/spec_linux.go) so that every option runc knows means the same here.
// runtime-spec config.md "Mounts" lists the option names; mount(8) "FILESYSTEM-INDEPENDENT
// MOUNT OPTIONS" and mount_setattr(2) give their meaning.

/** mount(2) MS_* flags (linux/mount.h). */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 0x10000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  KERNMOUNT: 0x400000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** mount_setattr(2) MOUNT_ATTR_* bits (linux/mount.h). RELATIME is 0: it is the absence of the others. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  _ATIME: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const;

/** runc configs.EXT_COPYUP: copy the image's content into a fresh tmpfs (`tmpcopyup`). */
export const EXT_COPYUP = 0x1;

type FlagEntry = readonly [clear: boolean, flag: number];

// Option name → [clears the flag?, MS_* flag]. "acl" is deliberately absent (runc#3738: it
// cannot map to MS_POSIXACL), so it goes to the filesystem as data.
const MOUNT_FLAGS: Record<string, FlagEntry> = {
  async: [true, MS.SYNCHRONOUS],
  atime: [true, MS.NOATIME],
  bind: [false, MS.BIND],
  // runc maps "defaults" to flag 0, which its parser then treats as "unknown" and passes to the
  // filesystem as data (where e.g. tmpfs rejects it). mount(8) defines it as a no-op, so here it is one.
  defaults: [false, 0],
  dev: [true, MS.NODEV],
  diratime: [true, MS.NODIRATIME],
  dirsync: [false, MS.DIRSYNC],
  exec: [true, MS.NOEXEC],
  iversion: [false, MS.I_VERSION],
  lazytime: [false, MS.LAZYTIME],
  loud: [true, MS.SILENT],
  mand: [false, MS.MANDLOCK],
  noatime: [false, MS.NOATIME],
  nodev: [false, MS.NODEV],
  nodiratime: [false, MS.NODIRATIME],
  noexec: [false, MS.NOEXEC],
  noiversion: [true, MS.I_VERSION],
  nolazytime: [true, MS.LAZYTIME],
  nomand: [true, MS.MANDLOCK],
  norelatime: [true, MS.RELATIME],
  nostrictatime: [true, MS.STRICTATIME],
  nosuid: [false, MS.NOSUID],
  nosymfollow: [false, MS.NOSYMFOLLOW], // kernel 5.10
  rbind: [false, MS.BIND | MS.REC],
  relatime: [false, MS.RELATIME],
  remount: [false, MS.REMOUNT],
  ro: [false, MS.RDONLY],
  rw: [true, MS.RDONLY],
  silent: [false, MS.SILENT],
  strictatime: [false, MS.STRICTATIME],
  suid: [true, MS.NOSUID],
  sync: [false, MS.SYNCHRONOUS],
  symfollow: [true, MS.NOSYMFOLLOW], // kernel 5.10
};

const PROPAGATION: Record<string, number> = {
  rprivate: MS.PRIVATE | MS.REC,
  private: MS.PRIVATE,
  rslave: MS.SLAVE | MS.REC,
  slave: MS.SLAVE,
  rshared: MS.SHARED | MS.REC,
  shared: MS.SHARED,
  runbindable: MS.UNBINDABLE | MS.REC,
  unbindable: MS.UNBINDABLE,
};

// Recursive attributes (runtime-spec 1.1.0 "rro" etc.), applied with mount_setattr(AT_RECURSIVE).
const REC_ATTR: Record<string, FlagEntry> = {
  rro: [false, MOUNT_ATTR.RDONLY],
  rrw: [true, MOUNT_ATTR.RDONLY],
  rnosuid: [false, MOUNT_ATTR.NOSUID],
  rsuid: [true, MOUNT_ATTR.NOSUID],
  rnodev: [false, MOUNT_ATTR.NODEV],
  rdev: [true, MOUNT_ATTR.NODEV],
  rnoexec: [false, MOUNT_ATTR.NOEXEC],
  rexec: [true, MOUNT_ATTR.NOEXEC],
  rnodiratime: [false, MOUNT_ATTR.NODIRATIME],
  rdiratime: [true, MOUNT_ATTR.NODIRATIME],
  rrelatime: [false, MOUNT_ATTR.RELATIME],
  rnorelatime: [true, MOUNT_ATTR.RELATIME],
  rnoatime: [false, MOUNT_ATTR.NOATIME],
  ratime: [true, MOUNT_ATTR.NOATIME],
  rstrictatime: [false, MOUNT_ATTR.STRICTATIME],
  rnostrictatime: [true, MOUNT_ATTR.STRICTATIME],
  rnosymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW], // kernel 5.14
  rsymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW], // kernel 5.14
};

const EXTENSIONS: Record<string, FlagEntry> = {
  tmpcopyup: [false, EXT_COPYUP],
};

// runtime-spec 1.2.0 config.md: "idmap" maps this mount only, "ridmap" the whole subtree.
const IDMAP_OPTIONS: Record<string, boolean> = { idmap: false, ridmap: true };

export interface ParsedMountOptions {
  /** MS_* flags to set on mount(2). */
  flags: number;
  /** MS_* flags an option explicitly cleared (e.g. "rw" clears MS_RDONLY), for remounts. */
  clearFlags: number;
  /** Propagation changes in order, each MS_{PRIVATE,SLAVE,SHARED,UNBINDABLE} [| MS_REC]. */
  propagation: number[];
  /** mount_setattr(2) attr_set / attr_clr for the recursive options; both 0 when none given. */
  recAttrSet: number;
  recAttrClr: number;
  /** runc extension bits (EXT_COPYUP). */
  extensions: number;
  /** Set when "idmap" or "ridmap" was given. */
  idmap?: { recursive: boolean };
  /** Unrecognised options, in order: the filesystem's own data. */
  dataOptions: string[];
  /** dataOptions joined with "," as mount(2) takes them. */
  data: string;
}

/** Parse a mount's `options` list. Never throws: unknown options are filesystem data, as in runc. */
export function parseMountOptions(options: readonly string[] | undefined): ParsedMountOptions {
  let flags = 0;
  let clearFlags = 0;
  let recAttrSet = 0;
  let recAttrClr = 0;
  let extensions = 0;
  let idmap: { recursive: boolean } | undefined;
  const propagation: number[] = [];
  const dataOptions: string[] = [];
  for (const o of options ?? []) {
    const mf = Object.hasOwn(MOUNT_FLAGS, o) ? MOUNT_FLAGS[o] : undefined;
    if (mf) {
      const [clear, flag] = mf;
      if (clear) {
        flags &= ~flag;
        clearFlags |= flag;
      } else {
        flags |= flag;
        clearFlags &= ~flag;
      }
    } else if (Object.hasOwn(PROPAGATION, o)) {
      propagation.push(PROPAGATION[o]);
    } else if (Object.hasOwn(REC_ATTR, o)) {
      const [clear, flag] = REC_ATTR[o];
      if (clear) {
        recAttrClr |= flag;
        recAttrSet &= ~flag;
      } else {
        recAttrSet |= flag;
        recAttrClr &= ~flag;
      }
      // mount_setattr(2): an access-time setting in attr_set also needs MOUNT_ATTR__ATIME in
      // attr_clr. RELATIME is 0, so (flag & _ATIME) === flag holds for it too, as in runc.
      if ((flag & MOUNT_ATTR._ATIME) === flag) recAttrClr |= MOUNT_ATTR._ATIME;
    } else if (Object.hasOwn(EXTENSIONS, o)) {
      const [clear, flag] = EXTENSIONS[o];
      extensions = clear ? extensions & ~flag : extensions | flag;
    } else if (Object.hasOwn(IDMAP_OPTIONS, o)) {
      idmap = { recursive: IDMAP_OPTIONS[o] };
    } else {
      dataOptions.push(o);
    }
  }
  // `>>> 0` keeps the bit sets unsigned after `~`.
  return {
    flags: flags >>> 0,
    clearFlags: clearFlags >>> 0,
    propagation,
    recAttrSet: recAttrSet >>> 0,
    recAttrClr: recAttrClr >>> 0,
    extensions,
    ...(idmap ? { idmap } : {}),
    dataOptions,
    data: dataOptions.join(','),
  };
}

/** Every option name the parser recognises, sorted: `features.mountOptions` (runc KnownMountOptions). */
export function knownMountOptions(): string[] {
  return [...Object.keys(MOUNT_FLAGS), ...Object.keys(PROPAGATION), ...Object.keys(REC_ATTR), ...Object.keys(EXTENSIONS)].sort();
}

/** True when the options ask for a bind mount (bind or rbind). */
export function isBindMount(options: readonly string[] | undefined): boolean {
  return (parseMountOptions(options).flags & MS.BIND) !== 0;
}
