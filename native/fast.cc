// tsrun-fast: the static front of the short verbs (state, kill, start, delete). bin/tsrun runs it
// first; it carries out what the container's fast record allows (written by TypeScript,
// src/state/fast-record.ts) and hands every other case to the JS CLI, unchanged, by execv of the
// engine command line the launcher passed. The contract, and every case that falls back, is in
// native/README.md ("The fast front"). It decides nothing a record does not say: a case it was not
// built for is the JS CLI's, and it falls back before its first side effect.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace {

char** g_engine;  // the engine's argv (N words)
int g_nengine;    //
char** g_args;    // tsrun's own arguments
int g_nargs;      //
int g_logFd = 2;  // --log FILE, or stderr
bool g_json;      // --log-format json

/** Hands the whole command to the JS CLI: nothing has been changed yet. */
[[noreturn]] void fallback() {
  signal(SIGPIPE, SIG_DFL);
  char* argv[g_nengine + g_nargs + 1];
  for (int i = 0; i < g_nengine; i++) argv[i] = g_engine[i];
  for (int i = 0; i < g_nargs; i++) argv[g_nengine + i] = g_args[i];
  argv[g_nengine + g_nargs] = nullptr;
  execv(argv[0], argv);
  dprintf(2, "tsrun: cannot run the JS engine %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

bool writeAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

/** Appends s to out as the inside of a JSON string (JSON.stringify's escapes; Go's %q agrees). */
size_t jsonEscape(const char* s, char* out, size_t cap) {
  size_t j = 0;
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(s); *p && j + 7 < cap; p++) {
    const char* named = *p == '"'    ? "\\\""
                        : *p == '\\' ? "\\\\"
                        : *p == '\n' ? "\\n"
                        : *p == '\r' ? "\\r"
                        : *p == '\t' ? "\\t"
                        : *p == '\b' ? "\\b"
                        : *p == '\f' ? "\\f"
                                     : nullptr;
    if (named)
      j += static_cast<size_t>(snprintf(out + j, cap - j, "%s", named));
    else if (*p < 0x20)
      j += static_cast<size_t>(snprintf(out + j, cap - j, "\\u%04x", *p));
    else
      out[j++] = static_cast<char>(*p);
  }
  out[j] = 0;
  return j;
}

/**
 * A logrus line (src/cli/log.ts formatLine) for an error after a side effect, to the --log file
 * (and stderr) or stderr; exit status 1. why: the cause (strerror(err) when null).
 */
[[noreturn]] void fail(const char* what, const char* path, int err, const char* why = nullptr) {
  char msg[PATH_MAX + 256];
  snprintf(msg, sizeof msg, "%s %s: %s", what, path, why ? why : strerror(err));
  char esc[sizeof msg * 6];
  jsonEscape(msg, esc, sizeof esc);
  char when[32];
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char line[sizeof esc + 96];
  int n = g_json ? snprintf(line, sizeof line, "{\"level\":\"error\",\"msg\":\"%s\",\"time\":\"%s\"}\n", esc, when)
                 : snprintf(line, sizeof line, "time=\"%s\" level=error msg=\"%s\"\n", when, esc);
  writeAll(g_logFd, line, static_cast<size_t>(n));
  if (g_logFd != 2) dprintf(2, "%s\n", msg);
  _exit(1);
}

/** Reads fd to its end, at most cap - 1 bytes, and NUL-terminates: the byte count. */
size_t readFd(int fd, char* buf, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += static_cast<size_t>(r);
  }
  buf[n] = 0;
  return n;
}

/** Reads a small file whole (NUL-terminated); -1 with errno when it does not open. */
ssize_t readSmall(int dirfd, const char* path, char* buf, size_t cap) {
  int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = readFd(fd, buf, cap);
  close(fd);
  return static_cast<ssize_t>(n);
}

// ---- the record (native/README.md "Record") ----

constexpr int kMaxCreated = 64;

