// The compiled plan: what the container's first process does between clone and execve.
// TypeScript (src/plan/compile.ts) writes it; child.cc interprets it with raw syscalls only.
// src/plan/opcodes.ts mirrors every number here; test/unit/plan-abi.test.ts parses this file and
// fails on any difference.
#pragma once
#include <stdint.h>

namespace tsrun {

// Every op is OP_WORDS uint32 words: the opcode, then up to 7 arguments. A string argument is a
// byte offset into the string table (NUL-terminated), NONE when absent; a list argument is an
// index into the list table, whose entry is [count, offset...].
constexpr uint32_t OP_WORDS = 8;
constexpr uint32_t NONE = 0xffffffffu;
constexpr int MAX_SLOTS = 64;

enum Op : uint32_t {
  OP_SYNC = 1,            // token: report {SYNC, token} and block for the parent's reply
  OP_SETNS = 2,           // fd, nstype
  OP_UNSHARE = 3,         // flags
  OP_FORK = 4,            // fork again (CLONE_PARENT); the original reports the pid and exits
  OP_MOUNT = 5,           // src, target, fstype, flags, data, targetSlot (mounts on the slot if set), how (MOUNT_*)
  OP_OPEN_PATH = 6,       // slot, path: open(path, O_PATH|O_DIRECTORY)
  OP_RESOLVE = 7,         // slot, rootSlot, relpath, mode (RESOLVE_*): confined lookup (openat2 IN_ROOT)
  OP_MOUNT_SETATTR = 8,   // slot, attrSet, attrClr, propagation, recursive
  OP_MKNOD = 9,           // rootSlot, relpath, mode, major, minor, uid, gid
  OP_SYMLINK = 10,        // rootSlot, target, relpath
  OP_PIVOT_ROOT = 11,     // rootSlot
  OP_MOVE_CHROOT = 12,    // rootSlot, rootfs (--no-pivot: hide the host's proc/sysfs, MS_MOVE onto / and chroot)
  OP_WRITE_PROC = 13,     // path, data: write to a file that must be on procfs
  OP_SETHOSTNAME = 14,    // name
  OP_SETDOMAINNAME = 15,  // name
  OP_RLIMIT = 16,         // resource, softLo, softHi, hardLo, hardHi
  OP_CAPBSET_DROP = 17,   // keepLo, keepHi, lastCap
  OP_KEEPCAPS = 18,       // on
  OP_SETGROUPS = 19,      // list (gids as decimal strings)
  OP_SETRESGID = 20,      // gid
  OP_SETRESUID = 21,      // uid
  OP_CAPSET = 22,         // effLo, effHi, permLo, permHi, inhLo, inhHi
  OP_AMBIENT = 23,        // lo, hi: clear, then raise these
  OP_NO_NEW_PRIVS = 24,   // (no arguments)
  OP_UMASK = 25,          // mask
  OP_CHDIR = 26,          // path, mode (CHDIR_*)
  OP_CLOSE_FDS = 27,      // keepUpTo: fds < keepUpTo survive exec, the rest are closed on exec
  OP_LOOKUP_EXEC = 28,    // file, pathList: find the executable as execvp would
  OP_WAIT_FIFO = 29,      // fd: block until `start` writes to exec.fifo
  OP_EXECVE = 30,         // argvList, envList
  OP_MASK_PATH = 31,      // path, sharedSlot: /dev/null over a file, read-only tmpfs over a directory (the
                          // first one kept in sharedSlot and bound over the next ones, runc HEAD)
  OP_READONLY_PATH = 32,  // path: bind onto itself, remount read-only
  OP_REMOUNT_ROOT_RO = 33,
  OP_PDEATHSIG = 34,      // signal (0 clears)
  OP_CLOSE_SLOT = 35,     // slot
  OP_OPEN_FILE = 36,      // slot, path, flags: a plain open (e.g. a namespace file to join later)
  OP_SETSID = 37,         // (no arguments)
  OP_DUP2 = 38,           // from, to
  OP_SECCOMP = 39,        // blobOffset, blobLen, flags, listenerToken (SYNC with the notify fd)
  OP_SETNS_SLOT = 40,     // slot, nstype
  OP_CONSOLE = 41,        // rows, cols, token, mountConsole: new pty from /dev/ptmx, slave on /dev/console and stdio,
                          // master sent to the parent (SYNC token in a[3]) with SCM_RIGHTS
  OP_RECV_STATE = 42,     // token: SYNC, and the reply is the state JSON hooks get on stdin
  OP_RUN_HOOK = 43,       // path, argvList, envList, timeoutSecs: fork+exec, state on stdin, stdout/stderr kept, wait
  OP_PERSONALITY = 44,    // persona
  OP_SCHED_SETATTR = 45,  // blobOffset, blobLen: struct sched_attr
  OP_IOPRIO = 46,         // ioprio value (class << 13 | level)
  OP_AFFINITY = 47,       // blobOffset, blobLen: cpu mask bytes
  OP_MEMPOLICY = 48,      // mode|flags, blobOffset, blobLen (node mask bytes)
  OP_IDMAP_MOUNT = 49,    // mountSlot, src, uidMap, gidMap, flags (IDMAP_*), usernsFd, targetSlot:
                          // src set: clone src (open_tree), MOUNT_ATTR_IDMAP with a user namespace
                          // made from the map texts (or usernsFd when they are NONE), keep it in
                          // mountSlot; targetSlot set: move_mount mountSlot onto it and close it
  OP_FIX_STDIO = 50,      // uid: chown stdio (not /dev/null) to uid, as runc's fixStdioPermissions
  OP_LOOPBACK_UP = 51,    // (no arguments): bring `lo` up in the new network namespace
  OP_SET_HOME = 52,       // uid, envList, index: env[index] = "HOME=<home of uid in /etc/passwd>"
  OP_BIND = 53,           // src, rootSlot, relpath, flags, targetSlot, hostToken: open src (O_PATH) now, in
                          // list order; if that fails and hostToken is set, SYNC hostToken (extra = errno)
                          // and take the fd the parent opened in this mount namespace (SCM_RIGHTS). The
                          // mount point (a directory or a file, as the source) is made inside the root
                          // and kept in targetSlot; the bind goes fd to fd (/proc/self/fd/N)
  OP_FCHDIR = 54,         // slot: fchdir (createContainer hooks run with the rootfs as cwd, as runc)
  OP_COPYUP = 55,         // coveredSlot, rootSlot, relpath: copy the directory a tmpfs now covers into it
                          // ("tmpcopyup": modes, owners, symlinks, device nodes kept, as runc)
};

// OP_CHDIR modes (runc finalizeNamespace: chdir before the user switch, again after on EACCES/EPERM)
enum ChdirMode : uint32_t {
  CHDIR_STRICT = 0,  // fail on any error
  CHDIR_FIRST = 1,   // EACCES/EPERM: remember and retry at CHDIR_RETRY; other errors fail
  CHDIR_RETRY = 2,   // only if the CHDIR_FIRST attempt was refused; fail on any error
};

// OP_MOUNT `how` bits
constexpr uint32_t MOUNT_KEEP_LOCKED = 1;  // a bind remount refused (EPERM): retry with the source's locked flags
constexpr uint32_t MOUNT_TMPFS_MODE = 2;   // a tmpfs on an existing mount point takes its mode (runc)
constexpr uint32_t MOUNT_WALK_UP = 4;      // a propagation change on a path: EINVAL (no mount point) tries its parent
// The next (how >> MOUNT_FALLBACK_SHIFT) ops are this mount's fallback: skipped when it works, run
// when it fails with EPERM or EBUSY (runc's cgroup2 bind fallback).
constexpr uint32_t MOUNT_FALLBACK = 8;
constexpr uint32_t MOUNT_FALLBACK_SHIFT = 16;
// With MOUNT_KEEP_LOCKED, the MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC bits the options cleared
// ("rw", "suid", "dev", "exec") sit at this shift: clearing a locked one stays an error.
constexpr uint32_t MOUNT_CLEARED_SHIFT = 8;

// OP_IDMAP_MOUNT flags
constexpr uint32_t IDMAP_TREE_RECURSIVE = 1;  // "rbind": clone the submounts too (AT_RECURSIVE)
constexpr uint32_t IDMAP_RECURSIVE = 2;       // "ridmap": idmap every mount of the tree

// RESOLVE modes
enum ResolveMode : uint32_t {
  RESOLVE_EXISTING = 0,  // must exist
  RESOLVE_MKDIR = 1,     // create missing directories (mkdir -p) inside the root
  RESOLVE_MKFILE = 2,    // create missing parents, then an empty file
};
// Or'ed into a RESOLVE mode: no symlink at all on the way (proc and sysfs destinations,
// CVE-2019-16884: a rootfs must not redirect where procfs lands).
constexpr uint32_t RESOLVE_NOFOLLOW_FLAG = 0x10;

// Child -> parent messages on the SOCK_SEQPACKET sync socket.
enum MsgType : uint32_t {
  MSG_SYNC = 1,    // value = token
  MSG_ERROR = 2,   // op = failing op index, value = errno, extra = detail; a hook that ran and failed
                   // (DETAIL_HOOK_EXIT/SIGNAL) appends u32 stdout and stderr lengths and their last bytes
  MSG_FORKED = 3,  // value = pid of the new child (as the parent sees it)
};

struct Msg {
  uint32_t type;
  uint32_t op;
  int32_t value;
  uint32_t extra;
};
static_assert(sizeof(Msg) == 16, "the parent reads 16-byte messages");

// Detail codes for MSG_ERROR.extra
enum ErrDetail : uint32_t {
  DETAIL_NONE = 0,
  DETAIL_NOT_IN_PATH = 1,       // LOOKUP_EXEC: no PATH entry holds the file
  DETAIL_NOT_PROCFS = 2,        // WRITE_PROC: the file is not on procfs
  DETAIL_NOT_DEVNULL = 3,       // MASK_PATH: /dev/null is not the null device
  DETAIL_FIFO_CLOSED = 4,       // WAIT_FIFO: the writer closed without sending
  DETAIL_HOOK_EXIT = 5,         // RUN_HOOK: value is the hook's exit status
  DETAIL_HOOK_SIGNAL = 6,       // RUN_HOOK: value is the signal that killed the hook
  DETAIL_HOOK_TIMEOUT = 7,      // RUN_HOOK: the hook ran past its timeout and was killed
  DETAIL_HELPER_SETUP = 8,      // tsrun-init failed before the plan ran: op is a HelperStep, not an op index
  DETAIL_NOT_ORDINARY_DIR = 9,  // RESOLVE with RESOLVE_NOFOLLOW_FLAG: a symlink or a non-directory (proc, sysfs)
};

// What tsrun-init was doing when it failed before running the plan (MSG_ERROR.op with
// DETAIL_HELPER_SETUP; value is the errno).
enum HelperStep : uint32_t {
  HELPER_READ_PLAN = 1,    // fstat/pread of the plan fd
  HELPER_PARSE_PLAN = 2,   // not a plan, truncated, or a list entry out of range (EINVAL)
  HELPER_ALLOC = 3,        // memory for the plan or its lists (ENOMEM)
  HELPER_JOIN_CGROUP = 4,  // open/write cgroup.procs of the container's cgroup
};

// OP_SYNC tokens (MSG_SYNC.value): the compiler chooses where each is sent and the parent answers
// it (src/process/protocol.ts); the interpreter only passes the token on.
enum SyncToken : uint32_t {
  SYNC_USERMAP = 1,           // new user (or time) namespace made: the parent writes uid/gid maps
  SYNC_CREATE_RUNTIME = 2,    // namespaces and cgroup in place, before the rootfs: createRuntime hooks
  SYNC_READY = 3,             // set-up done: park on exec.fifo (create) or execve (run)
  SYNC_TIMENS = 4,            // time namespace unshared: the parent writes timens_offsets
  SYNC_PTY = 5,               // the pty master comes attached (SCM_RIGHTS)
  SYNC_SECCOMP_LISTENER = 6,  // the seccomp notify fd comes attached
  SYNC_STATE_CREATING = 7,    // the reply is the state JSON ("creating") for hooks
  SYNC_STATE_CREATED = 8,     // the reply is the state JSON ("created") for hooks
  SYNC_NETDEV = 9,            // the network namespace exists: the parent moves linux.netDevices in
  SYNC_MOUNT_SOURCE = 10,     // OP_BIND could not open its source (MSG_SYNC.extra = errno, as a user-
                              // namespaced root): the parent opens it in the child's mount namespace
                              // (/proc/<pid>/root, RESOLVE_IN_ROOT) and replies with the fd attached
};

struct Plan {
  const uint32_t* ops;
  uint32_t nops;
  const char* strings;
  uint32_t stringsLen;
  // lists resolved to NULL-terminated pointer arrays by the parent before clone
  char*** lists;
  uint32_t nlists;
  int syncFd;
  // Sorted fds the child keeps (plus syncFd); every other fd inherited from Node is closed first
  // thing, so a parked init holds no lock, socket or file of the parent's.
  const int* keepFds;
  uint32_t nkeep;
};

// Runs the plan in the child. Never returns: execve or exit_group.
[[noreturn]] void runPlan(const Plan& plan);

}  // namespace tsrun
