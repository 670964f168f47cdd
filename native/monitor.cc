// tsrun-monitor: the small per-container process that holds a Docker-style container (the
// `container` commands), so that no resident Node process does. TypeScript decides everything
// (src/front/monitor.ts builds this argv); this program only executes:
//
//   tsrun-monitor --dir DIR --sync-fd N [--log FILE --log-max-size BYTES --log-max-files N]
//                 [--attach] [--tty] [--interactive] [--cleanup ARG]... -- CREATE-ARGV...
//
// It becomes a child subreaper, then runs CREATE-ARGV (`tsrun container __create …`, which
// creates the container and exits): the container's init, parked on its exec fifo, is then
// reparented here. Its stdio is handed to the create command as fds 3, 4 and 5: pipes whose
// output is written to FILE (--log) in Docker's json-file format, rotated at BYTES into FILE.1 …
// FILE.<N-1>, and with --attach copied to this process's stdout and stderr too (the client's, as
// long as it is there); with --attach --interactive, stdin is this process's own. With --tty the
// pty master arrives on DIR/console.sock (SCM_RIGHTS) and is pumped the same way (and, attached
// and interactive, this process's stdin into it).
// The create command's own stdout/stderr are captured: on failure they go to the client.
//
// The sync fd (a socket to the client that started it) carries lines, out:
//   "created PID\n"           the container exists (PID is its init)
//   "failed CODE\n<text>"     the create command exited CODE; <text> is what it printed
//   "exited STATUS\n"         the init exited (STATUS: code, or 128+signal)
// and in: "resize ROWS COLS\n" (the client's terminal size, for the pty). The client may vanish at
// any time (SIGKILL): everything after "created" goes on without it.
//
// DIR/attach.sock (a unix socket, 0600 in the private DIR) serves `container attach`: each client
// gets the container's output from then on as frames (Docker's stdcopy: a byte 1 stdout / 2 stderr,
// three zero bytes, a big-endian 32-bit length, the data); what a client writes goes to the
// container's stdin (the pty, or the -i pipe this monitor holds). Clients are closed after the exit
// is recorded. A client that does not keep up is dropped, never waited for.
//
// When the init exits, DIR/exit.json records {"exitCode","signal","status","finishedAt"}
// (written to a temporary file and renamed), the output is drained, "exited" is sent, the cleanup
// command (`container rm` for --rm) runs, and the monitor exits.
//
//   tsrun-monitor --init -- COMMAND [ARG...]
//
// is another program in the same static binary: the init of `container run --init`, copied into
// the bundle and bound read-only at /dev/init as the container's PID 1 (Docker's docker-init,
// tini). It runs COMMAND as its child in a process group of its own (the terminal's foreground
// one), forwards every signal it gets to it, reaps every zombie reparented to it, and exits with
// COMMAND's status (128+N when a signal N ended it).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr size_t kLineMax = 16 * 1024;  // a log entry is split at this length, as Docker's
constexpr int kMaxArgs = 256;

struct Options {
  const char* dir = nullptr;
  int syncFd = -1;
  const char* log = nullptr;
  bool attach = false;
  long long logMaxSize = 0;  // 0: never rotated
  int logMaxFiles = 1;
  bool tty = false;
  bool interactive = false;
  const char* cleanup[kMaxArgs + 1] = {};
  int ncleanup = 0;
  char** create = nullptr;
};

Options g;

[[noreturn]] void die(const char* what, int err) {
  dprintf(2, "tsrun-monitor: %s%s%s\n", what, err ? ": " : "", err ? strerror(err) : "");
  if (g.syncFd >= 0)
    dprintf(g.syncFd, "failed 125\ntsrun-monitor: %s%s%s\n", what, err ? ": " : "", err ? strerror(err) : "");
  _exit(125);
}

void setNonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// bounded: give up when the reader has not read for a second (an attach client, or a container
// that does not read its stdin): the monitor never stalls on one.
bool writeAll(int fd, const char* p, size_t n, bool bounded = false) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        if (poll(&pfd, 1, 1000) > 0 || !bounded) continue;
      }
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// ---- the json-file log ------------------------------------------------------------------------

int g_logFd = -1;
long long g_logSize = 0;