struct Record {
  long pid = 0;
  const char* start = nullptr;  // nullptr: unknown ("-")
  int privatePid = -1, ownCgroup = -1, poststart = -1, poststop = -1;
  int cgroup = -1;  // 0 none, 1 fs
  const char* cgroupDir = nullptr;
  const char* created[kMaxCreated];
  int ncreated = 0;
  const char* bundle = nullptr;
  const char *head = nullptr, *tail = nullptr;
  size_t headLen = 0, tailLen = 0;
};

char g_recordBuf[1 << 20];

int flag01(const char* v) {
  return !strcmp(v, "1") ? 1 : !strcmp(v, "0") ? 0 : -2;
}

/** A raw block "KEY LEN\n<LEN bytes>" at *p; false when it is not there whole. */
bool block(char*& p, char* end, const char* key, const char*& out, size_t& len) {
  size_t k = strlen(key);
  if (static_cast<size_t>(end - p) < k + 2 || memcmp(p, key, k) || p[k] != ' ') return false;
  char* nl = static_cast<char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
  if (!nl) return false;
  *nl = 0;
  char* e;
  errno = 0;
  unsigned long n = strtoul(p + k + 1, &e, 10);
  if (errno || *e || e == p + k + 1 || n > static_cast<size_t>(end - (nl + 1))) return false;
  out = nl + 1;
  len = n;
  p = nl + 1 + n;
  return true;
}

/** Loads and checks <dir>/fast; falls back on anything but a whole record of this version. */
void loadRecord(int dirfd, Record& r) {
  int fd = openat(dirfd, "fast", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fallback();
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_size <= 0 ||
      static_cast<size_t>(st.st_size) >= sizeof g_recordBuf)
    fallback();
  size_t n = readFd(fd, g_recordBuf, sizeof g_recordBuf);
  close(fd);
  if (n != static_cast<size_t>(st.st_size)) fallback();
  char *p = g_recordBuf, *end = g_recordBuf + n;
  bool first = true;
  while (p < end && strncmp(p, "head ", 5)) {
    char* nl = static_cast<char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!nl) fallback();
    *nl = 0;
    char* line = p;
    p = nl + 1;
    if (first) {
      if (strcmp(line, "tsrun-fast 1")) fallback();
      first = false;
      continue;
    }
    char* sp = strchr(line, ' ');
    if (!sp) fallback();
    *sp = 0;
    const char *key = line, *v = sp + 1;
    if (!strcmp(key, "pid")) {
      char* e;
      r.pid = strtol(v, &e, 10);
      if (*e || r.pid <= 0) fallback();
    } else if (!strcmp(key, "start")) {
      r.start = strcmp(v, "-") ? v : nullptr;
    } else if (!strcmp(key, "privatepid")) {
      r.privatePid = flag01(v);
    } else if (!strcmp(key, "owncgroup")) {
      r.ownCgroup = flag01(v);
    } else if (!strcmp(key, "poststart")) {
      r.poststart = flag01(v);
    } else if (!strcmp(key, "poststop")) {
      r.poststop = flag01(v);
    } else if (!strcmp(key, "cgroup")) {
      r.cgroup = !strcmp(v, "none") ? 0 : !strcmp(v, "fs") ? 1 : -2;
    } else if (!strcmp(key, "cgroupdir")) {
      if (v[0] != '/') fallback();
      r.cgroupDir = v;
    } else if (!strcmp(key, "created")) {
      if (v[0] != '/' || r.ncreated == kMaxCreated) fallback();
      r.created[r.ncreated++] = v;
    } else if (!strcmp(key, "bundle")) {
      if (v[0] != '/') fallback();
      r.bundle = v;
    } else {
      fallback();  // a key of a newer writer
    }
  }
  if (first || !block(p, end, "head", r.head, r.headLen) || !block(p, end, "tail", r.tail, r.tailLen) || p != end)
    fallback();
  if (!r.pid || r.privatePid < 0 || r.ownCgroup < 0 || r.poststart < 0 || r.poststop < 0 || r.cgroup < 0 || !r.bundle ||
      (r.cgroup == 1) != (r.cgroupDir != nullptr))
    fallback();
}

