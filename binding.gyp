{
  "targets": [
    {
      "target_name": "tsrun",
      "sources": ["native/addon.cc", "native/spawn.cc", "native/child.cc", "native/sys.cc", "native/watch.cc", "native/bpf.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-fvisibility=hidden"],
      "cflags_cc": ["-O2", "-std=c++17", "-fno-stack-protector", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": ["-Wl,-z,now"]
    },
    {
      "target_name": "tsrun-symbols",
      "type": "none",
      "dependencies": ["tsrun"],
      "actions": [
        {
          "action_name": "check_undefined_symbols",
          "inputs": ["<(PRODUCT_DIR)/tsrun.node"],
          "outputs": ["<(INTERMEDIATE_DIR)/tsrun-symbols.stamp"],
          "action": ["sh", "native/check-symbols.sh", "<@(_inputs)", "<@(_outputs)"]
        }
      ]
    },
    {
      "target_name": "tsrun-init",
      "type": "executable",
      "sources": ["native/init-main.cc", "native/child.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-O2", "-std=c++17", "-fno-stack-protector", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": ["-static"]
    },
    {
      "target_name": "tsrun-monitor",
      "type": "executable",
      "sources": ["native/monitor.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-O2", "-std=c++17", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": ["-static"]
    },
    {
      "target_name": "tsrun-fast",
      "type": "executable",
      "sources": ["native/fast.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-O2", "-std=c++17", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": ["-static"]
    },
    {
      "target_name": "tsrun-proxy",
      "type": "executable",
      "sources": ["native/proxy.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-O2", "-std=c++17", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": ["-static"]
    }
  ]
}
