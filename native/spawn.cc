// spawn(plan): clone3 from the multithreaded Node process, fork-like (no CLONE_VM), and run the
// compiled plan in the child. Returns {pid, pidfd, syncFd, intoCgroup} at once; TypeScript drives
// the handshake on syncFd. Everything that allocates happens here, before the clone.
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <napi.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "addon.h"
#include "plan.h"

namespace tsrun {

namespace {

struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

}  // namespace

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "spawn(plan): plan must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Uint32Array ops = o.Get("ops").As<Napi::Uint32Array>();
  Napi::Buffer<char> strings = o.Get("strings").As<Napi::Buffer<char>>();
  Napi::Uint32Array lists = o.Get("lists").As<Napi::Uint32Array>();
  uint64_t cloneFlags = (uint64_t)o.Get("cloneFlags").As<Napi::Number>().Int64Value();
  int cgroupFd = o.Has("cgroupFd") ? o.Get("cgroupFd").As<Napi::Number>().Int32Value() : -1;
  if (ops.ElementLength() % OP_WORDS != 0) {
    Napi::TypeError::New(env, "spawn(plan): ops length is not a multiple of the op size").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // Copies owned by this frame; the child gets its own copy-on-write image of them.
  std::vector<uint32_t> opv(ops.Data(), ops.Data() + ops.ElementLength());
  std::string strv(strings.Data(), strings.Length());
  strv.push_back('\0');
  std::vector<std::vector<char*>> listv;
  const uint32_t* l = lists.Data();
  size_t ln = lists.ElementLength();
  for (size_t i = 0; i < ln;) {
    uint32_t count = l[i++];
    if (i + count > ln) {
      Napi::TypeError::New(env, "spawn(plan): list table is truncated").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::vector<char*> v;
    for (uint32_t k = 0; k < count; k++, i++) {
      if (l[i] >= strv.size()) {
        Napi::TypeError::New(env, "spawn(plan): list entry out of range").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      v.push_back(&strv[l[i]]);
    }
    v.push_back(nullptr);
    listv.push_back(std::move(v));
  }
  std::vector<char**> listPtrs;
  for (auto& v : listv) listPtrs.push_back(v.data());

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    errnoError(env, errno, "socketpair").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  std::vector<int> keep{sv[1]};
  if (o.Has("keepFds")) {
    Napi::Array k = o.Get("keepFds").As<Napi::Array>();
    for (uint32_t i = 0; i < k.Length(); i++) keep.push_back(k.Get(i).As<Napi::Number>().Int32Value());
  }
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());

  Plan plan{};
  plan.ops = opv.data();
  plan.nops = (uint32_t)(opv.size() / OP_WORDS);
  plan.strings = strv.data();
  plan.stringsLen = (uint32_t)strv.size();
  plan.lists = listPtrs.data();
  plan.nlists = (uint32_t)listPtrs.size();
  plan.syncFd = sv[1];
  plan.keepFds = keep.data();
  plan.nkeep = (uint32_t)keep.size();

  int pidfd = -1;
  CloneArgs args = {};
  args.flags = cloneFlags | CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  bool intoCgroup = cgroupFd >= 0;
  if (intoCgroup) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroupFd;
  }

  // No signal handler of Node's may run in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && intoCgroup && (errno == EBUSY || errno == EINVAL || errno == EOPNOTSUPP)) {
    // CLONE_INTO_CGROUP is refused for some cgroups (e.g. threaded, or a v1 fd): the caller
    // falls back to writing cgroup.procs.
    intoCgroup = false;
    args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
    args.cgroup = 0;
    pid = syscall(SYS_clone3, &args, sizeof args);
  }
  if (pid == 0) {
    close(sv[0]);
    runPlan(plan);
  }
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    errnoError(env, err, "clone3").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, (double)pid));
  r.Set("pidfd", Napi::Number::New(env, pidfd));
  r.Set("syncFd", Napi::Number::New(env, sv[0]));
  r.Set("intoCgroup", Napi::Boolean::New(env, intoCgroup));
  return r;
}

