// tsrun-proxy: the userland proxy of a container's published ports, as Docker's docker-proxy. The
// CNI portmap plugin DNATs the traffic that reaches the host from elsewhere; what it cannot carry
// is loopback traffic (a DNAT of 127.0.0.1 out of the bridge needs route_localnet, CVE-2020-8558)
// and traffic from the bridge back to the host (hairpin, which would need portmap's snat and with
// it route_localnet again). tsrun excludes both from portmap's rules and this program carries
// them: it listens on the published host address and port and connects to the container.
// TypeScript decides everything (src/net/proxy.ts builds this argv); this program only executes:
//
//   tsrun-proxy --sync-fd N --parent PID [--udp-timeout SECONDS]
//               --listen PROTO HOSTIP HOSTPORT CTRIP CTRPORT [--listen …]…
//
// PROTO is tcp or udp; the addresses are IPv4 (0.0.0.0 listens on every address). Up to 64
// listeners. One proxy serves all the published ports of one container.
//
// Start-up: it closes every fd but 0-2 (then /dev/null) and N, ignores SIGPIPE and SIGHUP, dies
// with SIGKILL if PID (its parent, the tsrun that starts it) dies before it is ready, binds every
// listener, and only then writes one report to the sync fd N (a pipe or socket to the parent):
//
//   "ready\n"                                     every listener is bound; it serves from now on
//   "error PROTO HOSTIP HOSTPORT ERRNO\n<text>\n"  binding that listener failed (ERRNO is its
//                                                  name: EADDRINUSE, EADDRNOTAVAIL, EACCES …);
//                                                  the proxy then exits 1 with nothing bound
//   "error - - - EINVAL\n<text>\n"                 a bad argv (exit 2)
//
// After "ready" it closes N and forgets PID (it outlives the tsrun that started it). It serves until
// SIGTERM or SIGINT (exit 0). TCP: every accepted connection gets its own connection to the
// container; data flows both ways, a FIN is passed on as a half-close (shutdown SHUT_WR), an error
// or RST as an abortive close. UDP: one flow per client address and port, a connected socket to
// the container whose replies go back to that client; a flow idle for --udp-timeout seconds (90 by
// default, as docker-proxy's) is closed, and at most 1024 flows live at once (the oldest goes).
// Out of fds, a TCP listener stops accepting (connections wait in its backlog) until a connection
// closes or a second has passed: no busy loop.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr int kMaxListeners = 64;
constexpr size_t kBufSize = 64 * 1024;
constexpr int kMaxFlows = 1024;

enum Kind { kTcpListener, kUdpListener, kTcpSide, kUdpFlow, kSignal };

// What an epoll event points at.
struct Handle {
  Kind kind;
  void* owner;
  int side;
};

struct Listener {
  Handle h;
  bool udp;
  const char* proto;
  const char* hostIp;
  const char* hostPort;
  sockaddr_in host;
  sockaddr_in target;
  int fd = -1;
  bool paused = false;  // out of fds: accept again a second later, not in a busy loop
};

struct TcpConn {
  Handle h[2];  // side 0: the client, side 1: the container
  int fd[2];
  char buf[2][kBufSize];  // buf[s]: read from side s, to be written to the other side
  size_t len[2];
  size_t off[2];
  bool eof[2];   // side s sent its FIN
  bool shut[2];  // side s was sent ours
  bool registered[2];
  uint32_t events[2];
  bool connecting;
  bool dead;  // closed during this batch of events: freed after it
  TcpConn* nextDead;
};

struct UdpFlow {
  Handle h;
  Listener* l;
  sockaddr_in client;
  int fd;
  time_t last;
  UdpFlow* prev;  // the list is most recently used first
  UdpFlow* next;
  bool dead;
  UdpFlow* nextDead;
};

