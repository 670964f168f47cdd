// The plan interpreter: runs in the cloned child of a multithreaded Node process, so it may use
// only raw system calls (fork(2): "the child may call only async-signal-safe functions").
// No malloc, no stdio, no C++ exceptions, no locks, no JS. Everything it reads was laid out by
// the parent before the clone; everything it writes is on its own stack or in its COW copy of
// globals. A failing op is reported as {op index, errno, detail} on the sync socket, after which
// the child exits; TypeScript turns that into "mount proc on /proc: EPERM".
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

namespace tsrun {
namespace {

struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

const Plan* g_plan;
int g_slots[MAX_SLOTS];
char g_exe[4096];
char g_state[65536];  // the container state JSON for hooks run from the child
long g_stateLen;
bool g_chdirPending;  // CHDIR_FIRST was refused (EACCES/EPERM): CHDIR_RETRY tries again
char g_home[4096 + 8];
char g_mountinfo[1 << 20];  // /proc/self/mountinfo for --no-pivot (hideHostProc)

long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  return syscall(n, a, b, c, d, e, f);
}

[[noreturn]] void die(int code) {
  for (;;) sys(SYS_exit_group, code);
}

void sendMsg(uint32_t type, uint32_t op, int32_t value, uint32_t extra) {
  Msg m{type, op, value, extra};
  sys(SYS_sendto, g_plan->syncFd, (long)&m, sizeof m, MSG_NOSIGNAL, 0, 0);
}

[[noreturn]] void fail(uint32_t op, int err, uint32_t detail = DETAIL_NONE) {
  sendMsg(MSG_ERROR, op, err, detail);
  die(1);
}

// Go's words for the errnos an execve gives (syscall.Errno.Error): runc's init prints
// "exec <path>: <words>". A table, not strerror(3): glibc may translate (gettext, locks) and this
// runs in a forked child of a multithreaded process.
const char* execErrorWords(int err) {
  switch (err) {
    case ENOENT:
      return "no such file or directory";
    case EACCES:
      return "permission denied";
    case ENOEXEC:
      return "exec format error";
    case ENOTDIR:
      return "not a directory";
    case ELOOP:
      return "too many levels of symbolic links";
    case E2BIG:
      return "argument list too long";
    case ETXTBSY:
      return "text file busy";
    case ENOMEM:
      return "cannot allocate memory";
    case EPERM:
      return "operation not permitted";
    case EISDIR:
      return "is a directory";
    case ENAMETOOLONG:
      return "file name too long";
    case EIO:
      return "input/output error";
    case ELIBBAD:
      return "accessing a corrupted shared library";
    default:
      return nullptr;
  }
}

void writeExecError(int err) {
  char buf[sizeof g_exe + 96];
  size_t n = 0;
  auto put = [&](const char* s) {
    for (size_t k = 0; s[k] && n < sizeof buf - 1; k++) buf[n++] = s[k];
  };
  put("exec ");
  put(g_exe);
  put(": ");
  const char* words = execErrorWords(err);
  if (words) {
    put(words);
  } else {
    char digits[16];
    int d = 0;
    unsigned v = (unsigned)err;
    do {
      digits[d++] = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    put("errno ");
    while (d && n < sizeof buf - 1) buf[n++] = digits[--d];
  }
  buf[n++] = '\n';
  sys(SYS_write, 2, (long)buf, (long)n);
}

const char* str(uint32_t off) {
  if (off == NONE || off >= g_plan->stringsLen) return nullptr;
  return g_plan->strings + off;
}

size_t slen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

// "/proc/self/fd/<fd>" into buf: mounting through the fd's magic link mounts exactly on the
// object resolved inside the root, so a symlink swapped in later cannot redirect the mount
// (CVE-2021-30465).
const char* fdPath(char* buf, int fd) {
  const char prefix[] = "/proc/self/fd/";
  size_t i = 0;
  for (; prefix[i]; i++) buf[i] = prefix[i];
  char digits[16];
  int n = 0;
  unsigned v = (unsigned)fd;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) buf[i++] = digits[--n];
  buf[i] = 0;
  return buf;
}

int slotFd(uint32_t op, uint32_t slot) {
  if (slot >= MAX_SLOTS || g_slots[slot] < 0) fail(op, EBADF);
  return g_slots[slot];
}

void setSlot(uint32_t op, uint32_t slot, int fd) {
  if (slot >= MAX_SLOTS) fail(op, EINVAL);
  if (g_slots[slot] >= 0) sys(SYS_close, g_slots[slot]);
  g_slots[slot] = fd;
}

uint64_t g_extraResolve;  // RESOLVE_NO_SYMLINKS while an op asks for it (RESOLVE_NOFOLLOW_FLAG)

long openIn(int root, const char* rel, uint64_t flags) {
  struct open_how how = {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | g_extraResolve;
  while (*rel == '/') rel++;
  if (!*rel) rel = ".";
  // openat2(2): with RESOLVE_IN_ROOT, EAGAIN means a rename or mount elsewhere on the system raced
  // the walk of a ".." and the kernel could not prove it stayed inside; the call may be retried
  // (seen in the VM, where other tests mount and rename at the same time). Bounded: a path under
  // constant attack still fails, with EAGAIN named.
  long fd;
  for (int tries = 0;
       (fd = sys(SYS_openat2, root, (long)rel, (long)&how, sizeof how)) < 0 && errno == EAGAIN && tries < 64; tries++) {
  }
  return fd;
}

bool g_resolveCreated;  // the last RESOLVE made its final component (it did not exist before)
bool g_maskBindFailed;  // binding the shared masked-directory tmpfs failed once: a tmpfs each

// A symlink met while creating: the path again with the link's text in place of the component
// (comp at rel[start..i), rest after it), for runc's securejoin behaviour: a dangling symlink's
// target is made inside the root. False when comp is no symlink.
bool pathThroughLink(int parent, const char* comp, const char* rel, size_t start, size_t i, char* out, size_t outLen) {
  char link[4096];
  long ln = sys(SYS_readlinkat, parent, (long)comp, (long)link, sizeof link - 1);
  if (ln <= 0) return false;
  link[ln] = 0;
  size_t o = 0;
  auto put = [&](const char* p, size_t n) {
    for (size_t k = 0; k < n && o < outLen - 1; k++) out[o++] = p[k];
  };
  if (link[0] != '/') put(rel, start);  // relative: from the symlink's own directory
  put(link, (size_t)ln);
  if (rel[i]) {
    put("/", 1);
    put(rel + i + 1, slen(rel + i + 1));
  }
  out[o] = 0;
  return o < outLen - 1;
}

// mkdir -p inside the root: every prefix is resolved with RESOLVE_IN_ROOT, so ".." and symlinks
// (absolute or relative) stay inside; a missing component is created in its resolved parent, and
// a dangling symlink on the way gets its target created inside the root (runc's securejoin).
int resolveCreating(uint32_t op, int root, const char* rel, uint32_t mode, int depth = 0) {
  char buf[4096];
  size_t n = slen(rel);
  if (n >= sizeof buf) fail(op, ENAMETOOLONG);
  for (size_t i = 0; i <= n; i++) buf[i] = rel[i];
  g_resolveCreated = false;
  long fd = openIn(root, buf, mode == RESOLVE_MKFILE ? O_PATH : O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT) return fd < 0 ? -errno : (int)fd;

  size_t start = 0;
  while (buf[start] == '/') start++;
  int parent = (int)sys(SYS_dup, root);
  if (parent < 0) return -errno;
  for (size_t i = start; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    if (i == start) {  // "//" run
      start = i + 1;
      continue;
    }
    char saved = buf[i];
    buf[i] = 0;
    bool last = saved == 0;
    const char* comp = buf + start;
    bool dot = comp[0] == '.' && (comp[1] == 0 || (comp[1] == '.' && comp[2] == 0));
    long next = openIn(root, buf, (last && mode == RESOLVE_MKFILE) ? O_PATH : O_PATH | O_DIRECTORY);
    if (next < 0 && errno == ENOENT && !dot) {
      int made;
      if (last && mode == RESOLVE_MKFILE) {
        long f = sys(SYS_openat, parent, (long)comp, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        made = f >= 0 ? 0 : errno;
        if (f >= 0) sys(SYS_close, f);
      } else {
        made = sys(SYS_mkdirat, parent, (long)comp, 0755) < 0 ? errno : 0;
      }
      if (made == EEXIST) {
        // Something is there that the confined lookup could not enter: a dangling symlink.
        char via[4096];
        if (pathThroughLink(parent, comp, rel, start, i, via, sizeof via)) {
          sys(SYS_close, parent);
          if (depth >= 40) return -ELOOP;
          return resolveCreating(op, root, via, mode, depth + 1);
        }
      } else if (made) {
        sys(SYS_close, parent);
        return -made;
      }
      if (last && !made) g_resolveCreated = true;
      next = openIn(root, buf, (last && mode == RESOLVE_MKFILE) ? O_PATH : O_PATH | O_DIRECTORY);
    }
    if (next < 0) {
      int e = errno;
      sys(SYS_close, parent);
      return -e;
    }
    sys(SYS_close, parent);
    parent = (int)next;
    buf[i] = saved;
    start = i + 1;
  }
  return parent;
}

// Splits rel into its parent (resolved, created if missing) and its last component.
int resolveParent(uint32_t op, int root, const char* rel, char* base, size_t baseLen) {
  char dir[4096];
  size_t n = slen(rel);
  while (n > 1 && rel[n - 1] == '/') n--;
  if (n >= sizeof dir) fail(op, ENAMETOOLONG);
  size_t cut = n;
  while (cut > 0 && rel[cut - 1] != '/') cut--;
  if (n - cut + 1 > baseLen || n == cut) fail(op, EINVAL);
  for (size_t i = cut; i < n; i++) base[i - cut] = rel[i];
  base[n - cut] = 0;
  for (size_t i = 0; i < cut; i++) dir[i] = rel[i];
  dir[cut] = 0;
  int fd = resolveCreating(op, root, dir, RESOLVE_MKDIR);
  if (fd < 0) fail(op, -fd);
  return fd;
}

unsigned long statfsToMountFlags(const struct statfs& s) {
  unsigned long f = 0;
  if (s.f_flags & ST_NOSUID) f |= MS_NOSUID;
  if (s.f_flags & ST_NODEV) f |= MS_NODEV;
  if (s.f_flags & ST_NOEXEC) f |= MS_NOEXEC;
  if (s.f_flags & ST_NOATIME) f |= MS_NOATIME;
  if (s.f_flags & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (s.f_flags & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

void lookupExec(uint32_t op, const char* file, const char* path) {
  struct stat st;
  bool hasSlash = false;
  for (const char* p = file; *p; p++) hasSlash |= *p == '/';
  if (hasSlash) {
    if (slen(file) >= sizeof g_exe) fail(op, ENAMETOOLONG);
    if (sys(SYS_newfstatat, AT_FDCWD, (long)file, (long)&st, 0) < 0) fail(op, errno);
    if (S_ISDIR(st.st_mode)) fail(op, EISDIR);
    if (!(st.st_mode & 0111)) fail(op, EACCES);
    for (size_t i = 0;; i++)
      if (!(g_exe[i] = file[i])) break;
    return;
  }
  const char* p = path ? path : "";
  size_t flen = slen(file);
  while (true) {
    const char* end = p;
    while (*end && *end != ':') end++;
    size_t dlen = (size_t)(end - p);
    if (dlen > 0 && dlen + 1 + flen < sizeof g_exe) {
      size_t i = 0;
      for (; i < dlen; i++) g_exe[i] = p[i];
      g_exe[i++] = '/';
      for (size_t j = 0; j <= flen; j++) g_exe[i + j] = file[j];
      if (sys(SYS_newfstatat, AT_FDCWD, (long)g_exe, (long)&st, 0) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
        return;
    }
    if (!*end) break;
    p = end + 1;
  }
  fail(op, ENOENT, DETAIL_NOT_IN_PATH);
}

void resetSignals() {
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } dfl = {(void*)SIG_DFL, 0, nullptr, 0};
  for (int s = 1; s <= 64; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    sys(SYS_rt_sigaction, s, (long)&dfl, 0, 8);
  }
  uint64_t none = 0;
  sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
}

// One datagram's buffer and room for one SCM_RIGHTS fd, on the caller's stack.
struct FdMsg {
  struct iovec iov;
  struct {
    alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(int))];
  } ctrl = {};
  struct msghdr msg = {};
  FdMsg(void* data, size_t len) : iov{data, len} {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = sizeof ctrl.buf;
  }
  FdMsg(const FdMsg&) = delete;
  FdMsg& operator=(const FdMsg&) = delete;
};

// One message with an fd attached (SCM_RIGHTS), then the parent's u32 reply.
void sendFdSync(uint32_t op, uint32_t token, int fd) {
  Msg m{MSG_SYNC, op, (int32_t)token, 0};
  FdMsg fm(&m, sizeof m);
  struct msghdr& msg = fm.msg;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  *(int*)CMSG_DATA(c) = fd;
  if (sys(SYS_sendmsg, g_plan->syncFd, (long)&msg, MSG_NOSIGNAL) < 0) fail(op, errno);
  uint32_t reply = 1;
  long n;
  do n = sys(SYS_read, g_plan->syncFd, (long)&reply, sizeof reply);
  while (n < 0 && errno == EINTR);
  if (n != (long)sizeof reply || reply != 0) die(1);
}

// runc's console set-up (libcontainer/console_linux.go, rootfs_linux.go mountConsole): the pty
// comes from the container's own devpts; /dev/console is a bind of the slave, created here as a
// plain file (never through a symlink, CVE-2025-52565).
void setupConsole(uint32_t op, uint32_t rows, uint32_t cols, uint32_t token, bool mountConsole) {
  long master = sys(SYS_openat, AT_FDCWD, (long)"/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(op, errno);
  int unlock = 0;
  if (sys(SYS_ioctl, master, TIOCSPTLCK, (long)&unlock) < 0) fail(op, errno);
  long slave = sys(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail(op, errno);
  if (rows || cols) {
    struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
    if (sys(SYS_ioctl, master, TIOCSWINSZ, (long)&ws) < 0) fail(op, errno);
  }
  long cons = mountConsole
                  ? sys(SYS_openat, AT_FDCWD, (long)"/dev/console", O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0666)
                  : -1;
  if (!mountConsole) {
    // exec: the container's /dev/console stays as the init made it
  } else if (cons >= 0) {
    struct stat st;
    if (sys(SYS_fstat, cons, (long)&st) < 0) fail(op, errno);
    if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) fail(op, EINVAL);
    char a[32], b[32];
    if (sys(SYS_mount, (long)fdPath(a, (int)slave), (long)fdPath(b, (int)cons), 0, MS_BIND, 0) < 0) fail(op, errno);
    sys(SYS_close, cons);
  } else if (errno != ENOENT && errno != EROFS) {
    fail(op, errno);
  }
  // runc's console handling (containerd/console ClearONLCR): "\n" stays "\n" on the way out, so
  // the container's output is not "\r\n". The flag is the slave's, so every reader of the
  // master (run -t, a console-socket receiver) gets the output as written.
  struct termios tio;
  if (sys(SYS_ioctl, slave, TCGETS, (long)&tio) < 0) fail(op, errno);
  tio.c_oflag &= ~(tcflag_t)ONLCR;
  if (sys(SYS_ioctl, slave, TCSETS, (long)&tio) < 0) fail(op, errno);
  sendFdSync(op, token, (int)master);
  sys(SYS_close, master);
  // The plan's OP_SETSID already made this process a session leader (runc's nsexec setsid());
  // a plan without it still gets its own session here.
  if (sys(SYS_setsid) < 0 && errno != EPERM) fail(op, errno);
  if (sys(SYS_ioctl, slave, TIOCSCTTY, 0) < 0) fail(op, errno);
  for (int fd = 0; fd < 3; fd++)
    if (sys(SYS_dup3, slave, fd, 0) < 0) fail(op, errno);
  if (slave > 2) sys(SYS_close, slave);
}

// runc fixStdioPermissions (libcontainer/init_linux.go): before the user switch, stdio that is not
// /dev/null and not owned by uid is chowned to uid (its gid kept), so the process can reopen
// /proc/self/fd/N (the pty slave, a log file). EINVAL (gid not mapped), EPERM (owner not mapped)
// and EROFS are ignored, as in runc.
void fixStdio(uint32_t op, uint32_t uid) {
  struct stat null;
  bool haveNull = sys(SYS_newfstatat, AT_FDCWD, (long)"/dev/null", (long)&null, 0) == 0;
  for (int fd = 0; fd < 3; fd++) {
    struct stat st;
    if (sys(SYS_fstat, fd, (long)&st) < 0) {
      if (errno == EBADF) continue;
      fail(op, errno);
    }
    if (st.st_uid == uid || (haveNull && S_ISCHR(st.st_mode) && st.st_rdev == null.st_rdev)) continue;
    if (sys(SYS_fchown, fd, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS) fail(op, errno);
  }
}

// runc's loopback network strategy (specconv adds it to every new network namespace).
void loopbackUp(uint32_t op) {
  long s = sys(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(op, errno);
  struct ifreq ifr = {};
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  if (sys(SYS_ioctl, s, SIOCGIFFLAGS, (long)&ifr) < 0) fail(op, errno);
  ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
  if (sys(SYS_ioctl, s, SIOCSIFFLAGS, (long)&ifr) < 0) fail(op, errno);
  sys(SYS_close, s);
}

// HOME from the container's /etc/passwd (runc setupUser: user.GetExecUserPath, default "/"). The
// file is opened in the container's root with RESOLVE_IN_ROOT, read a line at a time; the entry
// whose uid field is uid gives its home field. No entry, no file: the parent's "HOME=/" stays.
void setHome(uint32_t op, uint32_t uid, uint32_t list, uint32_t index) {
  if (list >= g_plan->nlists) fail(op, EINVAL);
  long root = sys(SYS_openat, AT_FDCWD, (long)"/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) fail(op, errno);
  long fd = openIn((int)root, "etc/passwd", O_RDONLY);
  sys(SYS_close, root);
  if (fd < 0) return;
  char buf[4096];
  char line[4096];
  size_t ll = 0;
  bool skip = false;  // the current line is longer than `line`: ignored
  const char* home = nullptr;
  for (;;) {
    long n = sys(SYS_read, fd, (long)buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    bool eof = n <= 0;
    for (long k = 0; k <= (eof ? 0 : n - 1) && !home; k++) {
      char c = eof ? '\n' : buf[k];
      if (c != '\n') {
        if (ll < sizeof line - 1)
          line[ll++] = c;
        else
          skip = true;
        continue;
      }
      line[ll] = 0;
      // name:passwd:uid:gid:gecos:home:shell
      const char* f[7] = {line};
      int nf = 1;
      for (size_t j = 0; j < ll && nf < 7; j++)
        if (line[j] == ':') {
          line[j] = 0;
          f[nf++] = line + j + 1;
        }
      if (!skip && nf >= 6 && f[2][0]) {
        uint64_t v = 0;
        const char* p = f[2];
        while (*p >= '0' && *p <= '9' && v <= 0xffffffffULL) v = v * 10 + (uint64_t)(*p++ - '0');
        if (!*p && v == uid) {
          home = f[5];  // it ends at the next ':' (already a NUL)
        }
      }
      ll = 0;
      skip = false;
    }
    if (home || eof) break;
  }
  sys(SYS_close, fd);
  if (!home) return;
  const char prefix[] = "HOME=";
  size_t i = 0;
  for (; prefix[i]; i++) g_home[i] = prefix[i];
  for (size_t j = 0; home[j] && i < sizeof g_home - 1; j++) g_home[i++] = home[j];
  g_home[i] = 0;
  char** env = g_plan->lists[list];
  for (uint32_t k = 0; k <= index; k++)
    if (!env[k]) fail(op, EINVAL);
  env[index] = g_home;
}

// Mountinfo's octal escapes (\040 for a space) decoded in place.
void unescape(char* s) {
  char* w = s;
  for (char* r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
}

bool hasPrefix(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return false;
  return true;
}

bool streq(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

// --no-pivot: after MS_MOVE + chroot the host's mounts stay in the mount namespace, below the
// container's root. A full procfs or sysfs among them lets a nested user namespace mount a fresh
// one (the kernel's mount_too_revealing only asks whether a fully visible one exists). runc's
// msMoveRoot detaches every full ("/" root) proc and sysfs mount outside the rootfs first, or
// covers it with a tmpfs where it may not unmount; so does this.
void hideHostProc(uint32_t op, const char* rootfs) {
  long fd = sys(SYS_openat, AT_FDCWD, (long)"/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(op, errno);
  size_t len = 0;
  for (;;) {
    long n = sys(SYS_read, fd, (long)(g_mountinfo + len), sizeof g_mountinfo - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(op, errno);
    if (n == 0) break;
    len += (size_t)n;
    if (len >= sizeof g_mountinfo - 1) fail(op, E2BIG);
  }
  sys(SYS_close, fd);
  g_mountinfo[len] = 0;
  for (char* line = g_mountinfo; *line;) {
    char* end = line;
    while (*end && *end != '\n') end++;
    char* next = *end ? end + 1 : end;
    *end = 0;
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    char* f[5] = {};
    int nf = 0;
    char* p = line;
    while (nf < 5 && *p) {
      f[nf++] = p;
      while (*p && *p != ' ') p++;
      if (*p) *p++ = 0;
    }
    char* dash = p;
    while (*dash && !(dash[0] == '-' && dash[1] == ' ' && (dash == p || dash[-1] == ' '))) dash++;
    if (nf == 5 && *dash) {
      char* fstype = dash + 2;
      char* q = fstype;
      while (*q && *q != ' ') q++;
      *q = 0;
      char* mp = f[4];
      unescape(mp);
      bool inRoot = hasPrefix(mp, rootfs);
      if (streq(f[3], "/") && (streq(fstype, "proc") || streq(fstype, "sysfs")) && !inRoot) {
        if (sys(SYS_mount, (long)"", (long)mp, 0, MS_SLAVE | MS_REC, 0) < 0) {
          if (errno != ENOENT) fail(op, errno);
        } else if (sys(SYS_umount2, (long)mp, MNT_DETACH) < 0) {
          if (errno != EINVAL && errno != EPERM) fail(op, errno);
          if (sys(SYS_mount, (long)"tmpfs", (long)mp, (long)"tmpfs", 0, 0) < 0) fail(op, errno);
        }
      }
    }
    line = next;
  }
}

void recvState(uint32_t op, uint32_t token) {
  sendMsg(MSG_SYNC, op, (int32_t)token, 0);
  long n;
  do n = sys(SYS_read, g_plan->syncFd, (long)g_state, sizeof g_state - 1);
  while (n < 0 && errno == EINTR);
  if (n <= 0) die(1);
  g_state[n] = 0;
  g_stateLen = n;
}

struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

// A hook's stdout and stderr, the last bytes of each (runc's Command.Run keeps them for the error:
// "error running hook: exit status 3, stdout: …, stderr: …"). Sent after the 16-byte Msg of a
// failed hook; the parent reads datagrams of up to 4096 bytes.
constexpr size_t HOOK_TAIL = 2000;
char g_hookOut[2][HOOK_TAIL];
size_t g_hookLen[2];
char g_hookErr[sizeof(Msg) + 8 + 2 * HOOK_TAIL];

void keepTail(int which, const char* p, size_t n) {
  char* buf = g_hookOut[which];
  size_t& len = g_hookLen[which];
  if (n >= HOOK_TAIL) {
    p += n - HOOK_TAIL;
    n = HOOK_TAIL;
    len = 0;
  }
  if (len + n > HOOK_TAIL) {
    size_t drop = len + n - HOOK_TAIL;
    for (size_t i = drop; i < len; i++) buf[i - drop] = buf[i];
    len -= drop;
  }
  for (size_t i = 0; i < n; i++) buf[len + i] = p[i];
  len += n;
}

// Reads what the (non-blocking) pipe holds; false once it is at EOF (or broken).
bool drainInto(int fd, int which) {
  char tmp[512];
  for (;;) {
    long r = sys(SYS_read, fd, (long)tmp, sizeof tmp);
    if (r > 0) {
      keepTail(which, tmp, (size_t)r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    return r < 0 && errno == EAGAIN;
  }
}

// MSG_ERROR for a hook that ran and failed: the Msg, then u32 stdout and stderr lengths, then
// the bytes.
[[noreturn]] void failHook(uint32_t op, int32_t value, uint32_t detail) {
  Msg m{MSG_ERROR, op, value, detail};
  size_t off = 0;
  const char* mp = reinterpret_cast<const char*>(&m);
  for (size_t i = 0; i < sizeof m; i++) g_hookErr[off++] = mp[i];
  for (int w = 0; w < 2; w++) {
    uint32_t n = (uint32_t)g_hookLen[w];
    const char* np = reinterpret_cast<const char*>(&n);
    for (size_t i = 0; i < sizeof n; i++) g_hookErr[off++] = np[i];
  }
  for (int w = 0; w < 2; w++)
    for (size_t i = 0; i < g_hookLen[w]; i++) g_hookErr[off++] = g_hookOut[w][i];
  sys(SYS_sendto, g_plan->syncFd, (long)g_hookErr, (long)off, MSG_NOSIGNAL, 0, 0);
  die(1);
}

long monoMs() {
  struct timespec ts;
  sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// createContainer and startContainer hooks run in the container's namespaces (runtime-spec
// config.md "POSIX-platform Hooks"), so the child runs them: fork, state JSON on the hook's stdin,
// stdout and stderr kept for the error, wait through a pidfd with the hook's timeout.
void runHook(uint32_t op, const char* path, char** argv, char** envp, uint32_t timeoutSecs) {
  int p[2], out[2], err[2], ex[2];
  if (sys(SYS_pipe2, (long)p, O_CLOEXEC) < 0) fail(op, errno);
  if (sys(SYS_pipe2, (long)out, O_CLOEXEC) < 0) fail(op, errno);
  if (sys(SYS_pipe2, (long)err, O_CLOEXEC) < 0) fail(op, errno);
  // The execve's errno, if it fails (closed by a successful execve): Go's "fork/exec /x: …".
  if (sys(SYS_pipe2, (long)ex, O_CLOEXEC) < 0) fail(op, errno);
  g_hookLen[0] = g_hookLen[1] = 0;
  int pidfd = -1;
  CloneArgs ca = {};
  ca.flags = CLONE_PIDFD;
  ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
  ca.exit_signal = SIGCHLD;
  long pid = sys(SYS_clone3, (long)&ca, sizeof ca);
  // Under a seccomp profile loaded before the capabilities drop, clone3 may be ENOSYS (Docker's
  // profile says so on purpose, for libc to fall back): clone(2) takes CLONE_PIDFD too, the pidfd
  // written through parent_tid (the third argument on x86_64 and arm64 alike).
  if (pid < 0 && errno == ENOSYS) pid = sys(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, (long)&pidfd, 0, 0);
  if (pid < 0) fail(op, errno);
  if (pid == 0) {
    sys(SYS_dup3, p[0], 0, 0);
    sys(SYS_dup3, out[1], 1, 0);
    sys(SYS_dup3, err[1], 2, 0);
    sys(SYS_execve, (long)path, (long)argv, (long)envp);
    int e = errno;
    sys(SYS_write, ex[1], (long)&e, sizeof e);
    die(127);
  }
  sys(SYS_close, p[0]);
  sys(SYS_close, out[1]);
  sys(SYS_close, err[1]);
  sys(SYS_close, ex[1]);
  // Only the reading ends are non-blocking: the hook writes to blocking pipes.
  sys(SYS_fcntl, out[0], F_SETFL, O_NONBLOCK);
  sys(SYS_fcntl, err[0], F_SETFL, O_NONBLOCK);
  // The hook may not read its stdin: ignore SIGPIPE around the write, then restore the default.
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } act = {(void*)SIG_IGN, 0, nullptr, 0};
  sys(SYS_rt_sigaction, SIGPIPE, (long)&act, 0, 8);
  for (long off = 0; off < g_stateLen;) {
    long w = sys(SYS_write, p[1], (long)(g_state + off), g_stateLen - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += w;
  }
  act.handler = (void*)SIG_DFL;
  sys(SYS_rt_sigaction, SIGPIPE, (long)&act, 0, 8);
  sys(SYS_close, p[1]);
  long deadline = timeoutSecs ? monoMs() + (long)timeoutSecs * 1000 : 0;
  int fds[2] = {out[0], err[0]};
  for (;;) {
    struct pollfd pfd[3] = {{pidfd, POLLIN, 0}, {fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    struct timespec ts = {0, 0};
    if (deadline) {
      long left = deadline - monoMs();
      if (left < 0) left = 0;
      ts.tv_sec = left / 1000;
      ts.tv_nsec = (left % 1000) * 1000000;
    }
    long r = sys(SYS_ppoll, (long)pfd, 3, deadline ? (long)&ts : 0, 0, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(op, errno);
    if (r == 0) {
      sys(SYS_pidfd_send_signal, pidfd, SIGKILL, 0, 0);
      siginfo_t si;
      sys(SYS_waitid, P_PIDFD, pidfd, (long)&si, WEXITED, 0);
      fail(op, ETIMEDOUT, DETAIL_HOOK_TIMEOUT);
    }
    for (int w = 0; w < 2; w++) {
      if (fds[w] >= 0 && pfd[w + 1].revents && !drainInto(fds[w], w)) {
        sys(SYS_close, fds[w]);
        fds[w] = -1;
      }
    }
    if (pfd[0].revents & POLLIN) break;
  }
  // The hook has exited: what it wrote is in the pipes (a process it left behind may still hold
  // them open, so only what is there now is read).
  for (int w = 0; w < 2; w++) {
    if (fds[w] < 0) continue;
    drainInto(fds[w], w);
    sys(SYS_close, fds[w]);
  }
  siginfo_t si = {};
  if (sys(SYS_waitid, P_PIDFD, pidfd, (long)&si, WEXITED, 0) < 0) fail(op, errno);
  sys(SYS_close, pidfd);
  int execErr = 0;
  long got = sys(SYS_read, ex[0], (long)&execErr, sizeof execErr);
  sys(SYS_close, ex[0]);
  if (got == (long)sizeof execErr && execErr) fail(op, execErr);  // the hook never ran
  if (si.si_code == CLD_EXITED && si.si_status == 0) return;
  failHook(op, si.si_status, si.si_code == CLD_EXITED ? DETAIL_HOOK_EXIT : DETAIL_HOOK_SIGNAL);
}

uint64_t u64(uint32_t lo, uint32_t hi) {
  return (uint64_t)lo | ((uint64_t)hi << 32);
}

// Calls f(name) for every entry of the directory open at dir, read with getdents64 (no libc, no
// malloc: a buffer on the stack).
template <typename F>
void forEachEntry(uint32_t op, long dir, F f) {
  struct Dirent {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[1];
  };
  char buf[4096];
  for (;;) {
    long n = sys(SYS_getdents64, dir, (long)buf, sizeof buf);
    if (n < 0) fail(op, errno);
    if (n == 0) return;
    for (long off = 0; off < n;) {
      const Dirent* d = reinterpret_cast<const Dirent*>(buf + off);
      off += d->reclen;
      f(d->name);
    }
  }
}

// FD_CLOEXEC on every open fd >= from, listed from /proc/self/fd.
void cloexecFrom(uint32_t op, uint32_t from) {
  long dir = sys(SYS_openat, AT_FDCWD, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) fail(op, errno);
  forEachEntry(op, dir, [&](const char* name) {
    if (name[0] < '0' || name[0] > '9') return;
    uint32_t fd = 0;
    for (const char* c = name; *c; c++) fd = fd * 10 + (uint32_t)(*c - '0');
    if (fd >= from && (long)fd != dir) sys(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
  });
  sys(SYS_close, dir);
}

// Writes "/proc/<pid>/<name>" into buf.
const char* procPath(char* buf, long pid, const char* name) {
  const char prefix[] = "/proc/";
  size_t i = 0;
  for (; prefix[i]; i++) buf[i] = prefix[i];
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + pid % 10);
    pid /= 10;
  } while (pid);
  while (n) buf[i++] = digits[--n];
  buf[i++] = '/';
  for (size_t j = 0; name[j]; j++) buf[i++] = name[j];
  buf[i] = 0;
  return buf;
}

// 0, or the errno of writing text to /proc/<pid>/<name> in one write(2), as user_namespaces(7)
// requires of uid_map and gid_map.
int writeMap(long pid, const char* name, const char* text) {
  char path[64];
  long fd = sys(SYS_openat, AT_FDCWD, (long)procPath(path, pid, name), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  long n = sys(SYS_write, fd, (long)text, (long)slen(text));
  int e = n < 0 ? errno : 0;
  sys(SYS_close, fd);
  return e;
}

// A user namespace holding the given maps, as an nsfs fd, for MOUNT_ATTR_IDMAP. A child made
// with CLONE_NEWUSER waits on a pipe while its maps are written and its ns/user is opened; closing
// the pipe ends it (and ends it too if this process dies first). Runs before any namespace is
// entered, so the pid clone returns is the one /proc shows.
int mapUserns(uint32_t op, const char* uidMap, const char* gidMap) {
  int p[2];
  if (sys(SYS_pipe2, (long)p, O_CLOEXEC) < 0) fail(op, errno);
  long pid = sys(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) fail(op, errno);
  if (pid == 0) {
    sys(SYS_close, p[1]);
    char c;
    while (sys(SYS_read, p[0], (long)&c, 1) < 0 && errno == EINTR) {
    }
    die(0);
  }
  sys(SYS_close, p[0]);
  int err = writeMap(pid, "uid_map", uidMap);
  if (!err) err = writeMap(pid, "gid_map", gidMap);
  long ns = -1;
  if (!err) {
    char path[64];
    ns = sys(SYS_openat, AT_FDCWD, (long)procPath(path, pid, "ns/user"), O_RDONLY | O_CLOEXEC);
    if (ns < 0) err = errno;
  }
  sys(SYS_close, p[1]);
  while (sys(SYS_wait4, pid, 0, 0, 0) < 0 && errno == EINTR) {
  }
  if (err) fail(op, err);
  return (int)ns;
}

// Idmapped bind mounts (runtime-spec config.md "Mounts" uidMappings/gidMappings, "idmap",
// "ridmap"), as runc's mountFd: a detached copy of the source (open_tree OPEN_TREE_CLONE) gets
// MOUNT_ATTR_IDMAP (mount_setattr(2)); only a detached mount may be idmapped, and only by a caller
// privileged over the source's filesystem, so this runs before the container's user namespace.
// The copy is attached later, onto the target resolved inside the rootfs (move_mount(2)).
void idmapMount(uint32_t op, const uint32_t* a) {
  if (a[2] != NONE) {
    unsigned flags = OPEN_TREE_CLONE | O_CLOEXEC | ((a[5] & IDMAP_TREE_RECURSIVE) ? AT_RECURSIVE : 0);
    long tree = sys(SYS_open_tree, AT_FDCWD, (long)str(a[2]), flags);
    if (tree < 0) fail(op, errno);
    bool own = a[3] != NONE;
    int userns = own ? mapUserns(op, str(a[3]), str(a[4])) : (int)a[6];
    MountAttr attr = {MOUNT_ATTR_IDMAP, 0, 0, (uint64_t)userns};
    long setFlags = AT_EMPTY_PATH | ((a[5] & IDMAP_RECURSIVE) ? AT_RECURSIVE : 0);
    long r = sys(SYS_mount_setattr, tree, (long)"", setFlags, (long)&attr, sizeof attr);
    int e = errno;
    if (own) sys(SYS_close, userns);
    if (r < 0) fail(op, e);
    setSlot(op, a[1], (int)tree);
  }
  if (a[7] != NONE) {
    long r = sys(SYS_move_mount, slotFd(op, a[1]), (long)"", slotFd(op, a[7]), (long)"",
                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    if (r < 0) fail(op, errno);
    sys(SYS_close, g_slots[a[1]]);
    g_slots[a[1]] = -1;
  }
}

// The parent's u32 reply with one fd attached (SCM_RIGHTS), as OP_BIND's SYNC_MOUNT_SOURCE gets it.
int recvFdReply(uint32_t op) {
  uint32_t reply = 1;
  FdMsg fm(&reply, sizeof reply);
  struct msghdr& msg = fm.msg;
  long n;
  do n = sys(SYS_recvmsg, g_plan->syncFd, (long)&msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != (long)sizeof reply || reply != 0) die(1);  // the parent reported the failure itself
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) fail(op, EBADMSG);
  return *(const int*)CMSG_DATA(c);
}

// A bind mount, its source resolved now, in list order (a source an earlier mount made works),
// runc's mountToRootfs. The source is opened O_PATH by this process; when that fails (a user-
// namespaced root cannot search a host directory only the host's root can) and the plan allows it,
// the parent opens it as the host's root in this mount namespace and passes the fd: runc HEAD's
// procMountPlease (os.Stat fails in the container, the host opens O_PATH in the container's mount
// namespace), runc 1.1.5's send_mountsources. The mount point takes the source's kind (a directory
// or a file) and the bind goes from fd to fd, so neither path is walked again.
void bindMount(uint32_t op, const uint32_t* a) {
  long src = sys(SYS_openat, AT_FDCWD, (long)str(a[1]), O_PATH | O_CLOEXEC);
  if (src < 0) {
    int e = errno;
    if (a[6] == NONE) fail(op, e);
    sendMsg(MSG_SYNC, op, (int32_t)a[6], (uint32_t)e);
    src = recvFdReply(op);
  }
  struct stat st;
  if (sys(SYS_fstat, src, (long)&st) < 0) fail(op, errno);
  int target = resolveCreating(op, slotFd(op, a[2]), str(a[3]), S_ISDIR(st.st_mode) ? RESOLVE_MKDIR : RESOLVE_MKFILE);
  if (target < 0) fail(op, -target);
  setSlot(op, a[5], target);
  char sb[32], tb[32];
  if (sys(SYS_mount, (long)fdPath(sb, (int)src), (long)fdPath(tb, target), 0, (long)a[4], 0) < 0) fail(op, errno);
  sys(SYS_close, src);
}

char g_mountData[8192];
uint32_t g_skipOps;  // ops after the current one that runPlan skips (MOUNT_FALLBACK)

// OP_MOUNT. MOUNT_TMPFS_MODE: a tmpfs on a mount point that existed takes its mode (runc
// mountToRootfs prepends "mode=%04o" to the data; a mode= in the data still wins). MOUNT_KEEP_LOCKED:
// a bind remount refused with EPERM is retried with the flags the source mount has locked (nosuid,
// nodev, noexec, atime, as statfs shows them), as runc HEAD does, instead of failing.
void mountOp(uint32_t op, const uint32_t* a) {
  char tb[32];
  uint32_t how = a[7] == NONE ? 0 : a[7];
  int slot = a[6] != NONE ? slotFd(op, a[6]) : -1;
  const char* target = slot >= 0 ? fdPath(tb, slot) : str(a[2]);
  const char* data = str(a[5]);
  if ((how & MOUNT_TMPFS_MODE) && slot >= 0 && !g_resolveCreated) {
    struct stat st;
    if (sys(SYS_fstat, slot, (long)&st) < 0) fail(op, errno);
    if (S_ISDIR(st.st_mode)) {
      const char prefix[] = "mode=";
      size_t o = 0;
      for (; prefix[o]; o++) g_mountData[o] = prefix[o];
      unsigned m = st.st_mode & 07777;
      for (int shift = 9; shift >= 0; shift -= 3) g_mountData[o++] = (char)('0' + ((m >> shift) & 7));
      if (data) {
        g_mountData[o++] = ',';
        for (size_t k = 0; data[k]; k++) {
          if (o >= sizeof g_mountData - 1) fail(op, E2BIG);
          g_mountData[o++] = data[k];
        }
      }
      g_mountData[o] = 0;
      data = g_mountData;
    }
  }
  unsigned long flags = a[4];
  if (sys(SYS_mount, (long)str(a[1]), (long)target, (long)str(a[3]), (long)flags, (long)data) == 0) {
    if (how & MOUNT_FALLBACK) g_skipOps = how >> MOUNT_FALLBACK_SHIFT;
    return;
  }
  int e = errno;
  // runc mountCgroupV2: a cgroup2 mount refused with EPERM or EBUSY (the host's /sys, bound in a
  // user namespace without a network namespace of its own, has the same cgroup2 superblock on
  // /sys/fs/cgroup already) falls back to a bind of the container's cgroup: the next ops.
  if ((how & MOUNT_FALLBACK) && (e == EPERM || e == EBUSY)) return;
  if (e == EINVAL && (how & MOUNT_WALK_UP) && slot < 0 && target) {
    // runc HEAD rootfsParentMountPropagation: EINVAL is "not a mount point", so the directory
    // above is tried, up to "/".
    char up[4096];
    size_t n = slen(target);
    if (n >= sizeof up) fail(op, ENAMETOOLONG);
    for (size_t k = 0; k <= n; k++) up[k] = target[k];
    while (e == EINVAL && !(n == 1 && up[0] == '/')) {
      while (n > 1 && up[n - 1] != '/') n--;
      if (n > 1) n--;
      up[n] = 0;
      if (sys(SYS_mount, 0, (long)up, 0, (long)flags, 0) == 0) return;
      e = errno;
    }
    fail(op, e);
  }
  if (e != EPERM || !(how & MOUNT_KEEP_LOCKED)) fail(op, e);
  // runc HEAD: the flags locked on the source (an unprivileged user namespace cannot change them)
  // are applied again; asking to clear a locked flag, or another atime than a locked one, stays an
  // error, so the mount never differs silently from what was asked.
  struct statfs sf;
  if ((slot >= 0 ? sys(SYS_fstatfs, slot, (long)&sf) : sys(SYS_statfs, (long)target, (long)&sf)) < 0) fail(op, e);
  const unsigned long atime = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
  const unsigned long lockable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | atime;
  unsigned long src = statfsToMountFlags(sf) | ((sf.f_flags & ST_RDONLY) ? MS_RDONLY : 0);
  unsigned long cleared = (how >> MOUNT_CLEARED_SHIFT) & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (src & cleared) fail(op, e);
  if ((flags & atime) && (flags & atime) != (src & atime)) fail(op, e);
  flags |= src & lockable;
  if (sys(SYS_mount, (long)str(a[1]), (long)target, (long)str(a[3]), (long)flags, (long)data) < 0) fail(op, errno);
}

char g_copyBuf[1 << 16];

// runc's tmpcopyup (mrunalp/fileutils CopyDirectory): what was under a tmpfs mount point is copied
// into the new tmpfs. src is the covered directory (held from before the mount), dst the tmpfs
// root. Directories, regular files, symlinks and device nodes (and fifos) keep their mode and owner.
void copyTree(uint32_t op, int src, int dst, int depth) {
  if (depth > 128) fail(op, ELOOP);
  forEachEntry(op, src, [&](const char* name) {
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) return;
    struct stat st;
    if (sys(SYS_newfstatat, src, (long)name, (long)&st, AT_SYMLINK_NOFOLLOW) < 0) fail(op, errno);
    unsigned perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      if (sys(SYS_mkdirat, dst, (long)name, perm) < 0) fail(op, errno);
      long s2 = sys(SYS_openat, src, (long)name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      long d2 = sys(SYS_openat, dst, (long)name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (s2 < 0 || d2 < 0) fail(op, errno);
      copyTree(op, (int)s2, (int)d2, depth + 1);
      sys(SYS_close, s2);
      sys(SYS_close, d2);
    } else if (S_ISREG(st.st_mode)) {
      long in = sys(SYS_openat, src, (long)name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (in < 0) fail(op, errno);
      long out = sys(SYS_openat, dst, (long)name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
      if (out < 0) fail(op, errno);
      for (;;) {
        long r = sys(SYS_read, in, (long)g_copyBuf, sizeof g_copyBuf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail(op, errno);
        if (r == 0) break;
        for (long w = 0; w < r;) {
          long k = sys(SYS_write, out, (long)(g_copyBuf + w), r - w);
          if (k < 0 && errno == EINTR) continue;
          if (k < 0) fail(op, errno);
          w += k;
        }
      }
      sys(SYS_close, in);
      sys(SYS_close, out);
    } else if (S_ISLNK(st.st_mode)) {
      char link[4096];
      long ln = sys(SYS_readlinkat, src, (long)name, (long)link, sizeof link - 1);
      if (ln < 0) fail(op, errno);
      link[ln] = 0;
      if (sys(SYS_symlinkat, (long)link, dst, (long)name) < 0) fail(op, errno);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      if (sys(SYS_mknodat, dst, (long)name, (long)st.st_mode, (long)st.st_rdev) < 0) fail(op, errno);
    } else {
      return;  // a socket: nothing to copy
    }
    if (sys(SYS_fchownat, dst, (long)name, (long)st.st_uid, (long)st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) fail(op, errno);
    if (!S_ISLNK(st.st_mode) && sys(SYS_fchmodat, dst, (long)name, perm, 0) < 0) fail(op, errno);
  });
}

void runOp(uint32_t i, const uint32_t* a) {
  char pbuf[32], pbuf2[32];
  switch (a[0]) {
    case OP_SYNC: {
      sendMsg(MSG_SYNC, i, (int32_t)a[1], 0);
      uint32_t reply = 0;
      long n;
      do n = sys(SYS_read, g_plan->syncFd, (long)&reply, sizeof reply);
      while (n < 0 && errno == EINTR);
      if (n != (long)sizeof reply) die(1);  // the parent is gone: nothing to report to
      if (reply != 0) die(1);               // the parent aborts the set-up
      return;
    }
    case OP_SETNS:
      if (sys(SYS_setns, (int)a[1], (int)a[2]) < 0) fail(i, errno);
      return;
    case OP_SETNS_SLOT:
      if (sys(SYS_setns, slotFd(i, a[1]), (int)a[2]) < 0) fail(i, errno);
      return;
    case OP_UNSHARE:
      if (sys(SYS_unshare, (long)a[1]) < 0) fail(i, errno);
      return;
    case OP_FORK: {
      int p[2];
      if (sys(SYS_pipe2, (long)p, O_CLOEXEC) < 0) fail(i, errno);
      long pid = sys(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
      if (pid < 0) fail(i, errno);
      if (pid > 0) {
        // Report the new pid before the grandchild may say anything on the shared socket.
        sendMsg(MSG_FORKED, i, (int32_t)pid, 0);
        char c = 1;
        sys(SYS_write, p[1], (long)&c, 1);
        die(0);
      }
      sys(SYS_close, p[1]);
      char c;
      long n;
      do n = sys(SYS_read, p[0], (long)&c, 1);
      while (n < 0 && errno == EINTR);
      sys(SYS_close, p[0]);
      return;
    }
    case OP_MOUNT:
      mountOp(i, a);
      return;
    case OP_OPEN_PATH: {
      long fd = sys(SYS_openat, AT_FDCWD, (long)str(a[2]), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) fail(i, errno);
      setSlot(i, a[1], (int)fd);
      return;
    }
    case OP_OPEN_FILE: {
      long fd = sys(SYS_openat, AT_FDCWD, (long)str(a[2]), (long)(a[3] | O_CLOEXEC));
      if (fd < 0) fail(i, errno);
      setSlot(i, a[1], (int)fd);
      return;
    }
    case OP_RESOLVE: {
      int root = slotFd(i, a[2]);
      int fd;
      uint32_t mode = a[4] & ~RESOLVE_NOFOLLOW_FLAG;
      g_extraResolve = (a[4] & RESOLVE_NOFOLLOW_FLAG) ? RESOLVE_NO_SYMLINKS : 0;
      if (mode == RESOLVE_EXISTING) {
        long r = openIn(root, str(a[3]), O_PATH);
        fd = r < 0 ? -errno : (int)r;
      } else {
        fd = resolveCreating(i, root, str(a[3]), mode);
      }
      g_extraResolve = 0;
      // runc: proc and sysfs "must be mounted on ordinary directory" (a symlink or a file is refused).
      bool ordinary = (a[4] & RESOLVE_NOFOLLOW_FLAG) && (fd == -ELOOP || fd == -ENOTDIR);
      if (fd < 0) fail(i, -fd, ordinary ? DETAIL_NOT_ORDINARY_DIR : DETAIL_NONE);
      setSlot(i, a[1], fd);
      return;
    }
    case OP_MOUNT_SETATTR: {
      MountAttr attr = {a[2], a[3], a[4], 0};
      long flags = AT_EMPTY_PATH | (a[5] ? AT_RECURSIVE : 0);
      if (sys(SYS_mount_setattr, slotFd(i, a[1]), (long)"", flags, (long)&attr, sizeof attr) < 0) fail(i, errno);
      return;
    }
    case OP_MKNOD: {
      char base[256];
      int dir = resolveParent(i, slotFd(i, a[1]), str(a[2]), base, sizeof base);
      long r = sys(SYS_mknodat, dir, (long)base, (long)a[3], (long)makedev(a[4], a[5]));
      if (r < 0 && errno != EEXIST) {
        int e = errno;
        sys(SYS_close, dir);
        fail(i, e);
      }
      r = sys(SYS_fchownat, dir, (long)base, (long)a[6], (long)a[7], AT_SYMLINK_NOFOLLOW);
      int e = errno;
      sys(SYS_close, dir);
      if (r < 0) fail(i, e);
      return;
    }
    case OP_SYMLINK: {
      char base[256];
      int dir = resolveParent(i, slotFd(i, a[1]), str(a[3]), base, sizeof base);
      long r = sys(SYS_symlinkat, (long)str(a[2]), dir, (long)base);
      int e = errno;
      sys(SYS_close, dir);
      if (r < 0 && e != EEXIST) fail(i, e);
      return;
    }
    case OP_PIVOT_ROOT: {
      // pivot_root(".", "."): the old root is stacked on the new one and detached at once, so no
      // directory for it is needed inside the container (runc libcontainer/rootfs_linux.go).
      long oldroot = sys(SYS_openat, AT_FDCWD, (long)"/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
      if (oldroot < 0) fail(i, errno);
      if (sys(SYS_fchdir, slotFd(i, a[1])) < 0) fail(i, errno);
      if (sys(SYS_pivot_root, (long)".", (long)".") < 0) fail(i, errno);
      if (sys(SYS_fchdir, oldroot) < 0) fail(i, errno);
      // Make the old root a slave so the detach below does not propagate to the host.
      if (sys(SYS_mount, (long)"", (long)".", (long)"", MS_SLAVE | MS_REC, 0) < 0) fail(i, errno);
      if (sys(SYS_umount2, (long)".", MNT_DETACH) < 0) fail(i, errno);
      sys(SYS_close, oldroot);
      if (sys(SYS_chdir, (long)"/") < 0) fail(i, errno);
      return;
    }
    case OP_MOVE_CHROOT:
      if (str(a[2])) hideHostProc(i, str(a[2]));
      if (sys(SYS_fchdir, slotFd(i, a[1])) < 0) fail(i, errno);
      if (sys(SYS_mount, (long)".", (long)"/", 0, MS_MOVE, 0) < 0) fail(i, errno);
      if (sys(SYS_chroot, (long)".") < 0) fail(i, errno);
      if (sys(SYS_chdir, (long)"/") < 0) fail(i, errno);
      return;
    case OP_WRITE_PROC: {
      // Only a real procfs file is written (CVE-2025-52881: a container-controlled path must not
      // turn a sysctl write into a write elsewhere).
      long fd = sys(SYS_openat, AT_FDCWD, (long)str(a[1]), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) fail(i, errno);
      struct statfs sf;
      if (sys(SYS_fstatfs, fd, (long)&sf) < 0) fail(i, errno);
      if (sf.f_type != PROC_SUPER_MAGIC) fail(i, EXDEV, DETAIL_NOT_PROCFS);
      const char* d = str(a[2]);
      if (sys(SYS_write, fd, (long)d, (long)slen(d)) < 0) fail(i, errno);
      sys(SYS_close, fd);
      return;
    }
    case OP_SETHOSTNAME: {
      const char* n = str(a[1]);
      if (sys(SYS_sethostname, (long)n, (long)slen(n)) < 0) fail(i, errno);
      return;
    }
    case OP_SETDOMAINNAME: {
      const char* n = str(a[1]);
      if (sys(SYS_setdomainname, (long)n, (long)slen(n)) < 0) fail(i, errno);
      return;
    }
    case OP_RLIMIT: {
      struct rlimit64 {
        uint64_t cur, max;
      } lim = {u64(a[2], a[3]), u64(a[4], a[5])};
      if (sys(SYS_prlimit64, 0, (long)a[1], (long)&lim, 0) < 0) fail(i, errno);
      return;
    }
    case OP_CAPBSET_DROP: {
      uint64_t keep = u64(a[1], a[2]);
      for (uint32_t c = 0; c <= a[3] && c < 64; c++) {
        if (keep & (1ULL << c)) continue;
        if (sys(SYS_prctl, PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) fail(i, errno);
      }
      return;
    }
    case OP_KEEPCAPS:
      if (sys(SYS_prctl, PR_SET_KEEPCAPS, a[1], 0, 0, 0) < 0) fail(i, errno);
      return;
    case OP_SETGROUPS: {
      uint32_t gids[1024];
      uint32_t n = 0;
      if (a[1] != NONE && a[1] < g_plan->nlists) {
        for (char** p = g_plan->lists[a[1]]; *p; p++) {
          if (n >= 1024) fail(i, E2BIG);
          uint32_t v = 0;
          for (const char* c = *p; *c; c++) v = v * 10 + (uint32_t)(*c - '0');
          gids[n++] = v;
        }
      }
      if (sys(SYS_setgroups, n, (long)gids) < 0) fail(i, errno);
      return;
    }
    case OP_SETRESGID:
      if (sys(SYS_setresgid, a[1], a[1], a[1]) < 0) fail(i, errno);
      return;
    case OP_SETRESUID:
      if (sys(SYS_setresuid, a[1], a[1], a[1]) < 0) fail(i, errno);
      return;
    case OP_CAPSET: {
      struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
      struct __user_cap_data_struct data[2] = {{a[1], a[3], a[5]}, {a[2], a[4], a[6]}};
      if (sys(SYS_capset, (long)&hdr, (long)data) < 0) fail(i, errno);
      return;
    }
    case OP_AMBIENT: {
      if (sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) fail(i, errno);
      uint64_t want = u64(a[1], a[2]);
      // As runc: a capability that cannot be raised (not in permitted and inheritable) is skipped.
      for (uint32_t c = 0; c < 64; c++)
        if (want & (1ULL << c)) sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
      return;
    }
    case OP_NO_NEW_PRIVS:
      if (sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(i, errno);
      return;
    case OP_UMASK:
      sys(SYS_umask, a[1]);
      return;
    case OP_CHDIR:
      if (a[2] == CHDIR_RETRY && !g_chdirPending) return;
      if (sys(SYS_chdir, (long)str(a[1])) == 0) return;
      if (a[2] == CHDIR_FIRST && (errno == EACCES || errno == EPERM)) {
        g_chdirPending = true;
        return;
      }
      fail(i, errno);
    case OP_CLOSE_FDS: {
      // Node leaves FD_CLOEXEC on 0-2; the kept fds must survive execve, everything else must not
      // (CVE-2024-21626: no host fd reaches the container).
      uint32_t keep = a[1];
      for (uint32_t fd = 0; fd < keep; fd++) {
        if ((int)fd == g_plan->syncFd || fd == a[2]) continue;
        sys(SYS_fcntl, fd, F_SETFD, 0);
      }
      if (sys(SYS_close_range, keep, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
      // A seccomp profile loaded earlier (no no_new_privs: before the capabilities drop) may not
      // know close_range: walk /proc/self/fd instead, as runc's CloseExecFrom falls back.
      if (errno != ENOSYS && errno != EPERM && errno != EINVAL) fail(i, errno);
      cloexecFrom(i, keep);
      return;
    }
    case OP_LOOKUP_EXEC:
      lookupExec(i, str(a[1]), str(a[2]));
      return;
    case OP_WAIT_FIFO: {
      int fd = (int)a[1];
      for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        long r = sys(SYS_ppoll, (long)&pfd, 1, 0, 0, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          fail(i, errno);
        }
        char c;
        long n = sys(SYS_read, fd, (long)&c, 1);
        if (n == 1) break;
        if (n == 0) fail(i, EPIPE, DETAIL_FIFO_CLOSED);
        if (errno != EAGAIN && errno != EINTR) fail(i, errno);
      }
      sys(SYS_close, fd);
      return;
    }
    case OP_EXECVE: {
      char** argv = a[1] < g_plan->nlists ? g_plan->lists[a[1]] : nullptr;
      char** envp = a[2] < g_plan->nlists ? g_plan->lists[a[2]] : nullptr;
      sys(SYS_execve, (long)g_exe, (long)argv, (long)envp);
      int err = errno;
      // After `start` nobody reads the sync socket any more (create's parent is gone): the
      // error goes to the process's own stderr, in runc's init's words, as runc's does.
      Msg m{MSG_ERROR, i, err, DETAIL_NONE};
      if (sys(SYS_sendto, g_plan->syncFd, (long)&m, sizeof m, MSG_NOSIGNAL, 0, 0) < 0) writeExecError(err);
      die(1);
    }
    case OP_MASK_PATH: {
      struct open_how how = {};
      how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
      how.resolve = RESOLVE_NO_MAGICLINKS;
      long fd = sys(SYS_openat2, AT_FDCWD, (long)str(a[1]), (long)&how, sizeof how);
      if (fd < 0) {
        if (errno == ENOENT) return;  // as runc: a path that does not exist needs no mask
        fail(i, errno);
      }
      struct stat st;
      if (sys(SYS_fstat, fd, (long)&st) < 0) fail(i, errno);
      if (S_ISDIR(st.st_mode)) {
        // runc HEAD: every masked directory shares one read-only tmpfs (the first is bound on the
        // others), and a bind that fails falls back to a tmpfs of its own from then on.
        bool shared = a[2] != NONE && a[2] < MAX_SLOTS && g_slots[a[2]] >= 0 && !g_maskBindFailed;
        if (shared &&
            sys(SYS_mount, (long)fdPath(pbuf2, g_slots[a[2]]), (long)fdPath(pbuf, (int)fd), 0, MS_BIND, 0) < 0) {
          g_maskBindFailed = true;
          shared = false;
        }
        if (!shared) {
          if (sys(SYS_mount, (long)"tmpfs", (long)fdPath(pbuf, (int)fd), (long)"tmpfs", MS_RDONLY, 0) < 0)
            fail(i, errno);
          if (a[2] != NONE && a[2] < MAX_SLOTS && g_slots[a[2]] < 0 && !g_maskBindFailed) {
            long top = sys(SYS_openat2, AT_FDCWD, (long)str(a[1]), (long)&how, sizeof how);
            if (top < 0) fail(i, errno);
            setSlot(i, a[2], (int)top);
          }
        }
      } else {
        // CVE-2025-31133: bind only the real null device, held by fd, never a path that may
        // have been replaced.
        long nul = sys(SYS_openat, AT_FDCWD, (long)"/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW);
        // Missing, or a symlink (ELOOP): say so about /dev/null, not about the masked path.
        if (nul < 0) fail(i, errno, errno == ENOENT || errno == ELOOP ? DETAIL_NOT_DEVNULL : DETAIL_NONE);
        struct stat ns;
        if (sys(SYS_fstat, nul, (long)&ns) < 0) fail(i, errno);
        if (!S_ISCHR(ns.st_mode) || major(ns.st_rdev) != 1 || minor(ns.st_rdev) != 3)
          fail(i, EINVAL, DETAIL_NOT_DEVNULL);
        if (sys(SYS_mount, (long)fdPath(pbuf2, (int)nul), (long)fdPath(pbuf, (int)fd), 0, MS_BIND, 0) < 0)
          fail(i, errno);
        sys(SYS_close, nul);
      }
      sys(SYS_close, fd);
      return;
    }
    case OP_READONLY_PATH: {
      struct open_how how = {};
      how.flags = O_PATH | O_CLOEXEC;
      how.resolve = RESOLVE_NO_MAGICLINKS;
      long fd = sys(SYS_openat2, AT_FDCWD, (long)str(a[1]), (long)&how, sizeof how);
      if (fd < 0) {
        if (errno == ENOENT) return;
        fail(i, errno);
      }
      const char* t = fdPath(pbuf, (int)fd);
      if (sys(SYS_mount, (long)t, (long)t, 0, MS_BIND | MS_REC, 0) < 0) fail(i, errno);
      sys(SYS_close, fd);
      // Reopen: the old fd still points below the new bind mount.
      fd = sys(SYS_openat2, AT_FDCWD, (long)str(a[1]), (long)&how, sizeof how);
      if (fd < 0) fail(i, errno);
      struct statfs sf;
      if (sys(SYS_fstatfs, fd, (long)&sf) < 0) fail(i, errno);
      unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | statfsToMountFlags(sf);
      if (sys(SYS_mount, 0, (long)fdPath(pbuf, (int)fd), 0, (long)flags, 0) < 0) fail(i, errno);
      sys(SYS_close, fd);
      return;
    }
    case OP_REMOUNT_ROOT_RO: {
      struct statfs sf;
      if (sys(SYS_statfs, (long)"/", (long)&sf) < 0) fail(i, errno);
      unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | statfsToMountFlags(sf);
      if (sys(SYS_mount, 0, (long)"/", 0, (long)flags, 0) < 0) fail(i, errno);
      return;
    }
    case OP_PDEATHSIG:
      if (sys(SYS_prctl, PR_SET_PDEATHSIG, a[1], 0, 0, 0) < 0) fail(i, errno);
      return;
    case OP_CLOSE_SLOT:
      if (a[1] < MAX_SLOTS && g_slots[a[1]] >= 0) {
        sys(SYS_close, g_slots[a[1]]);
        g_slots[a[1]] = -1;
      }
      return;
    case OP_SETSID:
      // EPERM: already a process group leader; fine when it leads its own session already.
      if (sys(SYS_setsid) < 0 && !(errno == EPERM && sys(SYS_getsid, 0) == sys(SYS_getpid))) fail(i, errno);
      return;
    case OP_DUP2:
      if (sys(SYS_dup3, a[1], a[2], 0) < 0) fail(i, errno);
      return;
    case OP_SECCOMP: {
      struct {
        unsigned short len;
        const void* filter;
      } prog = {(unsigned short)(a[2] / 8), g_plan->strings + a[1]};
      if (a[1] + a[2] > g_plan->stringsLen) fail(i, EINVAL);
      long r = sys(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, a[3], (long)&prog);
      if (r < 0) fail(i, errno);
      // SECCOMP_FILTER_FLAG_NEW_LISTENER: the result is the notify fd; the parent forwards it to
      // listenerPath (runtime-spec config-linux.md "seccomp"). Sent before execve, so a filter
      // on sendmsg cannot block it once the program runs.
      if (a[3] & (1U << 3)) {
        sendFdSync(i, a[4], (int)r);
        sys(SYS_close, r);
      }
      return;
    }
    case OP_PERSONALITY:
      if (sys(SYS_personality, a[1]) < 0) fail(i, errno);
      return;
    case OP_SCHED_SETATTR:
      if (a[1] + a[2] > g_plan->stringsLen) fail(i, EINVAL);
      if (sys(SYS_sched_setattr, 0, (long)(g_plan->strings + a[1]), 0) < 0) fail(i, errno);
      return;
    case OP_IOPRIO:
      if (sys(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, a[1]) < 0) fail(i, errno);
      return;
    case OP_AFFINITY:
      if (a[1] + a[2] > g_plan->stringsLen) fail(i, EINVAL);
      if (sys(SYS_sched_setaffinity, 0, a[2], (long)(g_plan->strings + a[1])) < 0) fail(i, errno);
      return;
    case OP_MEMPOLICY:
      if (a[2] + a[3] > g_plan->stringsLen) fail(i, EINVAL);
      if (sys(SYS_set_mempolicy, a[1], a[3] ? (long)(g_plan->strings + a[2]) : 0, (long)a[3] * 8) < 0) fail(i, errno);
      return;
    case OP_RECV_STATE:
      recvState(i, a[1]);
      return;
    case OP_RUN_HOOK: {
      char** argv = a[2] < g_plan->nlists ? g_plan->lists[a[2]] : nullptr;
      char** envp = a[3] < g_plan->nlists ? g_plan->lists[a[3]] : nullptr;
      runHook(i, str(a[1]), argv, envp, a[4]);
      return;
    }
    case OP_CONSOLE:
      setupConsole(i, a[1], a[2], a[3], a[4] != 0);
      return;
    case OP_IDMAP_MOUNT:
      idmapMount(i, a);
      return;
    case OP_FIX_STDIO:
      fixStdio(i, a[1]);
      return;
    case OP_LOOPBACK_UP:
      loopbackUp(i);
      return;
    case OP_SET_HOME:
      setHome(i, a[1], a[2], a[3]);
      return;
    case OP_BIND:
      bindMount(i, a);
      return;
    case OP_COPYUP: {
      // a[1]: the covered directory (O_PATH, held from before the mount); a[2], a[3]: root, path of
      // the new tmpfs.
      long src = sys(SYS_openat, slotFd(i, a[1]), (long)".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (src < 0) fail(i, errno);
      long top = openIn(slotFd(i, a[2]), str(a[3]), O_RDONLY | O_DIRECTORY);
      if (top < 0) fail(i, errno);
      copyTree(i, (int)src, (int)top, 0);
      sys(SYS_close, src);
      sys(SYS_close, top);
      return;
    }
    case OP_FCHDIR:
      if (sys(SYS_fchdir, slotFd(i, a[1])) < 0) fail(i, errno);
      return;
    default:
      fail(i, ENOSYS);
  }
}

// close_range over the gaps between the sorted fds to keep (syncFd is among them).
void closeOthers(const Plan& plan) {
  unsigned lo = 0;
  for (uint32_t k = 0; k < plan.nkeep; k++) {
    unsigned f = (unsigned)plan.keepFds[k];
    if (f > lo) sys(SYS_close_range, lo, f - 1, 0);
    if (f + 1 > lo) lo = f + 1;
  }
  sys(SYS_close_range, lo, ~0U, 0);
}

}  // namespace

void runPlan(const Plan& plan) {
  g_plan = &plan;
  // CVE-2019-5736: until execve this process is a copy of the runtime (node, or tsrun-init), so
  // /proc/<pid>/exe and /proc/<pid>/fd/* lead to host files. A container process (exec'd into a
  // created container, or racing an exec) could open the runtime binary through them and rewrite
  // it once nothing executes it. Non-dumpable, those links need CAP_SYS_PTRACE in the host user
  // namespace (ptrace(2) "Ptrace access mode checking"); execve of the container's program makes
  // the process dumpable again. Only as root: an unprivileged parent could not write the id maps
  // of a non-dumpable child (runc nsexec.c toggles it around them for the same reason).
  if (sys(SYS_geteuid) == 0) sys(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
  closeOthers(plan);
  for (int s = 0; s < MAX_SLOTS; s++) g_slots[s] = -1;
  // Node ignores SIGPIPE and SIGXFSZ and CLONE_CLEAR_SIGHAND resets only handled signals:
  // restore every default and unblock what spawn() blocked around the clone.
  resetSignals();
  sys(SYS_umask, 0);
  for (uint32_t i = 0; i < plan.nops; i++) {
    runOp(i, plan.ops + (size_t)i * OP_WORDS);
    i += g_skipOps;  // a MOUNT_FALLBACK mount that worked skips its fallback ops
    g_skipOps = 0;
  }
  // A plan ends with EXECVE; falling off the end is a compiler bug.
  fail(plan.nops, ENOEXEC);
}

}  // namespace tsrun
