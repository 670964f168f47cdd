// watchPidfd and pollReadable without libuv: one watcher thread per N-API environment waits in
// epoll_wait(2) on the watched fds and hands each readiness to the JS thread through a
// thread-safe function (napi_threadsafe_function), so the addon calls N-API only and loads in any
// N-API host (Node, Bun, a worker thread).
//
// Lifetimes:
//  - The thread and the thread-safe function are made at the first watch of an environment. The
//    thread-safe function is referenced (keeps the loop alive) while a watch is pending, and
//    unreferenced when none is, so an idle watcher never holds the process.
//  - Each watch has an id, the epoll key; the JS callbacks live in a map touched only on the JS
//    thread. cancelWatch(id) removes the fd from epoll and drops the callback; an event already
//    on its way for that id then finds no callback and is dropped.
//  - The thread takes the fd out of epoll before it reports it, so the callback may close the fd
//    or watch it again. Closing a watched fd without cancelWatch leaves the watch pending (as
//    with uv_poll): epoll forgets a closed file silently.
//  - Teardown (the environment ends: worker exit, normal process exit) finalizes the thread-safe
//    function; its finalizer stops and joins the thread, so no thread outlives the environment's
//    N-API state. process.exit() ends the thread with the process (it only waits in epoll_wait
//    and owns no process-wide state).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "addon.h"

namespace tsrun {
namespace {

enum class Kind { Readable, Pidfd };

// Sent from the watcher thread to the JS thread.
struct Event {
  uint64_t id;
  Kind kind;
  int err;  // waitid's errno (Pidfd), or 0
  siginfo_t si;
};

struct Pending {
  int fd;      // the fd in epoll: the caller's, or our dup when the caller's was there already
  bool ownFd;  // fd is our dup, closed when the watch ends
  Kind kind;
};

struct Watcher {
  // Shared with the thread, under mu.
  std::mutex mu;
  std::unordered_map<uint64_t, Pending> pending;
  bool dead = false;  // the thread-safe function is being finalized: call it no more
  napi_threadsafe_function tsfn = nullptr;

  // Fixed once started.
  int epfd = -1;
  int wakefd = -1;  // eventfd: stops the thread
  std::thread thread;

  // JS thread only.
  std::unordered_map<uint64_t, Napi::FunctionReference> callbacks;
  uint64_t nextId = 0;
  bool referenced = false;
  bool instanceGone = false;  // the environment's instance data was finalized
  bool started = false;
  bool stopped = false;

  void run();
  bool start(napi_env env);
  void stop();
  void setRef(napi_env env, bool on) {
    if (on == referenced || !tsfn) return;
    referenced = on;
    if (on)
      napi_ref_threadsafe_function(env, tsfn);
    else
      napi_unref_threadsafe_function(env, tsfn);
  }
};

constexpr uint64_t WAKE_KEY = 0;

// Under w.mu: takes the watch out of epoll and the pending map.
void forget(Watcher& w, std::unordered_map<uint64_t, Pending>::iterator it) {
  epoll_ctl(w.epfd, EPOLL_CTL_DEL, it->second.fd, nullptr);
  if (it->second.ownFd) close(it->second.fd);
  w.pending.erase(it);
}

void Watcher::run() {
  // Signals go to the JS thread, never here.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  struct epoll_event evs[16];
  for (;;) {
    int n = epoll_wait(epfd, evs, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EBADF/EINVAL: the watcher is gone
    }
    for (int i = 0; i < n; i++) {
      uint64_t id = evs[i].data.u64;
      if (id == WAKE_KEY) return;  // stop()
      Event* ev = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu);
        auto it = pending.find(id);
        if (it == pending.end()) continue;  // cancelled
        ev = new Event{id, it->second.kind, 0, {}};
        if (it->second.kind == Kind::Pidfd) {
          // The pidfd turns readable when the process exits (pidfd_open(2)); reap it here, by the
          // pidfd, so no other child is taken (Node's and Bun's own SIGCHLD handling wait only
          // for their own children).
          int r;
          do r = waitid((idtype_t)P_PIDFD, (id_t)it->second.fd, &ev->si, WEXITED | WNOHANG);
          while (r < 0 && errno == EINTR);
          if (r < 0) {
            ev->err = errno;
          } else if (ev->si.si_pid == 0) {  // spurious: wait again
            delete ev;
            struct epoll_event again = {};
            again.events = EPOLLIN | EPOLLONESHOT;
            again.data.u64 = id;
            epoll_ctl(epfd, EPOLL_CTL_MOD, it->second.fd, &again);
            continue;
          }
        }
        forget(*this, it);
        if (dead || napi_call_threadsafe_function(tsfn, ev, napi_tsfn_nonblocking) != napi_ok) delete ev;
      }
    }
  }
}