Listener g_listeners[kMaxListeners];
int g_nlisteners = 0;
int g_syncFd = -1;
int g_epoll = -1;
long g_udpTimeout = 90;
UdpFlow* g_flows = nullptr;
UdpFlow* g_flowsTail = nullptr;
int g_nflows = 0;
int g_paused = 0;  // listeners paused
time_t g_pausedAt = 0;
// What was closed while handling a batch of events: a later event of the batch may still point at it.
TcpConn* g_deadConns = nullptr;
UdpFlow* g_deadFlows = nullptr;

const char* errnoName(int e) {
  switch (e) {
    case EADDRINUSE:
      return "EADDRINUSE";
    case EADDRNOTAVAIL:
      return "EADDRNOTAVAIL";
    case EACCES:
      return "EACCES";
    case EPERM:
      return "EPERM";
    case EINVAL:
      return "EINVAL";
    case EMFILE:
      return "EMFILE";
    case ENFILE:
      return "ENFILE";
    case ENOBUFS:
      return "ENOBUFS";
    case ENOMEM:
      return "ENOMEM";
    case EAFNOSUPPORT:
      return "EAFNOSUPPORT";
    default:
      return "EIO";
  }
}

void report(const char* text) {
  if (g_syncFd < 0) return;
  size_t n = strlen(text);
  while (n > 0) {
    ssize_t w = write(g_syncFd, text, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    text += w;
    n -= static_cast<size_t>(w);
  }
}

[[noreturn]] void usage(const char* what) {
  char msg[512];
  snprintf(msg, sizeof msg, "error - - - EINVAL\ntsrun-proxy: %s\n", what);
  report(msg);
  _exit(2);
}

long number(const char* s, long lo, long hi, const char* what) {
  char* end = nullptr;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || !end || *end || end == s || v < lo || v > hi) usage(what);
  return v;
}

sockaddr_in address(const char* ip, const char* port, const char* what) {
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) usage(what);
  a.sin_port = htons(static_cast<uint16_t>(number(port, 1, 65535, what)));
  return a;
}

void parseArgs(int argc, char** argv) {
  // The sync fd first: every later error is reported on it.
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--sync-fd") == 0) g_syncFd = static_cast<int>(strtol(argv[i + 1], nullptr, 10));
  }
  if (g_syncFd < 3) usage("--sync-fd N (N >= 3) is required");
  bool parent = false;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (strcmp(a, "--sync-fd") == 0 && i + 1 < argc) {
      i++;
    } else if (strcmp(a, "--parent") == 0 && i + 1 < argc) {
      // Dies with the parent until ready; a parent gone already (reparented) is the same.
      pid_t p = static_cast<pid_t>(number(argv[++i], 1, 1 << 30, "--parent PID"));
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != p) _exit(1);
      parent = true;
    } else if (strcmp(a, "--udp-timeout") == 0 && i + 1 < argc) {
      g_udpTimeout = number(argv[++i], 1, 86400, "--udp-timeout SECONDS");
    } else if (strcmp(a, "--listen") == 0 && i + 5 < argc) {
      if (g_nlisteners == kMaxListeners) usage("too many listeners (64 at most)");
      Listener& l = g_listeners[g_nlisteners++];
      l.proto = argv[i + 1];
      if (strcmp(l.proto, "tcp") != 0 && strcmp(l.proto, "udp") != 0) usage("--listen: PROTO is tcp or udp");
      l.udp = l.proto[0] == 'u';
      l.hostIp = argv[i + 2];
      l.hostPort = argv[i + 3];
      l.host = address(argv[i + 2], argv[i + 3], "--listen: bad host address or port");
      l.target = address(argv[i + 4], argv[i + 5], "--listen: bad container address or port");
      l.h = {l.udp ? kUdpListener : kTcpListener, &l, 0};
      i += 5;
    } else {
      char msg[300];
      snprintf(msg, sizeof msg, "unknown or incomplete argument %.200s", a);
      usage(msg);
    }
  }
  if (!parent) usage("--parent PID is required");
  if (g_nlisteners == 0) usage("no --listen");
}