// The helper runs from a sealed in-memory copy of build/Release/tsrun-init, never from the file:
// while it runs the plan, a process in the container's pid namespace that holds CAP_SYS_PTRACE can
// open /proc/<pid>/exe (non-dumpable does not stop it), and CVE-2019-5736 was exactly that path to
// overwriting the runtime's binary. The copy's seals forbid writes, and writing it would change a
// copy anyway. Made once per process (about 0.3 ms for 0.8 MB) and kept while the file is unchanged.
// On failure returns -1 with errno set and *call naming the call that failed.
static int sealedCopy(const std::string& path, const char** call) {
  static int cached = -1;
  static struct stat cachedSt;
  static std::string cachedPath;
  *call = "open";
  int src = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return -1;
  struct stat st;
  *call = "fstat";
  if (fstat(src, &st) < 0) {
    int e = errno;
    close(src);
    errno = e;
    return -1;
  }
  if (cached >= 0 && cachedPath == path && cachedSt.st_dev == st.st_dev && cachedSt.st_ino == st.st_ino &&
      cachedSt.st_mtim.tv_sec == st.st_mtim.tv_sec && cachedSt.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
      cachedSt.st_size == st.st_size) {
    close(src);
    return cached;
  }
  *call = "memfd_create";
  int mfd = (int)syscall(SYS_memfd_create, "tsrun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  bool ok = mfd >= 0;
  if (ok) *call = "sendfile";
  for (off_t left = st.st_size; ok && left > 0;) {
    ssize_t n = sendfile(mfd, src, nullptr, (size_t)left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // the file shrank under us
      ok = false;
      break;
    }
    left -= n;
  }
  if (ok) *call = "fcntl(F_ADD_SEALS)";
  ok = ok && fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0;
  int e = errno;
  close(src);
  if (!ok) {
    if (mfd >= 0) close(mfd);
    errno = e;
    return -1;
  }
  if (cached >= 0) close(cached);
  cached = mfd;
  cachedSt = st;
  cachedPath = path;
  return mfd;
}

// spawnHelper(path, planBytes, fdMap, syncTarget, planTarget, cgroupTarget): posix_spawn (vfork:
// no page-table copy, so the cost is flat in the caller's RSS) of the static tsrun-init, which
// runs the same interpreter. fdMap is [[parentFd, childFd], ...]; the plan travels in a memfd.
Napi::Value SpawnHelper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsArray() || !info[3].IsNumber() ||
      !info[4].IsNumber() || !info[5].IsNumber()) {
    Napi::TypeError::New(env, "spawnHelper(path, plan, fdMap, syncFd, planFd, cgroupFd): bad arguments")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>();
  Napi::Buffer<char> bytes = info[1].As<Napi::Buffer<char>>();
  Napi::Array map = info[2].As<Napi::Array>();
  int syncTarget = info[3].As<Napi::Number>().Int32Value();
  int planTarget = info[4].As<Napi::Number>().Int32Value();
  int cgroupTarget = info[5].As<Napi::Number>().Int32Value();

  std::vector<int> temps;
  auto cleanup = [&]() {
    for (int fd : temps) close(fd);
  };
  auto fail = [&](const char* call, const char* file = nullptr) {
    int e = errno;
    cleanup();
    errnoError(env, e, call, file).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  const char* copyCall = nullptr;
  int image = sealedCopy(path, &copyCall);
  if (image < 0) return fail(copyCall, path.c_str());
  // Above every dup2 target, so the file actions cannot clobber it before execve opens it;
  // close-on-exec is fine: execve resolves /proc/self/fd/N before it closes anything.
  int imageFd = fcntl(image, F_DUPFD_CLOEXEC, 1024);
  if (imageFd < 0) return fail("fcntl(F_DUPFD_CLOEXEC)");
  temps.push_back(imageFd);
  std::string imagePath = "/proc/self/fd/" + std::to_string(imageFd);
  int planFd = (int)syscall(SYS_memfd_create, "tsrun-plan", MFD_CLOEXEC);
  if (planFd < 0) return fail("memfd_create");
  temps.push_back(planFd);
  for (size_t off = 0; off < bytes.Length();) {
    ssize_t n = write(planFd, bytes.Data() + off, bytes.Length() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    off += (size_t)n;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return fail("socketpair");
  temps.push_back(sv[1]);

  // Sources are first moved above every target, so one dup2 cannot clobber another's source.
  std::vector<std::pair<int, int>> moves = {{sv[1], syncTarget}, {planFd, planTarget}};
  for (uint32_t i = 0; i < map.Length(); i++) {
    Napi::Array pair = map.Get(i).As<Napi::Array>();
    moves.push_back({pair.Get(0u).As<Napi::Number>().Int32Value(), pair.Get(1u).As<Napi::Number>().Int32Value()});
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (auto& m : moves) {
    int tmp = fcntl(m.first, F_DUPFD_CLOEXEC, 1024);
    if (tmp < 0 && errno == EBADF && m.first == m.second) continue;  // a closed stdio fd stays closed
    if (tmp < 0) {
      posix_spawn_file_actions_destroy(&fa);
      close(sv[0]);
      return fail("fcntl(F_DUPFD_CLOEXEC)");
    }
    temps.push_back(tmp);
    posix_spawn_file_actions_adddup2(&fa, tmp, m.second);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string a1 = std::to_string(planTarget), a2 = std::to_string(syncTarget), a3 = std::to_string(cgroupTarget);
  char* argv[] = {(char*)path.c_str(), (char*)a1.c_str(), (char*)a2.c_str(), (char*)a3.c_str(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid;
  int err = posix_spawn(&pid, imagePath.c_str(), &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    errno = err;
    close(sv[0]);
    return fail("posix_spawn");
  }
  cleanup();
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd >= 0) fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, pid));
  r.Set("pidfd", Napi::Number::New(env, pidfd));
  r.Set("syncFd", Napi::Number::New(env, sv[0]));
  r.Set("intoCgroup", Napi::Boolean::New(env, cgroupTarget >= 0));
  return r;
}

}  // namespace tsrun
