// A tiny static C tool the security and seccomp tests put into their rootfs
// (or run on the host), compiled once per test file into a temp dir with gcc -static (needs
// build-essential and libc6-dev, as the probe does):
//   sc NR [ARG...]    raw syscall(NR, args...); prints "<ret> <errno>" (args: numbers, or a string
//                     pointer when the arg starts with '/' or '@' ('@' dropped))
//   agent PATH        seccomp agent: accepts one connection on PATH, prints the state JSON it got,
//                     then answers one notification with the value 4242 and prints "notified NR"
//   mempolicy         get_mempolicy(2) of the process: prints "<mode> <nodemask hex>"
//   openfd PATH FLAGS opens PATH (r|w|rw) and prints "<fd> <errno>", then reopens
//                     /proc/self/fd/<fd> with FLAGS again: "<fd2> <errno>"
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static long arg(const char *s) {
  if (s[0] == '/') return (long)s;
  if (s[0] == '@') return (long)(s + 1);
  return strtol(s, NULL, 0);
}

static int agent(const char *path) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 1) < 0) { perror("bind"); return 2; }
  printf("ready\n"); fflush(stdout);
  int c = accept(s, NULL, NULL);
  if (c < 0) { perror("accept"); return 2; }
  static char data[65536];
  char ctrl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {data, sizeof data - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl};
  ssize_t n = recvmsg(c, &msg, 0);
  if (n < 0) { perror("recvmsg"); return 2; }
  data[n] = 0;
  int fd = -1;
  for (struct cmsghdr *m = CMSG_FIRSTHDR(&msg); m; m = CMSG_NXTHDR(&msg, m))
    if (m->cmsg_level == SOL_SOCKET && m->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(m), sizeof fd);
  printf("state %s\n", data); fflush(stdout);
  if (fd < 0) { printf("no fd\n"); return 3; }
  struct seccomp_notif req; struct seccomp_notif_resp resp;
  memset(&req, 0, sizeof req);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) { perror("NOTIF_RECV"); return 4; }
  memset(&resp, 0, sizeof resp);
  resp.id = req.id; resp.val = 4242; resp.error = 0; resp.flags = 0;
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) { perror("NOTIF_SEND"); return 5; }
  printf("notified %d\n", req.data.nr); fflush(stdout);
  return 0;
}

static int flagsOf(const char *f) {
  return strcmp(f, "w") == 0 ? O_WRONLY : strcmp(f, "rw") == 0 ? O_RDWR : O_RDONLY;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "agent") == 0) return agent(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "mempolicy") == 0) {
    int mode = -1; unsigned long mask[16] = {0};
    if (syscall(SYS_get_mempolicy, &mode, mask, 16 * 64, 0, 0) < 0) { printf("error %d\n", errno); return 0; }
    printf("%d %lx\n", mode, mask[0]);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "openfd") == 0) {
    int fd = open(argv[2], flagsOf(argv[3]));
    printf("%d %d\n", fd, fd < 0 ? errno : 0); fflush(stdout);
    if (fd < 0) return 0;
    char p[64]; snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int fd2 = open(p, flagsOf(argv[3]));
    printf("%d %d\n", fd2, fd2 < 0 ? errno : 0);
    return 0;
  }
  if (argc < 2) { fprintf(stderr, "usage: sc NR [ARG...] | agent PATH | openfd PATH r|w|rw\n"); return 2; }
  long a[6] = {0};
  for (int i = 0; i < 6 && i + 2 < argc; i++) a[i] = arg(argv[i + 2]);
  errno = 0;
  long r = syscall(strtol(argv[1], NULL, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
  printf("%ld %d\n", r, r < 0 ? errno : 0);
  return 0;
}
`;

let built: string | undefined;

/** Builds the tool once (per process); returns the path of the static binary. */
export function buildSecurityTool(): string {
  if (built && fs.existsSync(built)) return built;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-sectool-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'sc.c'), SOURCE);
  try {
    execFileSync('gcc', ['-static', '-O1', '-o', path.join(dir, 'sc'), path.join(dir, 'sc.c')], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(
      `building the test tool needs gcc and a static libc (build-essential, libc6-dev): ${(err as { stderr?: Buffer }).stderr?.toString() ?? err}`,
      { cause: err },
    );
  }
  built = path.join(dir, 'sc');
  return built;
}

/** Copies the tool into a rootfs as /sc. */
export function installSecurityTool(rootfs: string): void {
  fs.copyFileSync(buildSecurityTool(), path.join(rootfs, 'sc'));
  fs.chmodSync(path.join(rootfs, 'sc'), 0o755);
}

/** "<ret> <errno>" lines → pairs. */
export function scResults(stdout: string): [number, number][] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => /^-?\d+ \d+$/.test(l))
    .map((l) => l.split(' ').map(Number) as [number, number]);
}

/** x86_64 syscall numbers the tests use (asm/unistd_64.h). */
export const NR = {
  getpid: 39,
  getppid: 110,
  getcwd: 79,
  mkdir: 83,
  umask: 95,
  getpriority: 140,
  uname: 63,
  personality: 135,
  syslog: 103,
  clone3: 435,
  ioprio_get: 252,
  close_range: 436,
  rseq: 334,
} as const;
