#!/bin/sh
# A build step (binding.gyp, target tsrun-symbols): fails when the addon references a tsrun::
# symbol that no .cc defines. Node loads addons with lazy binding, so such a symbol would not stop
# the load; the first call that needs it would end the process with "symbol lookup error".
# usage: check-symbols.sh ADDON STAMP
set -eu
undefined=$(nm -C --undefined-only "$1" | grep ' tsrun::' || true)
if [ -n "$undefined" ]; then
  echo "$undefined" >&2
  echo "$1: undefined tsrun:: symbols (declare shared functions once, in native/addon.h)" >&2
  exit 1
fi
touch "$2"