// On the JS thread: one event to its callback.
void callJs(napi_env env, napi_value /*js_cb*/, void* context, void* data) {
  Event* ev = static_cast<Event*>(data);
  Watcher* w = static_cast<Watcher*>(context);
  if (!env) {  // the function is being torn down with this event still queued
    delete ev;
    return;
  }
  auto it = w->callbacks.find(ev->id);
  if (it == w->callbacks.end()) {  // cancelled after the thread had reported it
    delete ev;
    return;
  }
  Napi::FunctionReference cb = std::move(it->second);
  w->callbacks.erase(it);
  if (w->callbacks.empty()) w->setRef(env, false);
  Napi::Env e(env);
  Napi::HandleScope scope(e);
  Napi::Value arg;
  if (ev->kind == Kind::Readable)
    arg = e.Null();
  else if (ev->err)
    arg = errnoError(e, ev->err, "waitid").Value();
  else
    arg = exitInfo(e, ev->si);
  delete ev;
  // Raw N-API rather than FunctionReference::MakeCallback: in an environment being torn down
  // (a terminated worker) the call fails, and node-addon-api would then build an Error, which
  // fails too and aborts the process.
  napi_value global, fn, argv[1] = {arg}, result;
  if (napi_get_global(env, &global) != napi_ok ||
      napi_get_reference_value(env, cb.operator napi_ref(), &fn) != napi_ok || !fn)
    return;
  if (napi_make_callback(env, nullptr, global, fn, 1, argv, &result) == napi_pending_exception) {
    // A callback that throws is an uncaught exception, as it was from a uv_poll callback: without
    // this, Node 20 would only warn (DEP0168) about an exception left pending in a thread-safe
    // function's call.
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
}

void Watcher::stop() {
  if (!started || stopped) return;
  stopped = true;
  {
    std::lock_guard<std::mutex> lock(mu);
    dead = true;
    for (auto& p : pending)
      if (p.second.ownFd) close(p.second.fd);
    pending.clear();
  }
  uint64_t one = 1;
  ssize_t r;
  do r = write(wakefd, &one, sizeof one);
  while (r < 0 && errno == EINTR);
  if (thread.joinable()) thread.join();
  close(epfd);
  close(wakefd);
}

// The thread-safe function's finalizer (JS thread): the environment is ending or the function
// was released. The thread stops before the function's memory goes.
void finalizeTsfn(napi_env env, void* data, void* /*hint*/) {
  Watcher* w = static_cast<Watcher*>(data);
  w->stop();
  w->tsfn = nullptr;
  w->callbacks.clear();
  if (w->instanceGone) delete w;
}

bool Watcher::start(napi_env env) {
  if (started) return !stopped;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return false;
  wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = WAKE_KEY;
  if (wakefd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0) {
    int e = errno;
    close(epfd);
    if (wakefd >= 0) close(wakefd);
    epfd = wakefd = -1;
    errno = e;
    return false;
  }
  napi_value name;
  napi_create_string_utf8(env, "tsrun:watch", NAPI_AUTO_LENGTH, &name);
  // No JS function: callJs calls each watch's own callback. Queue size 0 is unlimited, so the
  // thread never blocks on a busy JS thread.
  napi_status s =
      napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, this, finalizeTsfn, this, callJs, &tsfn);
  if (s != napi_ok) {
    close(epfd);
    close(wakefd);
    epfd = wakefd = -1;
    errno = EINVAL;
    return false;
  }
  napi_unref_threadsafe_function(env, tsfn);
  referenced = false;
  started = true;
  thread = std::thread([this] { run(); });
  return true;
}

