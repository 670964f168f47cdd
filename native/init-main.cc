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
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"

using namespace tsrun;

static void die(const char* msg) {
  (void)!write(2, "tsrun-init: ", 12);
  (void)!write(2, msg, strlen(msg));
  (void)!write(2, "\n", 1);
  _exit(125);
}

static uint32_t word(const unsigned char* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

int main(int argc, char** argv) {
  if (argc != 4) die("usage: tsrun-init PLAN_FD SYNC_FD CGROUP_FD");
  int planFd = atoi(argv[1]), syncFd = atoi(argv[2]), cgroupFd = atoi(argv[3]);
  struct stat st;
  if (fstat(planFd, &st) < 0 || st.st_size < 20) die("cannot read the plan");
  unsigned char* buf = (unsigned char*)malloc((size_t)st.st_size + 1);
  if (!buf) die("out of memory");
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = pread(planFd, buf + off, (size_t)(st.st_size - off), off);
    if (n <= 0) die("cannot read the plan");
    off += n;
  }
  close(planFd);
  if (memcmp(buf, "TSRP", 4) != 0) die("not a plan");
  uint32_t nops = word(buf + 4), nlistWords = word(buf + 8), nkeep = word(buf + 12), stringsLen = word(buf + 16);
  size_t need = 20 + ((size_t)nops * OP_WORDS + nlistWords + nkeep) * 4 + stringsLen;
  if (need > (size_t)st.st_size) die("truncated plan");
  uint32_t* ops = (uint32_t*)(buf + 20);
  uint32_t* lists = ops + (size_t)nops * OP_WORDS;
  int* keep = (int*)(lists + nlistWords);
  char* strings = (char*)(keep + nkeep);
  buf[st.st_size] = 0;

  // Lists → NULL-terminated pointer arrays, as spawn.cc builds them.
  uint32_t nlists = 0;
  for (uint32_t i = 0; i < nlistWords; i += lists[i] + 1) nlists++;
  char*** listPtrs = (char***)calloc(nlists + 1, sizeof(char**));
  uint32_t li = 0;
  for (uint32_t i = 0; i < nlistWords; li++) {
    uint32_t count = lists[i++];
    if (i + count > nlistWords) die("truncated list table");
    char** v = (char**)calloc(count + 1, sizeof(char*));
    for (uint32_t k = 0; k < count; k++, i++) {
      if (lists[i] >= stringsLen) die("list entry out of range");
      v[k] = strings + lists[i];
    }
    listPtrs[li] = v;
  }

  if (cgroupFd >= 0) {
    // Join the container's cgroup before anything is charged to it.
    int procs = openat(cgroupFd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs < 0 || write(procs, "0", 1) != 1) die("cannot join the container cgroup");
    close(procs);
    close(cgroupFd);
  }

  // keep must be sorted and include syncFd (the TypeScript side sorts it).
  Plan plan{ops, nops, strings, stringsLen, listPtrs, nlists, syncFd, keep, nkeep};
  runPlan(plan);
}
