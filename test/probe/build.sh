#!/bin/sh
# Builds the static probe: test/probe/build.sh OUTDIR  ->  OUTDIR/probe
# Static (glibc from libc6-dev) so it runs in a rootfs with no libraries.
# The binary is written under a temporary name and renamed, so concurrent
# builds into the same OUTDIR never expose a half-written file.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
tmp="$out/.probe.$$.tmp"
trap 'rm -f "$tmp"' EXIT
${CC:-gcc} -static -Os -s -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	-o "$tmp" "$src"/*.c
mv -f "$tmp" "$out/probe"
trap - EXIT