// ---- status (src/state/status.ts) ----

enum Status { kCreated, kRunning, kPaused, kStopped };
const char* const kStatusName[] = {"created", "running", "paused", "stopped"};

/** Alive: /proc/<pid>/stat exists, not a zombie, and started when the record says. */
bool alive(const Record& r) {
  char path[32], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", r.pid);
  if (readSmall(AT_FDCWD, path, buf, sizeof buf) <= 0) return false;
  // comm may hold spaces and parentheses: the fields resume after the last ')'.
  char* close = strrchr(buf, ')');
  if (!close || close[1] != ' ') return false;
  char* f = close + 2;
  char state = *f;
  if (state == 'Z' || state == 'X') return false;
  if (!r.start) return true;
  for (int i = 0; i < 19; i++) {  // to field 22 (starttime): 19 spaces after the state
    f = strchr(f, ' ');
    if (!f) return false;
    f++;
  }
  size_t len = strcspn(f, " \n");
  return len == strlen(r.start) && !memcmp(f, r.start, len);
}

Status status(int dirfd, const Record& r) {
  if (!alive(r)) return kStopped;
  if (r.cgroup == 1) {
    char path[PATH_MAX], buf[16];
    if (snprintf(path, sizeof path, "%s/cgroup.freeze", r.cgroupDir) >= static_cast<int>(sizeof path)) fallback();
    if (readSmall(AT_FDCWD, path, buf, sizeof buf) > 0 && buf[0] == '1') return kPaused;
  }
  struct stat st;
  if (fstatat(dirfd, "exec.fifo", &st, 0) == 0) return kCreated;
  return kRunning;
}

// ---- verbs ----

[[noreturn]] void printState(int dirfd, const Record& r) {
  Status s = status(dirfd, r);
  char mid[96];
  int n = snprintf(mid, sizeof mid, "%ld,\n  \"status\": \"%s\",", s == kStopped ? 0 : r.pid, kStatusName[s]);
  if (!writeAll(1, r.head, r.headLen) || !writeAll(1, mid, static_cast<size_t>(n)) || !writeAll(1, r.tail, r.tailLen) ||
      !writeAll(1, "\n", 1))
    fail("write", "stdout", errno);
  _exit(0);
}

/** runc's signal names (x86-64), as src/container/signals.ts reads them. */
int parseSignal(const char* raw) {
  if (!raw) return SIGTERM;
  if (!*raw) return -1;
  if (strspn(raw, "0123456789") == strlen(raw)) {
    if (strlen(raw) > 3) return -1;
    int n = atoi(raw);
    return n <= 64 ? n : -1;
  }
  char name[24];
  size_t len = strlen(raw);
  if (len + 4 > sizeof name) return -1;
  size_t off = 0;
  if (!(len >= 3 && (raw[0] | 32) == 's' && (raw[1] | 32) == 'i' && (raw[2] | 32) == 'g')) {
    memcpy(name, "SIG", 3);
    off = 3;
  }
  for (size_t i = 0; i <= len; i++)
    name[off + i] = static_cast<char>(raw[i] >= 'a' && raw[i] <= 'z' ? raw[i] - 32 : raw[i]);
  static const struct {
    const char* name;
    int n;
  } kSignals[] = {
      {"SIGHUP", 1},   {"SIGINT", 2},   {"SIGQUIT", 3},    {"SIGILL", 4},   {"SIGTRAP", 5},    {"SIGABRT", 6},
      {"SIGIOT", 6},   {"SIGBUS", 7},   {"SIGFPE", 8},     {"SIGKILL", 9},  {"SIGUSR1", 10},   {"SIGSEGV", 11},
      {"SIGUSR2", 12}, {"SIGPIPE", 13}, {"SIGALRM", 14},   {"SIGTERM", 15}, {"SIGSTKFLT", 16}, {"SIGCHLD", 17},
      {"SIGCONT", 18}, {"SIGSTOP", 19}, {"SIGTSTP", 20},   {"SIGTTIN", 21}, {"SIGTTOU", 22},   {"SIGURG", 23},
      {"SIGXCPU", 24}, {"SIGXFSZ", 25}, {"SIGVTALRM", 26}, {"SIGPROF", 27}, {"SIGWINCH", 28},  {"SIGIO", 29},
      {"SIGPOLL", 29}, {"SIGPWR", 30},  {"SIGSYS", 31},
  };
  for (const auto& s : kSignals)
    if (!strcmp(name, s.name)) return s.n;
  // SIGRTMIN[+n] is 34+n, SIGRTMAX[-n] 64-n, within 34..64.
  for (int rtmax = 0; rtmax < 2; rtmax++) {
    const char* base = rtmax ? "SIGRTMAX" : "SIGRTMIN";
    if (strncmp(name, base, 8)) continue;
    const char* rest = name + 8;
    int k = 0;
    if (*rest) {
      if (*rest != (rtmax ? '-' : '+') || !rest[1] || strspn(rest + 1, "0123456789") != strlen(rest + 1) ||
          strlen(rest + 1) > 2)
        return -1;
      k = atoi(rest + 1);
    }
    int n = rtmax ? 64 - k : 34 + k;
    return n >= 34 && n <= 64 ? n : -1;
  }
  return -1;
}