// Every fd but 0-2 and the sync fd is closed (the caller's may have leaked into this process).
void closeOthers() {
  bool done = (g_syncFd == 3 || syscall(SYS_close_range, 3, g_syncFd - 1, 0) == 0) &&
              syscall(SYS_close_range, g_syncFd + 1, ~0U, 0) == 0;
  if (!done) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return;
    int self = dirfd(d);
    while (struct dirent* e = readdir(d)) {
      int fd = atoi(e->d_name);
      if (fd > 2 && fd != g_syncFd && fd != self) close(fd);
    }
    closedir(d);
  }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    for (int fd = 0; fd < 3; fd++) dup2(null, fd);
    if (null > 2) close(null);
  }
  fcntl(g_syncFd, F_SETFD, FD_CLOEXEC);
}

bool bindAll() {
  for (int i = 0; i < g_nlisteners; i++) {
    Listener& l = g_listeners[i];
    l.fd = socket(AF_INET, (l.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    int err = 0;
    if (l.fd < 0)
      err = errno;
    else if (setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
             bind(l.fd, reinterpret_cast<sockaddr*>(&l.host), sizeof l.host) < 0 || (!l.udp && listen(l.fd, 511) < 0))
      err = errno;
    if (err) {
      char msg[512];
      snprintf(msg, sizeof msg, "error %s %s %s %s\ntsrun-proxy: bind %s %s:%s: %s\n", l.proto, l.hostIp, l.hostPort,
               errnoName(err), l.proto, l.hostIp, l.hostPort, strerror(err));
      report(msg);
      return false;
    }
  }
  return true;
}

void watch(int op, int fd, uint32_t events, Handle* h) {
  epoll_event ev = {};
  ev.events = events;
  ev.data.ptr = h;
  epoll_ctl(g_epoll, op, fd, &ev);
}

time_t now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

// Listeners paused for want of fds accept again: a connection closed, or a second passed.
void resumeListeners() {
  for (int i = 0; i < g_nlisteners; i++) {
    if (!g_listeners[i].paused) continue;
    g_listeners[i].paused = false;
    watch(EPOLL_CTL_MOD, g_listeners[i].fd, EPOLLIN, &g_listeners[i].h);
  }
  g_paused = 0;
}

// ---- TCP ----------------------------------------------------------------------------------------

void closeConn(TcpConn* c, bool abortive) {
  for (int s = 0; s < 2; s++) {
    if (abortive) {
      linger lg = {1, 0};  // an RST, as the peer of this side would have seen
      setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd[s]);  // also leaves the epoll set
  }
  c->dead = true;
  c->nextDead = g_deadConns;
  g_deadConns = c;
  if (g_paused) resumeListeners();
}

void rearm(TcpConn* c) {
  for (int s = 0; s < 2; s++) {
    if (!c->registered[s]) continue;
    uint32_t want = 0;
    if (c->connecting) {
      if (s == 1) want = EPOLLOUT;
      if (s == 0 && c->len[0] == 0 && !c->eof[0]) want = EPOLLIN;  // the client's first bytes, read ahead
    } else {
      if (!c->eof[s] && c->len[s] == 0) want |= EPOLLIN;
      if (c->len[1 - s] > 0) want |= EPOLLOUT;
    }
    if (want != c->events[s]) {
      c->events[s] = want;
      watch(EPOLL_CTL_MOD, c->fd[s], want, &c->h[s]);
    }
  }
}

void acceptAll(Listener* l) {
  for (;;) {
    int cfd = accept4(l->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && !l->paused) {
        // Out of fds or memory: the rest wait in the backlog (a level-triggered listener would spin).
        l->paused = true;
        if (g_paused++ == 0) g_pausedAt = now();
        watch(EPOLL_CTL_MOD, l->fd, 0, &l->h);
      }
      return;
    }
    int tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (tfd < 0) {
      linger lg = {1, 0};
      setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(cfd);
      continue;
    }
    int r = connect(tfd, reinterpret_cast<sockaddr*>(&l->target), sizeof l->target);
    if (r < 0 && errno != EINPROGRESS) {
      linger lg = {1, 0};
      setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(cfd);
      close(tfd);
      continue;
    }
    TcpConn* c = new TcpConn();
    c->fd[0] = cfd;
    c->fd[1] = tfd;
    c->connecting = r < 0;
    for (int s = 0; s < 2; s++) {
      c->h[s] = {kTcpSide, c, s};
      c->registered[s] = true;
      c->events[s] = 0;
      watch(EPOLL_CTL_ADD, c->fd[s], 0, &c->h[s]);
    }
    rearm(c);
  }
}

// One event on one side: finish the connect, read what there is room for, write what is pending,
// pass FINs on; the connection ends when both directions have ended.
void onTcp(TcpConn* c, int s, uint32_t ev) {
  if (c->dead) return;
  if (c->connecting && s == 1) {
    int err = 0;
    socklen_t n = sizeof err;
    getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &n);
    if (err) return closeConn(c, true);
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    c->connecting = false;
  }
  if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof[s] && c->len[s] == 0) {
    ssize_t r = read(c->fd[s], c->buf[s], kBufSize);
    if (r > 0) {
      c->len[s] = static_cast<size_t>(r);
      c->off[s] = 0;
    } else if (r == 0) {
      c->eof[s] = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return closeConn(c, true);
    }
  }
  if (!c->connecting) {
    for (int d = 0; d < 2; d++) {
      while (c->len[d] > 0) {
        ssize_t w = send(c->fd[1 - d], c->buf[d] + c->off[d], c->len[d], MSG_NOSIGNAL);
        if (w < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          return closeConn(c, true);
        }
        c->off[d] += static_cast<size_t>(w);
        c->len[d] -= static_cast<size_t>(w);
      }
      if (c->len[d] == 0 && c->eof[d] && !c->shut[1 - d]) {
        shutdown(c->fd[1 - d], SHUT_WR);
        c->shut[1 - d] = true;
      }
    }
    if (c->shut[0] && c->shut[1]) return closeConn(c, false);
  }
  if ((ev & EPOLLERR) && !c->connecting) {
    int err = 0;
    socklen_t n = sizeof err;
    getsockopt(c->fd[s], SOL_SOCKET, SO_ERROR, &err, &n);
    if (err) return closeConn(c, true);
  }
  if ((ev & EPOLLHUP) && c->eof[s] && c->len[s] == 0) {
    // Both ways closed on this side: only a reset when we still owe it data, else nothing more to
    // hear from it (and a level-triggered HUP would spin).
    if (!c->shut[s]) return closeConn(c, true);
    if (c->registered[s]) {
      epoll_ctl(g_epoll, EPOLL_CTL_DEL, c->fd[s], nullptr);
      c->registered[s] = false;
    }
  }
  rearm(c);
}

