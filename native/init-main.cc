// tsrun-init: the plan interpreter as a tiny static executable. A service with a large heap
// starts containers through it (posix_spawn, i.e. vfork: no page-table copy), so the cost of a
// spawn does not grow with the caller's RSS. It is single-threaded, so the plan applies its
// namespaces with unshare/setns and forks for pid and time namespaces (the compiler's
// non-clone path); the fork uses CLONE_PARENT, so the container's init is the caller's child.
//
// argv: tsrun-init PLAN_FD SYNC_FD CGROUP_FD(-1 for none)
// PLAN_FD holds: "TSRP", u32 nops, u32 nlistWords, u32 nkeep, u32 stringsLen, then the op words,
// the list words, the fds to keep, the string table (native/plan.h).
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"

using namespace tsrun;

static int g_syncFd = -1;

// A failure before the plan runs. The parent is told over the sync socket, as the interpreter
// tells it of a failing op ({step, errno, DETAIL_HELPER_SETUP}), so its error names the step
// ("tsrun-init: read plan: Bad file descriptor") instead of only "exit status 125"; stderr gets
// the same words for a human running it by hand.
[[noreturn]] static void die(HelperStep step, int err, const char* msg) {
  if (g_syncFd >= 0) {
    Msg m{MSG_ERROR, step, err, DETAIL_HELPER_SETUP};
    (void)!send(g_syncFd, &m, sizeof m, MSG_NOSIGNAL);
  }
  (void)!write(2, "tsrun-init: ", 12);
  (void)!write(2, msg, strlen(msg));
  if (err) {
    const char* text = strerror(err);
    (void)!write(2, ": ", 2);
    (void)!write(2, text, strlen(text));
  }
  (void)!write(2, "\n", 1);
  _exit(125);
}

static uint32_t word(const unsigned char* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// A decimal fd argument; -1 (none) is allowed only where the caller says so.
static bool parseFd(const char* s, int* fd) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < -1 || v > 0x7fffffff) return false;
  *fd = (int)v;
  return true;
}

int main(int argc, char** argv) {
  int planFd, syncFd, cgroupFd;
  // Without a valid SYNC_FD there is no one to tell but stderr.
  if (argc != 4 || !parseFd(argv[2], &syncFd) || syncFd < 0)
    die(HELPER_READ_PLAN, 0, "usage: tsrun-init PLAN_FD SYNC_FD CGROUP_FD");
  g_syncFd = syncFd;
  if (!parseFd(argv[1], &planFd) || planFd < 0 || !parseFd(argv[3], &cgroupFd))
    die(HELPER_READ_PLAN, EBADF, "usage: tsrun-init PLAN_FD SYNC_FD CGROUP_FD");
  struct stat st;
  if (fstat(planFd, &st) < 0) die(HELPER_READ_PLAN, errno, "read plan");
  if (st.st_size < 20) die(HELPER_PARSE_PLAN, EINVAL, "parse plan: shorter than its header");
  unsigned char* buf = (unsigned char*)malloc((size_t)st.st_size + 1);
  if (!buf) die(HELPER_ALLOC, ENOMEM, "allocate the plan");
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = pread(planFd, buf + off, (size_t)(st.st_size - off), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(HELPER_READ_PLAN, errno, "read plan");
    if (n == 0) die(HELPER_READ_PLAN, EIO, "read plan: the plan shrank");
    off += n;
  }
  close(planFd);
  if (memcmp(buf, "TSRP", 4) != 0) die(HELPER_PARSE_PLAN, EINVAL, "parse plan: not a plan");
  uint32_t nops = word(buf + 4), nlistWords = word(buf + 8), nkeep = word(buf + 12), stringsLen = word(buf + 16);
  size_t need = 20 + ((size_t)nops * OP_WORDS + nlistWords + nkeep) * 4 + stringsLen;
  if (need > (size_t)st.st_size) die(HELPER_PARSE_PLAN, EINVAL, "parse plan: truncated");
  uint32_t* ops = (uint32_t*)(buf + 20);
  uint32_t* lists = ops + (size_t)nops * OP_WORDS;
  int* keep = (int*)(lists + nlistWords);
  char* strings = (char*)(keep + nkeep);
  buf[st.st_size] = 0;

  // Lists → NULL-terminated pointer arrays, as spawn.cc builds them.
  uint32_t nlists = 0;
  for (uint32_t i = 0; i < nlistWords; nlists++) {
    uint32_t count = lists[i++];
    if (count > nlistWords - i) die(HELPER_PARSE_PLAN, EINVAL, "parse plan: truncated list table");
    i += count;
  }
  char*** listPtrs = (char***)calloc(nlists + 1, sizeof(char**));
  if (!listPtrs) die(HELPER_ALLOC, ENOMEM, "allocate the plan's lists");
  uint32_t li = 0;
  for (uint32_t i = 0; i < nlistWords; li++) {
    uint32_t count = lists[i++];
    char** v = (char**)calloc(count + 1, sizeof(char*));
    if (!v) die(HELPER_ALLOC, ENOMEM, "allocate the plan's lists");
    for (uint32_t k = 0; k < count; k++, i++) {
      if (lists[i] >= stringsLen) die(HELPER_PARSE_PLAN, EINVAL, "parse plan: list entry out of range");
      v[k] = strings + lists[i];
    }
    listPtrs[li] = v;
  }

  if (cgroupFd >= 0) {
    // Join the container's cgroup before anything is charged to it.
    int procs = openat(cgroupFd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs < 0) die(HELPER_JOIN_CGROUP, errno, "join the container cgroup");
    if (write(procs, "0", 1) != 1) die(HELPER_JOIN_CGROUP, errno, "join the container cgroup");
    close(procs);
    close(cgroupFd);
  }

  // keep must be sorted and include syncFd (the TypeScript side sorts it).
  Plan plan{ops, nops, strings, stringsLen, listPtrs, nlists, syncFd, keep, nkeep};
  runPlan(plan);
}
