{
  "targets": [
    {
      "target_name": "tsrun",
      "sources": ["native/addon.cc", "native/spawn.cc", "native/child.cc", "native/sys.cc", "native/bpf.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O2", "-std=c++17", "-fno-stack-protector", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    },
    {
      "target_name": "tsrun-init",
      "type": "executable",
      "sources": ["native/init-main.cc", "native/child.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-O2", "-std=c++17", "-fno-stack-protector", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": ["-static"]
    }
  ]
}
