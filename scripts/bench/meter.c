// The bench's meter (scripts/bench/harness.mjs): runs one runtime call and reports what only its
// parent can see, from wait4(2): wall time from fork to reaping, user and system CPU, and the peak
// RSS (ru_maxrss) of the process and the descendants it waited for. getrusage(RUSAGE_CHILDREN) in
// the bench itself would give the largest RSS of any child so far, not this call's.
//
// usage: meter CMD [ARG...]   (stdio and environment pass through; fd 3 is the report)
// Report on fd 3: "<wall ns> <user us> <sys us> <maxrss KiB>\n". Exit status: the command's, or
// 128+N when it was killed by signal N. fd 3 is close-on-exec: a container init started by the
// runtime must not hold the report pipe open.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  fcntl(3, F_SETFD, FD_CLOEXEC);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) return 126;
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  while (wait4(pid, &st, 0, &ru) < 0)
    if (errno != EINTR) return 126;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  dprintf(3, "%lld %lld %lld %ld\n", ns, (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
          (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, ru.ru_maxrss);
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}
