// 1:1 wrappers for parent-side calls Node's fs/process modules lack. Each throws an Error shaped
// like Node's own ({code:'EPERM', errno, syscall, path}).
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "addon.h"

namespace tsrun {

Napi::Error errnoError(Napi::Env env, int err, const char* syscall, const char* path) {
  const char* name = strerrorname_np(err);
  std::string msg = std::string(name ? name : "EUNKNOWN") + ": " + strerror(err) + ", " + syscall;
  if (path) msg += std::string(" '") + path + "'";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (path) e.Set("path", Napi::String::New(env, path));
  return e;
}

namespace {

int intArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

#define THROW_ERRNO(call, path)                                             \
  do {                                                                      \
    errnoError(info.Env(), errno, call, path).ThrowAsJavaScriptException(); \
    return info.Env().Undefined();                                          \
  } while (0)

Napi::Value Flock(const Napi::CallbackInfo& info) {
  int r;
  do r = flock(intArg(info, 0), intArg(info, 1));
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    THROW_ERRNO("flock", nullptr);
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value Mkfifo(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>();
  if (mkfifo(path.c_str(), (mode_t)intArg(info, 1)) < 0) THROW_ERRNO("mkfifo", path.c_str());
  return info.Env().Undefined();
}

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  long fd = syscall(SYS_pidfd_open, intArg(info, 0), 0);
  if (fd < 0) THROW_ERRNO("pidfd_open", nullptr);
  fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(info.Env(), (double)fd);
}

Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  if (syscall(SYS_pidfd_send_signal, intArg(info, 0), intArg(info, 1), nullptr, 0) < 0)
    THROW_ERRNO("pidfd_send_signal", nullptr);
  return info.Env().Undefined();
}

}  // namespace

Napi::Object exitInfo(Napi::Env env, const siginfo_t& si) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, si.si_pid));
  bool signaled = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
  r.Set("exitCode", signaled ? env.Null() : Napi::Number::New(env, si.si_status));
  r.Set("signal", signaled ? Napi::Number::New(env, si.si_status) : env.Null());
  return r;
}

namespace {

// waitPid(pid, nohang) -> {pid, exitCode, signal} | null (nohang and still running)
Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  siginfo_t si = {};
  int options = WEXITED | (info.Length() > 1 && info[1].ToBoolean() ? WNOHANG : 0);
  int r;
  do r = waitid(P_PID, (id_t)intArg(info, 0), &si, options);
  while (r < 0 && errno == EINTR);
  if (r < 0) THROW_ERRNO("waitid", nullptr);
  if (si.si_pid == 0) return info.Env().Null();
  return exitInfo(info.Env(), si);
}

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) THROW_ERRNO("prctl", nullptr);
  return info.Env().Undefined();
}

// One data buffer and room for one SCM_RIGHTS fd: what sendFd and recvFd exchange.
struct FdMessage {
  char ctrl[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  explicit FdMessage(struct iovec& iov) {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

// sendFd(socketFd, fd, data?): one SCM_RIGHTS message (console socket, pidfd socket, seccomp
// listener). Node's net module cannot carry arbitrary fds.
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  int sock = intArg(info, 0), fd = intArg(info, 1);
  std::string data =
      info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string("\0", 1);
  struct iovec iov = {(void*)data.data(), data.size()};
  FdMessage m(iov);
  struct msghdr& msg = m.msg;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t r;
  do r = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0) THROW_ERRNO("sendmsg", nullptr);
  return info.Env().Undefined();
}

// recvFd(socketFd) -> {fd, data} ; fd is -1 when the message carried none.
Napi::Value RecvFd(const Napi::CallbackInfo& info) {
  int sock = intArg(info, 0);
  char buf[4096];
  struct iovec iov = {buf, sizeof buf};
  FdMessage m(iov);
  struct msghdr& msg = m.msg;
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) THROW_ERRNO("recvmsg", nullptr);
  int fd = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof(int));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("fd", Napi::Number::New(info.Env(), fd));
  o.Set("data", Napi::Buffer<char>::Copy(info.Env(), buf, (size_t)r));
  return o;
}

// connectUnix(path) -> fd: a SOCK_STREAM connection to an AF_UNIX socket (--console-socket,
// --pidfd-socket, seccomp listenerPath), for sendFd.
Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>();
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    THROW_ERRNO("connect", path.c_str());
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) THROW_ERRNO("socket", path.c_str());
  int r;
  do r = connect(fd, (struct sockaddr*)&addr, sizeof addr);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(fd);
    errno = e;
    THROW_ERRNO("connect", path.c_str());
  }
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value SetWinsize(const Napi::CallbackInfo& info) {
  struct winsize ws = {(unsigned short)intArg(info, 1), (unsigned short)intArg(info, 2), 0, 0};
  if (ioctl(intArg(info, 0), TIOCSWINSZ, &ws) < 0) THROW_ERRNO("ioctl", nullptr);
  return info.Env().Undefined();
}

}  // namespace

void initSys(Napi::Env env, Napi::Object exports) {
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("mkfifo", Napi::Function::New(env, Mkfifo));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid));
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  exports.Set("recvFd", Napi::Function::New(env, RecvFd));
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize));
}

}  // namespace tsrun