int openLog(bool truncate) {
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : 0);
  int fd = open(g.log, flags, 0600);
  if (fd < 0) die("open log", errno);
  struct stat st;
  g_logSize = fstat(fd, &st) == 0 ? st.st_size : 0;
  return fd;
}

// FILE → FILE.1 → … → FILE.<max-1>; the oldest is dropped. One file only: truncated (Docker).
void rotate() {
  close(g_logFd);
  if (g.logMaxFiles > 1) {
    char from[4096], to[4096];
    for (int i = g.logMaxFiles - 1; i >= 1; i--) {
      if (i == 1)
        snprintf(from, sizeof from, "%s", g.log);
      else
        snprintf(from, sizeof from, "%s.%d", g.log, i - 1);
      snprintf(to, sizeof to, "%s.%d", g.log, i);
      rename(from, to);  // ENOENT for files not made yet
    }
  }
  g_logFd = openLog(true);
}

void timestamp(char* out, size_t n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%s.%09ldZ", base, ts.tv_nsec);
}

// One entry: {"log":"<escaped>","stream":"stdout","time":"…"}.
void logEntry(const char* stream, const char* data, size_t len) {
  if (g_logFd < 0) return;
  static char line[kLineMax * 6 + 128];
  size_t o = 0;
  o += static_cast<size_t>(snprintf(line, sizeof line, "{\"log\":\""));
  for (size_t i = 0; i < len; i++) {
    unsigned char c = static_cast<unsigned char>(data[i]);
    if (c == '"' || c == '\\') {
      line[o++] = '\\';
      line[o++] = static_cast<char>(c);
    } else if (c == '\n') {
      line[o++] = '\\';
      line[o++] = 'n';
    } else if (c == '\r') {
      line[o++] = '\\';
      line[o++] = 'r';
    } else if (c == '\t') {
      line[o++] = '\\';
      line[o++] = 't';
    } else if (c < 0x20 || c == 0x7f) {
      o += static_cast<size_t>(snprintf(line + o, 7, "\\u%04x", c));
    } else {
      line[o++] = static_cast<char>(c);
    }
  }
  char ts[64];
  timestamp(ts, sizeof ts);
  o += static_cast<size_t>(snprintf(line + o, sizeof line - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, ts));
  if (g.logMaxSize > 0 && g_logSize > 0 && g_logSize + static_cast<long long>(o) > g.logMaxSize) rotate();
  if (writeAll(g_logFd, line, o)) g_logSize += static_cast<long long>(o);
}

void broadcast(int stream, const char* data, size_t n);

struct Stream {
  const char* name;
  int id;  // 1 stdout, 2 stderr: the attach frames' stream byte
  /** Attached: the client's stdout or stderr, as long as writes to it work. */
  int echo;
  int fd = -1;
  char buf[kLineMax];
  size_t len = 0;
};

// Complete lines become entries; a line longer than kLineMax is split.
void feed(Stream& s, const char* data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    s.buf[s.len++] = data[i];
    if (data[i] == '\n' || s.len == kLineMax) {
      logEntry(s.name, s.buf, s.len);
      s.len = 0;
    }
  }
}

// What the container wrote: to the attached client, and into the log.
void emit(Stream& s, const char* data, size_t n) {
  if (s.echo >= 0 && !writeAll(s.echo, data, n)) s.echo = -1;
  broadcast(s.id, data, n);
  if (g_logFd >= 0) feed(s, data, n);
}

void flush(Stream& s) {
  if (s.len) logEntry(s.name, s.buf, s.len);
  s.len = 0;
}

// ---- attach clients ----------------------------------------------------------------------------

constexpr int kMaxClients = 8;

struct Client {
  int fd = -1;
  bool inputDone = false;  // the client shut down its writing side (its stdin ended)
};

Client g_clients[kMaxClients];

void dropClient(Client& c) {
  close(c.fd);
  c.fd = -1;
  c.inputDone = false;
}

void broadcast(int stream, const char* data, size_t n) {
  unsigned char head[8] = {static_cast<unsigned char>(stream),
                           0,
                           0,
                           0,
                           static_cast<unsigned char>(n >> 24),
                           static_cast<unsigned char>(n >> 16),
                           static_cast<unsigned char>(n >> 8),
                           static_cast<unsigned char>(n)};
  for (Client& c : g_clients) {
    if (c.fd < 0) continue;
    if (!writeAll(c.fd, reinterpret_cast<char*>(head), sizeof head, true) || !writeAll(c.fd, data, n, true))
      dropClient(c);
  }
}

