#!/bin/sh
# One-time machine set-up: the Debian packages tsrun's build, tests and benchmark use.
# Idempotent; installs only what is missing. The list is scripts/apt-packages.txt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
missing=
for p in $(grep -v '^#' "$here/apt-packages.txt"); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install:$missing" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing </dev/null
fi