// ---- UDP ----------------------------------------------------------------------------------------

void unlinkFlow(UdpFlow* f) {
  if (f->prev)
    f->prev->next = f->next;
  else
    g_flows = f->next;
  if (f->next)
    f->next->prev = f->prev;
  else
    g_flowsTail = f->prev;
  f->prev = f->next = nullptr;
}

void pushFlow(UdpFlow* f) {
  f->next = g_flows;
  f->prev = nullptr;
  if (g_flows) g_flows->prev = f;
  g_flows = f;
  if (!g_flowsTail) g_flowsTail = f;
}

void dropFlow(UdpFlow* f) {
  unlinkFlow(f);
  close(f->fd);
  f->dead = true;
  f->nextDead = g_deadFlows;
  g_deadFlows = f;
  g_nflows--;
}

void expireFlows() {
  time_t t = now();
  while (g_flowsTail && t - g_flowsTail->last >= g_udpTimeout) dropFlow(g_flowsTail);
}

UdpFlow* flowFor(Listener* l, const sockaddr_in& from) {
  for (UdpFlow* f = g_flows; f; f = f->next) {
    if (f->l == l && f->client.sin_port == from.sin_port && f->client.sin_addr.s_addr == from.sin_addr.s_addr) {
      unlinkFlow(f);
      pushFlow(f);
      return f;
    }
  }
  if (g_nflows >= kMaxFlows) dropFlow(g_flowsTail);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&l->target), sizeof l->target) < 0) {
    close(fd);
    return nullptr;
  }
  UdpFlow* f = new UdpFlow();
  f->h = {kUdpFlow, f, 0};
  f->l = l;
  f->client = from;
  f->fd = fd;
  pushFlow(f);
  g_nflows++;
  watch(EPOLL_CTL_ADD, fd, EPOLLIN, &f->h);
  return f;
}

