// Declarations shared by the addon's translation units (addon.cc, spawn.cc, sys.cc, watch.cc, bpf.cc).
// Every function one .cc defines and another calls is declared here and only here: a local
// re-declaration whose signature drifted from the definition once left an undefined symbol in
// the addon (tsrun::errnoError with 3 arguments), and Node's lazy binding turned the first
// failing spawn into "symbol lookup error" instead of an exception. So, three guards: these
// declarations are hidden (a hidden symbol that no .cc defines fails the link: "hidden symbol
// isn't defined"); the addon links with -z now (anything left unresolved fails the load, not the
// first call that needs it), and binding.gyp's tsrun-symbols step, like
// test/unit/native-symbols.test.ts, fails when nm lists an undefined tsrun:: symbol.
// The plan interpreter's entry (runPlan) is in plan.h: the static tsrun-init shares it and has
// no N-API.
#pragma once
#include <napi.h>
#include <signal.h>

#pragma GCC visibility push(hidden)
namespace tsrun {

// An Error shaped like Node's own: message "ENOENT: No such file or directory, open '/x'",
// {code: 'ENOENT', errno: -2, syscall, path?}.
Napi::Error errnoError(Napi::Env env, int err, const char* syscall, const char* path = nullptr);

// {pid, exitCode, signal} from waitid's siginfo (sys.cc; waitPid and watchPidfd report it).
Napi::Object exitInfo(Napi::Env env, const siginfo_t& si);

// spawn.cc: spawn(plan) and spawnHelper(path, planBytes, fdMap, syncFd, planFd, cgroupFd).
Napi::Value Spawn(const Napi::CallbackInfo& info);
Napi::Value SpawnHelper(const Napi::CallbackInfo& info);

// sys.cc, watch.cc and bpf.cc add their functions to the addon's exports.
void initSys(Napi::Env env, Napi::Object exports);
void initWatch(Napi::Env env, Napi::Object exports);
void initBpf(Napi::Env env, Napi::Object exports);

}  // namespace tsrun
#pragma GCC visibility pop
