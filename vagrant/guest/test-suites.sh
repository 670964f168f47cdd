#!/bin/bash
# Runs in the VM (vagrant/run-tests.mjs boots it with this command), in the shared checkout:
# the VM suite (test/vm) and the project's root integration suite (test/integration), with the
# checkout's own ava. Exit status: 0 when every suite that has test files passed.
# usage: test-suites.sh [FILE|GLOB ...]   (default: both suites)
set -u
[ "${TSRUN_IN_VM:-}" = 1 ] || { echo "test-suites.sh: runs inside the VM only (vagrant/vm-run.sh)" >&2; exit 2; }
ava=node_modules/ava/entrypoints/cli.mjs
[ -f "$ava" ] || { echo "test-suites.sh: $PWD/$ava is missing (npm install on the host)" >&2; exit 2; }
# TCG runs JavaScript about 14 times slower than the host (shared/reference/vm.md): ava's
# inactivity timeout is raised accordingly.
timeout=${TSRUN_VM_AVA_TIMEOUT:-10m}
if [ $# -gt 0 ]; then suites=("$@"); else suites=('test/vm/**/*.test.ts' 'test/integration/**/*.test.ts'); fi
echo "tsrun-vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "tsrun-vm: engines' runtime: $(cat /run/tsrun-vm/target 2>/dev/null || cat /etc/tsrun-vm/target)"
# One ava process for every file: ava's own start-up costs 10-20 s under TCG, so it is paid once.
shopt -s globstar nullglob
files=()
for s in "${suites[@]}"; do
  matched=($s)
  echo "tsrun-vm: $s: ${#matched[@]} test files"
  files+=("${matched[@]}")
done
[ ${#files[@]} -gt 0 ] || { echo "tsrun-vm: no test files"; exit 1; }
start=$SECONDS
# ava's output is kept, so that whatever failed (a test, a hook, a test file that exited) is
# repeated at the end: a CI log is often only its tail.
log=$(mktemp /tmp/tsrun-vm-ava.XXXXXX)
node "$ava" --timeout="$timeout" "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo "tsrun-vm: ava took $((SECONDS - start)) s (status $rc)"
if [ "$rc" != 0 ]; then
  echo "tsrun-vm: what failed (lines marked ✘ above):"
  grep -E '✘|exited (due to|with a non-zero)|Timed out|Uncaught exception|Unhandled rejection|remained pending' "$log" | sed 's/^/  /'
  # A test file that died (the OOM killer, a crash) shows in the kernel's log, not in ava's.
  echo "tsrun-vm: kernel log on kills and crashes:"
  dmesg 2>/dev/null | grep -E -i 'out of memory|oom-kill|killed process|segfault|general protection|traps:' | tail -20 | sed 's/^/  /'
fi
rm -f "$log"
exit $rc
