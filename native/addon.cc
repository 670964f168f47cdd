// The addon's entry: spawn (the one real primitive) and the small syscall wrappers.
#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, tsrun::Spawn));
  exports.Set("spawnHelper", Napi::Function::New(env, tsrun::SpawnHelper));
  tsrun::initSys(env, exports);
  tsrun::initWatch(env, exports);
  tsrun::initBpf(env, exports);
  return exports;
}

NODE_API_MODULE(tsrun, Init)