// ---- helpers -----------------------------------------------------------------------------------

void parseArgs(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) die("a flag needs a value", 0);
      return argv[++i];
    };
    if (!strcmp(a, "--")) {
      g.create = argv + i + 1;
      break;
    } else if (!strcmp(a, "--dir")) {
      g.dir = next();
    } else if (!strcmp(a, "--sync-fd")) {
      g.syncFd = atoi(next());
    } else if (!strcmp(a, "--log")) {
      g.log = next();
    } else if (!strcmp(a, "--log-max-size")) {
      g.logMaxSize = atoll(next());
    } else if (!strcmp(a, "--log-max-files")) {
      g.logMaxFiles = atoi(next());
    } else if (!strcmp(a, "--attach")) {
      g.attach = true;
    } else if (!strcmp(a, "--tty")) {
      g.tty = true;
    } else if (!strcmp(a, "--interactive")) {
      g.interactive = true;
    } else if (!strcmp(a, "--cleanup")) {
      if (g.ncleanup >= kMaxArgs) die("too many --cleanup arguments", 0);
      g.cleanup[g.ncleanup++] = next();
    } else {
      die("unknown flag (usage: tsrun-monitor --dir DIR --sync-fd N [options] -- CREATE-ARGV)", 0);
    }
  }
  if (!g.dir || !g.create || !g.create[0]) die("--dir and a create command after -- are required", 0);
  if (g.logMaxFiles < 1) g.logMaxFiles = 1;
}

int devNull(int flags) {
  int fd = open("/dev/null", flags | O_CLOEXEC);
  if (fd < 0) die("open /dev/null", errno);
  return fd;
}

