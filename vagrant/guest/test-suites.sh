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
rc=0
shopt -s globstar nullglob
for s in "${suites[@]}"; do
  files=($s)
  if [ ${#files[@]} -eq 0 ]; then echo "tsrun-vm: no test files match $s"; continue; fi
  start=$SECONDS
  echo "tsrun-vm: ava $s (${#files[@]} files)"
  node "$ava" --timeout="$timeout" "${files[@]}" || rc=1
  echo "tsrun-vm: $s took $((SECONDS - start)) s"
done
exit $rc