char g_dgram[65536];

void onUdpListener(Listener* l) {
  for (;;) {
    sockaddr_in from = {};
    socklen_t n = sizeof from;
    ssize_t r = recvfrom(l->fd, g_dgram, sizeof g_dgram, 0, reinterpret_cast<sockaddr*>(&from), &n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return;
    }
    UdpFlow* f = flowFor(l, from);
    if (!f) continue;
    f->last = now();
    send(f->fd, g_dgram, static_cast<size_t>(r), MSG_NOSIGNAL);  // a lost datagram is UDP's lot
  }
}

void onUdpFlow(UdpFlow* f) {
  if (f->dead) return;
  for (;;) {
    ssize_t r = recv(f->fd, g_dgram, sizeof g_dgram, 0);
    if (r < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue;  // the container's port unreachable
      return;
    }
    f->last = now();
    sendto(f->l->fd, g_dgram, static_cast<size_t>(r), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&f->client),
           sizeof f->client);
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  parseArgs(argc, argv);
  closeOthers();
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  int sfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
  g_epoll = epoll_create1(EPOLL_CLOEXEC);
  if (sfd < 0 || g_epoll < 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "error - - - %s\ntsrun-proxy: epoll/signalfd: %s\n", errnoName(errno), strerror(errno));
    report(msg);
    return 1;
  }
  if (!bindAll()) return 1;
  Handle sig = {kSignal, nullptr, 0};
  watch(EPOLL_CTL_ADD, sfd, EPOLLIN, &sig);
  for (int i = 0; i < g_nlisteners; i++) watch(EPOLL_CTL_ADD, g_listeners[i].fd, EPOLLIN, &g_listeners[i].h);
  report("ready\n");
  close(g_syncFd);
  g_syncFd = -1;
  prctl(PR_SET_PDEATHSIG, 0);

  epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(g_epoll, evs, 64, g_flows || g_paused ? 1000 : -1);
    if (n < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; i++) {
      Handle* h = static_cast<Handle*>(evs[i].data.ptr);
      switch (h->kind) {
        case kSignal:
          return 0;
        case kTcpListener:
          acceptAll(static_cast<Listener*>(h->owner));
          break;
        case kUdpListener:
          onUdpListener(static_cast<Listener*>(h->owner));
          break;
        case kUdpFlow:
          onUdpFlow(static_cast<UdpFlow*>(h->owner));
          break;
        case kTcpSide:
          onTcp(static_cast<TcpConn*>(h->owner), h->side, evs[i].events);
          break;
      }
    }
    if (g_flows) expireFlows();
    if (g_paused && now() - g_pausedAt >= 1) resumeListeners();
    while (TcpConn* c = g_deadConns) {
      g_deadConns = c->nextDead;
      delete c;
    }
    while (UdpFlow* f = g_deadFlows) {
      g_deadFlows = f->nextDead;
      delete f;
    }
  }
}