[[noreturn]] void killVerb(int dirfd, const Record& r, int sig) {
  Status s = status(dirfd, r);
  if (s != kCreated && s != kRunning) fallback();
  // src/container/kill.ts: a parked init in a PID namespace of its own is ended by the JS verb
  // under the lock (SIGKILL); SIGKILL without one goes to the whole cgroup when it is tsrun's.
  static const int kEndsParkedInit[] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGSYS, SIGSTKFLT};
  if (s == kCreated && r.privatePid)
    for (int e : kEndsParkedInit)
      if (e == sig) fallback();
  if (sig == SIGKILL && !r.privatePid && r.ownCgroup) fallback();
  // The pidfd pins the process; the start time checked after opening it makes sure the signal hits
  // the init the status was computed for, not a process that reused its pid.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(r.pid), 0));
  if (pidfd < 0) fallback();
  if (!alive(r) || syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0) fallback();
  _exit(0);
}

[[noreturn]] void startVerb(int dirfd, const Record& r) {
  if (status(dirfd, r) != kCreated || r.poststart) fallback();
  const char* notify = getenv("NOTIFY_SOCKET");
  if (notify && *notify) fallback();
  // Opening the fifo for writing never blocks: the parked init holds the read end (ENXIO: none).
  int fd = openat(dirfd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fallback();
  if (write(fd, "0", 1) != 1) fallback();
  close(fd);
  if (unlinkat(dirfd, "exec.fifo", 0) && errno != ENOENT) fail("remove", "exec.fifo", errno);
  _exit(0);
}

/** rmdir of a cgroup, waiting half a second for exiting processes: 1 gone, 0 still in use, -1 error. */
int rmdirCgroup(const char* d) {
  for (int attempt = 0;; attempt++) {
    if (rmdir(d) == 0 || errno == ENOENT) return 1;
    if (errno == EBUSY && attempt < 50) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, nullptr);
      continue;
    }
    return errno == ENOTEMPTY || errno == EBUSY ? 0 : -1;
  }
}

/** Every cgroup below dir, bottom up (src/cgroups/v2.ts removeSubtree); false: leave it to JS. */
bool removeSubtree(const char* dir, int depth) {
  if (depth > 32) return false;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    return false;
  }
  bool ok = true;
  while (struct dirent* e = readdir(d)) {
    if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char child[PATH_MAX];
    if (snprintf(child, sizeof child, "%s/%s", dir, e->d_name) >= static_cast<int>(sizeof child) ||
        !removeSubtree(child, depth + 1) || rmdirCgroup(child) != 1) {
      ok = false;
      break;
    }
  }
  closedir(d);
  return ok;
}

