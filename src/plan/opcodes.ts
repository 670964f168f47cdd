// Opcode numbers of the plan interpreter; keep in step with native/plan.h.
export const OP_WORDS = 8;
export const NONE = 0xffffffff;

export const Op = {
  SYNC: 1,
  SETNS: 2,
  UNSHARE: 3,
  FORK: 4,
  MOUNT: 5,
  OPEN_PATH: 6,
  RESOLVE: 7,
  MOUNT_SETATTR: 8,
  MKNOD: 9,
  SYMLINK: 10,
  PIVOT_ROOT: 11,
  MOVE_CHROOT: 12,
  WRITE_PROC: 13,
  SETHOSTNAME: 14,
  SETDOMAINNAME: 15,
  RLIMIT: 16,
  CAPBSET_DROP: 17,
  KEEPCAPS: 18,
  SETGROUPS: 19,
  SETRESGID: 20,
  SETRESUID: 21,
  CAPSET: 22,
  AMBIENT: 23,
  NO_NEW_PRIVS: 24,
  UMASK: 25,
  CHDIR: 26,
  CLOSE_FDS: 27,
  LOOKUP_EXEC: 28,
  WAIT_FIFO: 29,
  EXECVE: 30,
  MASK_PATH: 31,
  READONLY_PATH: 32,
  REMOUNT_ROOT_RO: 33,
  PDEATHSIG: 34,
  CLOSE_SLOT: 35,
  OPEN_FILE: 36,
  SETSID: 37,
  DUP2: 38,
  SECCOMP: 39,
  SETNS_SLOT: 40,
  CONSOLE: 41,
  RECV_STATE: 42,
  RUN_HOOK: 43,
  PERSONALITY: 44,
  SCHED_SETATTR: 45,
  IOPRIO: 46,
  AFFINITY: 47,
  MEMPOLICY: 48,
  IDMAP_MOUNT: 49,
  FIX_STDIO: 50,
  LOOPBACK_UP: 51,
  SET_HOME: 52,
  BIND: 53,
  FCHDIR: 54,
  COPYUP: 55,
} as const;

/** OP_CHDIR modes (native/plan.h): runc chdirs before the user switch and again after on EACCES/EPERM. */
export const ChdirMode = { STRICT: 0, FIRST: 1, RETRY: 2 } as const;

/** OP_MOUNT `how` bits (native/plan.h): retry a bind remount with locked flags; tmpfs takes the mount point's mode. */
export const MountHow = { KEEP_LOCKED: 1, TMPFS_MODE: 2, WALK_UP: 4, FALLBACK: 8, CLEARED_SHIFT: 8, FALLBACK_SHIFT: 16 } as const;

/** OP_IDMAP_MOUNT flags (native/plan.h). */
export const Idmap = { TREE_RECURSIVE: 1, RECURSIVE: 2 } as const;

export const Resolve = { EXISTING: 0, MKDIR: 1, MKFILE: 2, NOFOLLOW: 0x10 } as const;

export const Msg = { SYNC: 1, ERROR: 2, FORKED: 3 } as const;

export const Detail = {
  NONE: 0,
  NOT_IN_PATH: 1,
  NOT_PROCFS: 2,
  NOT_DEVNULL: 3,
  FIFO_CLOSED: 4,
  HOOK_EXIT: 5,
  HOOK_SIGNAL: 6,
  HOOK_TIMEOUT: 7,
  /** tsrun-init failed before the plan ran: the message's op is a HelperStep, not an op index. */
  HELPER_SETUP: 8,
  /** RESOLVE with NOFOLLOW met a symlink or a non-directory: runc's "must be mounted on ordinary directory". */
  NOT_ORDINARY_DIR: 9,
} as const;

/** What tsrun-init was doing when it failed before the plan ran (Detail.HELPER_SETUP). */
export const HelperStep = {
  READ_PLAN: 1,
  PARSE_PLAN: 2,
  ALLOC: 3,
  JOIN_CGROUP: 4,
} as const;

/** Tokens the child sends at each SYNC op; the parent's answer to each is in protocol.ts. */
export const Sync = {
  /** New user (or time) namespace made: write uid/gid maps (and timens offsets). */
  USERMAP: 1,
  /** Namespaces and cgroup in place, before the rootfs: createRuntime hooks run now. */
  CREATE_RUNTIME: 2,
  /** Everything done; next the child parks on exec.fifo (create) or execs (run). */
  READY: 3,
  /** New time namespace unshared, not yet entered: write /proc/<pid>/timens_offsets. */
  TIMENS: 4,
  /** The pty master comes attached (SCM_RIGHTS): send it to the console socket or keep it. */
  PTY: 5,
  /** The seccomp notify fd comes attached: forward it to listenerPath. */
  SECCOMP_LISTENER: 6,
  /** Reply with the state JSON (status "creating") for createContainer hooks. */
  STATE_CREATING: 7,
  /** Reply with the state JSON (status "created") for startContainer hooks. */
  STATE_CREATED: 8,
  /** The network namespace exists: move linux.netDevices into it. */
  NETDEV: 9,
  /**
   * OP_BIND could not open its source itself (a user-namespaced root; extra = its errno): open it
   * in the child's mount namespace as the host's root and reply with the fd attached.
   */
  MOUNT_SOURCE: 10,
} as const;

/** Clone/unshare namespace flags (linux/sched.h). */
export const CLONE = {
  NEWTIME: 0x80,
  NEWNS: 0x20000,
  NEWCGROUP: 0x2000000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;