// fork + exec with the given fds as 0..n-1 (everything else is close-on-exec).
pid_t spawn(char* const* argv, const int* fds, int n) {
  pid_t pid = fork();
  if (pid < 0) die("fork", errno);
  if (pid > 0) return pid;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  // Move the sources above the targets first, so dup2 never overwrites one still needed.
  int moved[8];
  for (int i = 0; i < n; i++) {
    moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 16);
    if (moved[i] < 0) _exit(127);
  }
  for (int i = 0; i < n; i++)
    if (dup2(moved[i], i) < 0) _exit(127);
  execvp(argv[0], argv);
  dprintf(2, "tsrun-monitor: exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

int recvFd(int sock) {
  char data[256];
  struct iovec iov = {data, sizeof data};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  return -1;
}

void sendSync(const char* text, size_t n) {
  if (g.syncFd < 0) return;
  if (!writeAll(g.syncFd, text, n)) {
    close(g.syncFd);
    g.syncFd = -1;
  }
}

void writeExitFile(int status) {
  char text[256], ts[64];
  timestamp(ts, sizeof ts);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  int shell = sig ? 128 + sig : code;
  int n = snprintf(text, sizeof text, "{\"exitCode\":%d,\"signal\":%d,\"status\":%d,\"finishedAt\":\"%s\"}\n",
                   sig ? 128 + sig : code, sig, shell, ts);
  int fd = open("exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  bool ok = writeAll(fd, text, static_cast<size_t>(n));
  close(fd);
  if (ok) rename("exit.json.tmp", "exit.json");
}

long readPidFile() {
  char buf[32] = {};
  int fd = open("init.pid", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  return r > 0 ? strtol(buf, nullptr, 10) : -1;
}

// The init of `container run --init` (see the top of this file). Every signal is blocked and taken
// with sigwaitinfo: a PID namespace's init gets a signal from outside only if it does not leave
// it at SIG_DFL, and a blocked signal is queued, not dropped (kernel/signal.c sig_ignored).
int initMain(char** cmd) {
  if (!cmd || !cmd[0]) {
    dprintf(2, "tsrun-init: usage: tsrun-init --init -- COMMAND [ARG...]\n");
    return 125;
  }
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  pid_t child = fork();
  if (child < 0) {
    dprintf(2, "tsrun-init: fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) {
    // A process group of its own, the terminal's foreground one (a ^C reaches the command once,
    // not through this init as well); done with SIGTTOU still blocked.
    setpgid(0, 0);
    if (isatty(0)) tcsetpgrp(0, getpgrp());
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(cmd[0], cmd);
    int e = errno;
    dprintf(2, "tsrun-init: exec %s: %s\n", cmd[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;  // EINTR
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == child) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "--init")) return initMain(argc > 2 && !strcmp(argv[2], "--") ? argv + 3 : argv + 2);
  signal(SIGPIPE, SIG_IGN);
  parseArgs(argc, argv);
  if (g.syncFd >= 0) fcntl(g.syncFd, F_SETFD, FD_CLOEXEC);
  if (chdir(g.dir) < 0) die("chdir", errno);
  umask(077);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("prctl PR_SET_CHILD_SUBREAPER", errno);
  // The monitor outlives the client's session and terminal: none of their signals end it.
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd", errno);
  {
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", getpid());
    int fd = open("monitor.pid", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      writeAll(fd, pid, static_cast<size_t>(n));
      close(fd);
    }
  }
  bool attached = g.attach;
  if (g.log) g_logFd = openLog(false);
  // The attach socket: relative to DIR (a path below an image root may exceed sun_path's 108).
  unlink("attach.sock");
  int attachFd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  {
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, "attach.sock");
    if (attachFd < 0 || bind(attachFd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(attachFd, 4) < 0)
      die("attach socket", errno);
  }

  // The container's stdio (fds 3, 4, 5 of the create command) and the ends kept here.
  Stream out{"stdout", 1, attached ? 1 : -1}, err{"stderr", 2, attached ? 2 : -1};
  int cin = -1, cout = -1, cerr = -1, stdinHold = -1, listenFd = -1;
  if (g.tty) {
    unlink("console.sock");
    listenFd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, "console.sock");  // relative: DIR is the working directory
    if (listenFd < 0 || bind(listenFd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(listenFd, 1) < 0)
      die("console socket", errno);
    cin = devNull(O_RDONLY);
    cout = cerr = devNull(O_WRONLY);
  } else {
    int p[2];
    if (attached && g.interactive) {
      cin = 0;
    } else if (g.interactive) {
      // docker run -di: stdin stays open (nobody writes to it; it never sees end of file).
      if (pipe2(p, O_CLOEXEC) < 0) die("pipe", errno);
      cin = p[0];
      stdinHold = p[1];
      setNonblock(stdinHold);  // written from attach clients: bounded writes
    } else {
      cin = devNull(O_RDONLY);
    }
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe", errno);
    out.fd = p[0];
    cout = p[1];
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe", errno);
    err.fd = p[0];
    cerr = p[1];
    setNonblock(out.fd);
    setNonblock(err.fd);
  }
  int capture[2];
  if (pipe2(capture, O_CLOEXEC) < 0) die("pipe", errno);
  int null = devNull(O_RDONLY);
  int childFds[6] = {null, capture[1], capture[1], cin, cout, cerr};
  pid_t createPid = spawn(g.create, childFds, 6);
  close(capture[1]);
  close(null);
  if (cin > 2) close(cin);
  if (cout > 2) close(cout);
  if (cerr > 2 && cerr != cout) close(cerr);
  setNonblock(capture[0]);
  static char captured[65536];
  size_t ncaptured = 0;

  long initPid = -1;
  bool created = false, exited = false;
  int initStatus = 0;
  int master = -1;
  int rows = 0, cols = 0;
  // Statuses reaped before the init's pid was known (an init killed before create returned).
  pid_t early[16];
  int earlyStatus[16];
  int nearly = 0;
  char syncIn[256];
  size_t nsyncIn = 0;
  bool stdinOpen = attached && g.tty && g.interactive;

  for (;;) {
    if (exited) break;
    struct pollfd p[8 + 1 + kMaxClients];
    int n = 0;
    auto add = [&](int fd) {
      p[n] = {fd, POLLIN, 0};
      return n++;
    };
    int iS = add(sfd);
    int iCap = capture[0] >= 0 ? add(capture[0]) : -1;
    int iOut = out.fd >= 0 ? add(out.fd) : -1;
    int iErr = err.fd >= 0 ? add(err.fd) : -1;
    int iMaster = master >= 0 ? add(master) : -1;
    int iIn = (master >= 0 && stdinOpen) ? add(0) : -1;
    int iSync = g.syncFd >= 0 ? add(g.syncFd) : -1;
    int iListen = add(attachFd);
    int iClient[kMaxClients];
    for (int k = 0; k < kMaxClients; k++) {
      iClient[k] = g_clients[k].fd >= 0 ? add(g_clients[k].fd) : -1;
      // After its end of input only a hang-up is of interest (POLLHUP is always reported).
      if (iClient[k] >= 0 && g_clients[k].inputDone) p[iClient[k]].events = 0;
    }
    if (poll(p, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      die("poll", errno);
    }
    char buf[8192];
    if (iCap >= 0 && p[iCap].revents) {
      ssize_t r = read(capture[0], buf, sizeof buf);
      if (r > 0) {
        size_t take =
            static_cast<size_t>(r) < sizeof captured - ncaptured ? static_cast<size_t>(r) : sizeof captured - ncaptured;
        memcpy(captured + ncaptured, buf, take);
        ncaptured += take;
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(capture[0]);
        capture[0] = -1;
      }
    }
    // Attach clients first: a client connects before it starts the container (container start
    // -a), so a connection and the first output can be ready in the same poll; accepted after the
    // output, that output would go to no one.
    if (p[iListen].revents) {
      int c = accept4(attachFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0) {
        Client* slot = nullptr;
        for (Client& k : g_clients)
          if (k.fd < 0 && !slot) slot = &k;
        if (slot)
          slot->fd = c;
        else
          close(c);
      }
    }
    Stream* streams[2] = {&out, &err};
    int idx[2] = {iOut, iErr};
    for (int k = 0; k < 2; k++) {
      if (idx[k] < 0 || !p[idx[k]].revents) continue;
      ssize_t r = read(streams[k]->fd, buf, sizeof buf);
      if (r > 0) {
        emit(*streams[k], buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        flush(*streams[k]);
        close(streams[k]->fd);
        streams[k]->fd = -1;
      }
    }
    if (iMaster >= 0 && p[iMaster].revents) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r > 0) {
        emit(out, buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        // EIO: the last slave fd closed. The master is kept (closing it would hang up nothing
        // now, but a later exec's pty is its own), only no longer polled.
        flush(out);
        close(master);
        master = -2;
      }
    }
    if (iIn >= 0 && p[iIn].revents) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0 && master >= 0)
        writeAll(master, buf, static_cast<size_t>(r));
      else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        stdinOpen = false;
    }
    if (iSync >= 0 && p[iSync].revents) {
      ssize_t r = read(g.syncFd, syncIn + nsyncIn, sizeof syncIn - 1 - nsyncIn);
      if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
        close(g.syncFd);  // the client is gone; the container is not
        g.syncFd = -1;
      } else if (r > 0) {
        nsyncIn += static_cast<size_t>(r);
        syncIn[nsyncIn] = 0;
        char* nl;
        while ((nl = strchr(syncIn, '\n')) != nullptr) {
          *nl = 0;
          if (sscanf(syncIn, "resize %d %d", &rows, &cols) == 2 && master >= 0) {
            struct winsize ws = {static_cast<unsigned short>(rows), static_cast<unsigned short>(cols), 0, 0};
            ioctl(master, TIOCSWINSZ, &ws);
          }
          size_t used = static_cast<size_t>(nl - syncIn) + 1;
          memmove(syncIn, nl + 1, nsyncIn - used + 1);
          nsyncIn -= used;
        }
        if (nsyncIn == sizeof syncIn - 1) nsyncIn = 0;  // a line too long: dropped
      }
    }
    for (int k = 0; k < kMaxClients; k++) {
      if (iClient[k] < 0 || !p[iClient[k]].revents) continue;
      Client& c = g_clients[k];
      if (c.inputDone) {
        dropClient(c);  // hung up
        continue;
      }
      ssize_t r = read(c.fd, buf, sizeof buf);
      if (r > 0) {
        // The container's stdin: its pty, or the pipe held for -i; without either (or when the
        // container has not read for a second) the input is dropped.
        int to = master >= 0 ? master : stdinHold;
        if (to >= 0) writeAll(to, buf, static_cast<size_t>(r), true);
      } else if (r == 0) {
        c.inputDone = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        dropClient(c);
      }
    }
    if (!p[iS].revents) continue;
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) > 0) {
    }
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == createPid) {
        createPid = -1;
        // What the create command printed is complete once its pipe ends.
        while (capture[0] >= 0) {
          ssize_t r = read(capture[0], buf, sizeof buf);
          if (r > 0) {
            size_t take = static_cast<size_t>(r) < sizeof captured - ncaptured ? static_cast<size_t>(r)
                                                                               : sizeof captured - ncaptured;
            memcpy(captured + ncaptured, buf, take);
            ncaptured += take;
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r < 0 && errno == EAGAIN) {
            struct pollfd cp = {capture[0], POLLIN, 0};
            if (poll(&cp, 1, 2000) > 0) continue;
          }
          close(capture[0]);
          capture[0] = -1;
        }
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 125;
        if (code != 0) {
          char head[32];
          int hn = snprintf(head, sizeof head, "failed %d\n", code);
          sendSync(head, static_cast<size_t>(hn));
          sendSync(captured, ncaptured);
          unlink("attach.sock");
          return 0;
        }
        initPid = readPidFile();
        if (initPid <= 0) die("the create command wrote no init pid", 0);
        if (g.tty) {
          // The create command sent the master before it exited: the connection is queued.
          int c = accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c < 0) die("accept console socket", errno);
          master = recvFd(c);
          close(c);
          close(listenFd);
          unlink("console.sock");
          if (master < 0) die("receive the pty master", errno);
          if (rows > 0 && cols > 0) {
            struct winsize ws = {static_cast<unsigned short>(rows), static_cast<unsigned short>(cols), 0, 0};
            ioctl(master, TIOCSWINSZ, &ws);
          }
        }
        if (ncaptured) logEntry("stderr", captured, ncaptured);  // create's warnings
        created = true;
        char msg[64];
        int mn = snprintf(msg, sizeof msg, "created %ld\n", initPid);
        sendSync(msg, static_cast<size_t>(mn));
        for (int k = 0; k < nearly; k++) {
          if (early[k] == initPid) {
            exited = true;
            initStatus = earlyStatus[k];
          }
        }
      } else if (created && pid == initPid) {
        exited = true;
        initStatus = status;
      } else if (!created && nearly < 16) {
        early[nearly] = pid;
        earlyStatus[nearly++] = status;
      }
    }
  }

  // The init is gone: what it (and anything sharing its stdio) wrote is drained, without waiting
  // for a process outside its PID namespace that may hold a pipe open.
  char buf[8192];
  Stream* streams[2] = {&out, &err};
  for (Stream* s : streams) {
    while (s->fd >= 0) {
      ssize_t r = read(s->fd, buf, sizeof buf);
      if (r > 0) {
        emit(*s, buf, static_cast<size_t>(r));
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      flush(*s);
      close(s->fd);
      s->fd = -1;
    }
  }
  if (master >= 0) {
    setNonblock(master);
    for (;;) {
      struct pollfd mp = {master, POLLIN, 0};
      if (poll(&mp, 1, 200) <= 0) break;
      ssize_t r = read(master, buf, sizeof buf);
      if (r <= 0) break;
      emit(out, buf, static_cast<size_t>(r));
    }
    flush(out);
    close(master);
  }
  if (stdinHold >= 0) close(stdinHold);
  writeExitFile(initStatus);
  // Attached clients see the end once the exit is recorded (they read exit.json next).
  for (Client& c : g_clients)
    if (c.fd >= 0) dropClient(c);
  close(attachFd);
  unlink("attach.sock");
  if (g_logFd >= 0) close(g_logFd);
  int shell = WIFSIGNALED(initStatus) ? 128 + WTERMSIG(initStatus) : WEXITSTATUS(initStatus);
  char msg[64];
  int mn = snprintf(msg, sizeof msg, "exited %d\n", shell);
  sendSync(msg, static_cast<size_t>(mn));
  if (g.ncleanup > 0) {
    int nul = devNull(O_RDWR);
    int fds[3] = {nul, nul, nul};
    pid_t c = spawn(const_cast<char* const*>(g.cleanup), fds, 3);
    int st;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (g.syncFd >= 0) close(g.syncFd);
  return 0;
}