constexpr int kMaxStateDepth = 8;
int g_removeErrno;  // why removeEntries stopped: an errno, or 0 for "nested too deep"

/** Removes what the directory fd holds (no symlink followed), `last` after the rest. */
bool removeEntries(int fd, const char* last, int depth) {
  auto stop = [](int err) {
    g_removeErrno = err;
    return false;
  };
  if (depth > kMaxStateDepth) return stop(0);
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return stop(errno);
  DIR* d = fdopendir(dup);
  if (!d) {
    int err = errno;
    close(dup);
    return stop(err);
  }
  bool ok = true, sawLast = false;
  while (struct dirent* e = readdir(d)) {
    const char* n = e->d_name;
    if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
    if (last && !strcmp(n, last)) {
      sawLast = true;
      continue;
    }
    bool isDir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      isDir = fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (isDir) {
      int sub = openat(fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        ok = stop(errno);
      } else {
        ok = removeEntries(sub, nullptr, depth + 1);
        close(sub);
        if (ok && unlinkat(fd, n, AT_REMOVEDIR)) ok = stop(errno);
      }
    } else if (unlinkat(fd, n, 0) && errno != ENOENT) {
      ok = stop(errno);
    }
    if (!ok) break;
  }
  closedir(d);
  if (ok && sawLast && unlinkat(fd, last, 0) && errno != ENOENT) ok = stop(errno);
  return ok;
}

[[noreturn]] void deleteVerb(int dirfd, const char* dirPath, const Record& r) {
  if (status(dirfd, r) != kStopped || r.poststop) fallback();
  char path[PATH_MAX];
  struct stat st;
  // An image-made rootfs (src/image/image-rootfs.ts) is unmounted and removed by the JS verb.
  if (snprintf(path, sizeof path, "%s/tsrun-image.json", r.bundle) >= static_cast<int>(sizeof path) ||
      lstat(path, &st) == 0 || errno != ENOENT)
    fallback();
  if (r.cgroup == 1) {
    // Processes that outlive the init (no private PID namespace) are killed by the JS verb.
    if (r.ownCgroup && !r.privatePid) {
      char buf[256];
      if (snprintf(path, sizeof path, "%s/cgroup.events", r.cgroupDir) >= static_cast<int>(sizeof path)) fallback();
      if (readSmall(AT_FDCWD, path, buf, sizeof buf) >= 0 && strstr(buf, "populated 1")) fallback();
    }
    // src/cgroups/v2.ts removeCgroup: the container's own directory with all below it, then the
    // directories tsrun made, innermost first; one still in use by others stays.
    if (r.ncreated > 0 && !strcmp(r.created[r.ncreated - 1], r.cgroupDir) && !removeSubtree(r.cgroupDir, 0)) fallback();
    for (int i = r.ncreated - 1; i >= 0; i--) {
      int got = rmdirCgroup(r.created[i]);
      if (got < 0) fallback();
      if (got == 0) break;
    }
  }
  // The fast record first: once anything else goes, a retry must be the JS verb's (which can
  // always finish a half-removed container), never this front failing the same way again.
  // state.json last: until it goes, a failure leaves a record the JS verb can finish from.
  if (unlinkat(dirfd, "fast", 0) && errno != ENOENT) fallback();
  if (!removeEntries(dirfd, "state.json", 0))
    fail("remove", dirPath, g_removeErrno,
         g_removeErrno ? nullptr : "directories nested deeper than the front removes (the JS CLI does)");
  if (rmdir(dirPath) && errno != ENOENT) fail("remove", dirPath, errno);
  _exit(0);
}

