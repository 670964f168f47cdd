// bpf(2) for the cgroup v2 device controller: load a BPF_PROG_TYPE_CGROUP_DEVICE program that
// TypeScript assembled (src/cgroups/device-bpf.ts), attach it to a cgroup, list and detach the
// programs already there. Data in, syscalls out: no policy here.
#include <errno.h>
#include <linux/bpf.h>
#include <napi.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"

namespace tsrun {

namespace {

long sysBpf(int cmd, union bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

// BPF_PROG_LOAD fails with EAGAIN when a signal arrives while the verifier runs (kernel/bpf/
// verifier.c do_check: signal_pending() -> -EAGAIN), which a profiler's SIGPROF timer makes
// common. libbpf (sys_bpf_prog_load, PROG_LOAD_ATTEMPTS) and cilium/ebpf retry; so does tsrun, a
// bounded number of times so that an EAGAIN that persists is still reported.
constexpr int kProgLoadAttempts = 5;

// Calls load() until it returns an fd, fails with an errno other than EAGAIN, or `attempts` calls
// were made; returns its last result with errno as that call left it. A template so that the
// loop is unit-tested with a fake load (test/unit/cgroup-bpf-retry.test.ts).
template <typename Load>
int retryOnEagain(Load load, int attempts = kProgLoadAttempts) {
  int fd = -1;
  for (int i = 0; i < attempts; i++) {
    fd = load();
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

uint32_t u32Arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Uint32Value();
}

// bpfProgLoad(insns: Buffer, license: string, progType: number): fd. The verifier's log is
// appended to the error message so a rejected program says why.
Napi::Value ProgLoad(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> insns = info[0].As<Napi::Buffer<uint8_t>>();
  std::string license = info[1].As<Napi::String>();
  std::vector<char> log(64 * 1024);
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = u32Arg(info, 2);
  attr.insns = (uint64_t)(uintptr_t)insns.Data();
  attr.insn_cnt = (uint32_t)(insns.Length() / 8);
  attr.license = (uint64_t)(uintptr_t)license.c_str();
  int fd = retryOnEagain([&] { return (int)sysBpf(BPF_PROG_LOAD, &attr); });
  if (fd < 0) {
    // Retry with the log on, only to explain the failure.
    int first = errno;
    attr.log_buf = (uint64_t)(uintptr_t)log.data();
    attr.log_size = (uint32_t)log.size();
    attr.log_level = 1;
    // A failure that went away (EAGAIN every time above) may succeed now: that fd is not wanted.
    int again = retryOnEagain([&] { return (int)sysBpf(BPF_PROG_LOAD, &attr); });
    if (again >= 0) {
      close(again);
      first = EAGAIN;
    }
    Napi::Error e = errnoError(info.Env(), first, "bpf(BPF_PROG_LOAD)", nullptr);
    e.Set("verifierLog", Napi::String::New(info.Env(), log.data()));
    e.ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), fd);
}

// bpfProgAttach(progFd, targetFd, attachType, flags)
Napi::Value ProgAttach(const Napi::CallbackInfo& info) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.attach_bpf_fd = u32Arg(info, 0);
  attr.target_fd = u32Arg(info, 1);
  attr.attach_type = u32Arg(info, 2);
  attr.attach_flags = u32Arg(info, 3);
  if (sysBpf(BPF_PROG_ATTACH, &attr) < 0) {
    errnoError(info.Env(), errno, "bpf(BPF_PROG_ATTACH)", nullptr).ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

// bpfProgDetach(progFd, targetFd, attachType)
Napi::Value ProgDetach(const Napi::CallbackInfo& info) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.attach_bpf_fd = u32Arg(info, 0);
  attr.target_fd = u32Arg(info, 1);
  attr.attach_type = u32Arg(info, 2);
  if (sysBpf(BPF_PROG_DETACH, &attr) < 0) {
    errnoError(info.Env(), errno, "bpf(BPF_PROG_DETACH)", nullptr).ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

// bpfProgQuery(targetFd, attachType): ids of the programs attached directly to the cgroup.
Napi::Value ProgQuery(const Napi::CallbackInfo& info) {
  std::vector<uint32_t> ids(64);
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.query.target_fd = u32Arg(info, 0);
  attr.query.attach_type = u32Arg(info, 1);
  attr.query.prog_ids = (uint64_t)(uintptr_t)ids.data();
  attr.query.prog_cnt = (uint32_t)ids.size();
  if (sysBpf(BPF_PROG_QUERY, &attr) < 0) {
    errnoError(info.Env(), errno, "bpf(BPF_PROG_QUERY)", nullptr).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  uint32_t n = attr.query.prog_cnt < ids.size() ? attr.query.prog_cnt : (uint32_t)ids.size();
  Napi::Array out = Napi::Array::New(info.Env(), n);
  for (uint32_t i = 0; i < n; i++) out.Set(i, Napi::Number::New(info.Env(), ids[i]));
  return out;
}

// bpfProgGetFdById(id): fd
Napi::Value ProgGetFdById(const Napi::CallbackInfo& info) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_id = u32Arg(info, 0);
  int fd = (int)sysBpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0) {
    errnoError(info.Env(), errno, "bpf(BPF_PROG_GET_FD_BY_ID)", nullptr).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void initBpf(Napi::Env env, Napi::Object exports) {
  exports.Set("bpfProgLoad", Napi::Function::New(env, ProgLoad));
  exports.Set("bpfProgAttach", Napi::Function::New(env, ProgAttach));
  exports.Set("bpfProgDetach", Napi::Function::New(env, ProgDetach));
  exports.Set("bpfProgQuery", Napi::Function::New(env, ProgQuery));
  exports.Set("bpfProgGetFdById", Napi::Function::New(env, ProgGetFdById));
}

}  // namespace tsrun
