// spawn(plan): clone3 from the multithreaded Node process, fork-like (no CLONE_VM), and run the
// compiled plan in the child. Returns {pid, pidfd, syncFd, intoCgroup} at once; TypeScript drives
// the handshake on syncFd. Everything that allocates happens here, before the clone.
#include <errno.h>
#include <linux/sched.h>
#include <napi.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "plan.h"

namespace tsrun {

Napi::Error errnoError(Napi::Env env, int err, const char* syscall);

namespace {

struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
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
    Napi::TypeError::New(env, "spawn(plan): ops length is not a multiple of the op size")
        .ThrowAsJavaScriptException();
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

  Plan plan{opv.data(), (uint32_t)(opv.size() / OP_WORDS), strv.data(), (uint32_t)strv.size(),
            listPtrs.data(), (uint32_t)listPtrs.size(), sv[1], keep.data(), (uint32_t)keep.size()};

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

}  // namespace tsrun