bool validId(const char* id) {
  if (!*id || !strcmp(id, ".") || !strcmp(id, "..")) return false;
  for (const char* p = id; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
          c == '-' || c == '.'))
      return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  long n = argc >= 2 ? strtol(argv[1], &end, 10) : 0;
  if (argc < 3 || !end || *end || n < 1 || n > argc - 2) {
    dprintf(2, "tsrun-fast: usage: tsrun-fast N ENGINE-ARGV(N words) TSRUN-ARGS... (run by bin/tsrun)\n");
    return 127;
  }
  g_engine = argv + 2;
  g_nengine = static_cast<int>(n);
  g_args = argv + 2 + n;
  g_nargs = argc - 2 - static_cast<int>(n);
  signal(SIGPIPE, SIG_IGN);  // a closed reader fails the write (EPIPE) as in the JS engines

  if (geteuid() != 0) fallback();
  // Global flags (src/cli/commands.ts GLOBAL_FLAGS), as Go's flag package reads them.
  const char *root = "/run/tsrun", *log = nullptr;
  int i = 0;
  for (; i < g_nargs && g_args[i][0] == '-'; i++) {
    const char* a = g_args[i] + 1;
    if (*a == '-') a++;
    if (!*a || *a == '-') fallback();
    const char* eq = strchr(a, '=');
    size_t len = eq ? static_cast<size_t>(eq - a) : strlen(a);
    auto is = [&](const char* name) { return strlen(name) == len && !strncmp(a, name, len); };
    if (is("systemd-cgroup") && !eq) continue;
    if (!is("root") && !is("log") && !is("log-format") && !is("rootless") && !is("criu") && !is("image-root"))
      fallback();
    const char* v = eq ? eq + 1 : (i + 1 < g_nargs ? g_args[++i] : nullptr);
    if (!v) fallback();
    if (is("root")) root = v;
    if (is("log")) log = v;
    if (is("log-format")) {
      if (strcmp(v, "text") && strcmp(v, "json")) fallback();
      g_json = !strcmp(v, "json");
    }
    if (is("rootless") && strcmp(v, "auto") && strcmp(v, "true") && strcmp(v, "false")) fallback();
  }
  if (!*root || i >= g_nargs) fallback();
  const char* verb = g_args[i++];
  bool force = false;
  if (!strcmp(verb, "delete"))
    for (; i < g_nargs && g_args[i][0] == '-'; i++) {
      if (strcmp(g_args[i], "-f") && strcmp(g_args[i], "--force") && strcmp(g_args[i], "-force")) fallback();
      force = true;
    }
  int rest = g_nargs - i;
  const char* id = rest > 0 ? g_args[i] : "";
  const char* sigArg = rest > 1 ? g_args[i + 1] : nullptr;
  bool isKill = !strcmp(verb, "kill");
  if (!isKill && strcmp(verb, "state") && strcmp(verb, "start") && strcmp(verb, "delete")) fallback();
  if (rest < 1 || rest > (isKill ? 2 : 1) || id[0] == '-' || !validId(id)) fallback();
  int sig = isKill ? parseSignal(sigArg) : 0;
  if (sig < 0) fallback();

  char dirPath[PATH_MAX];
  if (snprintf(dirPath, sizeof dirPath, "%s/%s", root, id) >= static_cast<int>(sizeof dirPath)) fallback();
  // The JS CLI opens its log before the verb runs (runc: O_CREAT|O_WRONLY|O_APPEND, 0644).
  if (log) {
    g_logFd = open(log, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
    if (g_logFd < 0) fallback();
  }
  int dirfd = open(dirPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    // cli/verbs/delete.ts: --force makes a missing container a success.
    if (errno == ENOENT && force) return 0;
    fallback();
  }
  bool mutates = !strcmp(verb, "start") || !strcmp(verb, "delete");
  if (mutates && flock(dirfd, LOCK_EX)) fallback();
  Record r;
  loadRecord(dirfd, r);
  if (!strcmp(verb, "state")) printState(dirfd, r);
  if (isKill) killVerb(dirfd, r, sig);
  if (!strcmp(verb, "start")) startVerb(dirfd, r);
  deleteVerb(dirfd, dirPath, r);
  return 0;
}