void finalizeInstance(Napi::Env, Watcher* w) {
  w->instanceGone = true;
  if (!w->tsfn) {
    w->stop();
    delete w;
  }
}

Watcher* watcherOf(Napi::Env env) {
  Watcher* w = env.GetInstanceData<Watcher>();
  if (!w) {
    w = new Watcher();
    // The instance data is finalized when the environment ends; the Watcher itself goes with
    // whichever of that and the thread-safe function's finalizer comes last.
    env.SetInstanceData<Watcher, finalizeInstance>(w);
  }
  return w;
}

Napi::Value watch(const Napi::CallbackInfo& info, Kind kind, const char* what) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, std::string(what) + "(fd, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Watcher* w = watcherOf(env);
  if (!w->start(env)) {
    errnoError(env, errno, "epoll_create1").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint64_t id = ++w->nextId;
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLONESHOT | (kind == Kind::Readable ? (uint32_t)EPOLLRDHUP : 0u);
  ev.data.u64 = id;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    Pending p = {fd, false, kind};
    int r = epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && errno == EEXIST) {
      // The fd is watched already (two waits on one socket or pidfd): epoll keys on the fd, so
      // this watch uses a duplicate of it.
      p.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
      p.ownFd = p.fd >= 0;
      r = p.fd < 0 ? -1 : epoll_ctl(w->epfd, EPOLL_CTL_ADD, p.fd, &ev);
      if (r < 0 && p.ownFd) {
        int e = errno;
        close(p.fd);
        errno = e;
      }
    }
    if (r < 0) {
      errnoError(env, errno, "epoll_ctl").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    w->pending.emplace(id, p);
  }
  w->callbacks.emplace(id, Napi::Persistent(info[1].As<Napi::Function>()));
  w->setRef(env, true);
  return Napi::Number::New(env, (double)id);
}

// watchPidfd(pidfd, callback) -> id: calls back once with {pid, exitCode, signal} (or an errno
// Error from waitid) when the process exits. The process is reaped by its pidfd.
Napi::Value WatchPidfd(const Napi::CallbackInfo& info) {
  return watch(info, Kind::Pidfd, "watchPidfd");
}

// pollReadable(fd, callback) -> id: calls back once with null when fd is readable, hung up or
// in error. The async handshake waits on the sync socket this way instead of blocking the loop.
Napi::Value PollReadable(const Napi::CallbackInfo& info) {
  return watch(info, Kind::Readable, "pollReadable");
}

// cancelWatch(id) -> boolean: the watch ends without its callback being called; false when it
// had already ended (called back, or cancelled). Call it before closing a watched fd.
Napi::Value CancelWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Watcher* w = env.GetInstanceData<Watcher>();
  uint64_t id = (uint64_t)info[0].ToNumber().Int64Value();
  if (!w || !w->callbacks.erase(id)) return Napi::Boolean::New(env, false);
  {
    std::lock_guard<std::mutex> lock(w->mu);
    auto it = w->pending.find(id);
    if (it != w->pending.end()) forget(*w, it);
  }
  if (w->callbacks.empty()) w->setRef(env, false);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void initWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("watchPidfd", Napi::Function::New(env, WatchPidfd));
  exports.Set("pollReadable", Napi::Function::New(env, PollReadable));
  exports.Set("cancelWatch", Napi::Function::New(env, CancelWatch));
}

}  // namespace tsrun
