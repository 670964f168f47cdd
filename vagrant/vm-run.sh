#!/bin/bash
# Run one command as root in tsrun's cgroup-v2 test VM and exit with its exit status.
# No KVM needed: qemu TCG by default here, KVM where /dev/kvm exists and a probe boot works.
#
#   vagrant/vm-run.sh [--] COMMAND [ARG...]   boot, run COMMAND in the checkout, print its output
#   vagrant/vm-run.sh --build                  only build (or find in the cache) kernel, initramfs, image
#   vagrant/vm-run.sh --paths                  print the cached artefacts' paths (after --build)
#
# The checkout (this script's parent directory) is shared over 9p at the same path in the guest,
# which is also the command's working directory (or $PWD, when $PWD is inside the checkout).
# The guest: Debian 12 built by mmdebstrap + provision.sh, Debian's kernel, cgroup v2 only
# (nsdelegate, every controller enabled at the root), podman, containerd, docker; TSRUN_IN_VM=1.
#
# env: TSRUN_VM_CACHE    cache dir (/var/cache/tsrun-vm); artefacts are keyed by a hash of the
#                        scripts that build them, so an edit rebuilds only what it affects
#      TSRUN_VM_RUNTIME  what the engines' wrapper execs: a path, or runc / crun (default: the
#                        checkout's bin/tsrun)
#      TSRUN_VM_ACCEL    auto | tcg | kvm (auto: kvm when a 20 s probe boot succeeds; cached)
#      TSRUN_VM_CPU      qemu -cpu model (TCG: max, KVM: host)
#      TSRUN_VM_MEM (MiB, 4096)  TSRUN_VM_CPUS (host cores, at most 4)  TSRUN_VM_TIMEOUT (s, 3600)
#      TSRUN_VM_KVER     Debian kernel ABI (default: what linux-image-amd64 depends on)
#      TSRUN_VM_SHARES   "HOSTDIR ..." more host directories to share, at the same path
#      TSRUN_VM_ENV      "NAME ..." more variables to pass into the guest (TSRUN_* and CI always are)
#      TSRUN_VM_LIVE=1   share the live checkout, not a copy taken at start (see below)
#      TSRUN_VM_APPEND   more kernel command line ("vmtrace": vm-init traces itself on the console)
#      TSRUN_VM_CONSOLE  copy the guest's console log (kernel messages, vm-init) to this file
#      TSRUN_VM_VERBOSE=1  progress and timings on stderr
#      TSRUN_VM_INIT     vm-init (default: a bash script as PID 1, no systemd) | systemd: systemd
#                        is PID 1 (cgroup v2 as systemd mounts it, the system bus, a minimal unit
#                        set) and runs the command in tsrun-vm-job.service (guest/systemd)
set -euo pipefail
{ # bash reads a script as it runs it; a group is parsed whole, so editing this file mid-run is safe
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
cache=${TSRUN_VM_CACHE:-/var/cache/tsrun-vm}
say() { [ -z "${TSRUN_VM_VERBOSE:-}" ] || echo "vm-run: $*" >&2; }
fail() { echo "vm-run: $*" >&2; exit 125; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

[ "$(id -u)" = 0 ] || fail "run as root (mmdebstrap, 9p shares of root-owned files)"
for t in qemu-system-x86_64 mmdebstrap mkfs.ext4 depmod cpio xz; do
  command -v "$t" >/dev/null || fail "$t is missing: apt-get install qemu-system-x86 mmdebstrap e2fsprogs kmod cpio xz-utils busybox-static"
done

# apt-cache takes most of a second: its answer is kept until apt's lists change
kver=${TSRUN_VM_KVER:-}
if [ -z "$kver" ] && [ -s "$cache/kver" ] && [ "$cache/kver" -nt /var/lib/apt/lists ]; then read -r kver < "$cache/kver"; fi
if [ -z "$kver" ]; then
  kver=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -1)
  [ -z "$kver" ] || { mkdir -p "$cache" && echo "$kver" > "$cache/kver"; }
fi
[ -n "$kver" ] || fail "cannot tell the Debian kernel version (apt-get update, or set TSRUN_VM_KVER)"
node_bin=$(readlink -f "$(command -v node)") || fail "node is not on PATH"

hash_of() { # files... ; plus the extra words on stdin
  { cat - ; for f in "$@"; do echo "== $f"; cat "$here/$f" 2>/dev/null || true; done; } | sha256sum | cut -c1-16
}
# What each artefact depends on. The image also depends on the Node binary it carries.
rootfs_key=$(echo "$kver $(stat -c %s "$node_bin") $("$node_bin" --version) ${TSRUN_VM_MIRROR:-}" |
  hash_of build/rootfs.sh provision.sh guest/tsrun-logged guest/tsrun-vm-engines guest/busybox-image.sh \
    ../scripts/apt-packages.txt)
initrd_key=$(echo "$kver" | hash_of build/initramfs.sh guest/initramfs-init guest/vm-init \
  guest/systemd/tsrun-vm.target guest/systemd/tsrun-vm-job.service guest/systemd/masked)
kdir=$cache/kernel-$kver
vmlinux=$kdir/vmlinux
initrd=$cache/initramfs-$initrd_key.cpio.gz
image=$cache/rootfs-$rootfs_key.img

build() {
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9   # one builder at a time; the others wait and then find the artefacts
  local t0; t0=$(now_ms)
  if [ ! -f "$vmlinux" ] || [ ! -f "$kdir/modules/lib/modules/$kver/modules.dep" ]; then
    say "kernel $kver"
    for d in "$cache"/kernel-*; do [ "$d" = "$kdir" ] || rm -rf "$d"; done
    "$here/build/kernel.sh" "$kdir" "$kver" >&2
  fi
  if [ ! -f "$initrd" ]; then
    say "initramfs"
    rm -f "$cache"/initramfs-*.cpio.gz
    "$here/build/initramfs.sh" "$kdir/modules" "$kver" "$initrd" >&2
  fi
  if [ ! -f "$image" ]; then
    say "root image (mmdebstrap, about a minute)"
    rm -f "$cache"/rootfs-*.img
    TSRUN_VM_DEB_CACHE=${TSRUN_VM_DEB_CACHE-$cache/debs} "$here/build/rootfs.sh" "$kdir/modules" "$kver" "$image" >&2
  fi
  flock -u 9
  say "artefacts ready in $(( $(now_ms) - t0 )) ms"
}

# KVM is used only when a short boot proves it works: on some hosts /dev/kvm opens but a guest
# hangs or qemu aborts (shared/reference/vm.md, addendum). The verdict is cached per host kernel.
pick_accel() {
  local want=${TSRUN_VM_ACCEL:-auto}
  case $want in tcg|kvm) echo "$want"; return ;; auto) ;; *) fail "TSRUN_VM_ACCEL=$want: want auto, tcg or kvm" ;; esac
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo tcg; return; }
  local verdict=$cache/kvm-$(uname -r)-$(qemu-system-x86_64 --version | head -1 | sha256sum | cut -c1-8)
  if [ ! -f "$verdict" ]; then
    local out
    out=$(timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -display none -no-reboot -nodefaults \
      -monitor none -serial stdio -kernel "$vmlinux" -initrd "$initrd" \
      -append "console=ttyS0 quiet panic=-1 vmprobe" </dev/null 2>&1 || true)
    if [[ $out == *VM-PROBE-OK* ]]; then echo kvm > "$verdict"; else echo tcg > "$verdict"; fi
  fi
  cat "$verdict"
}

case ${1:-} in
  --build) build; exit 0 ;;
  --paths) printf 'vmlinux %s\ninitramfs %s\nimage %s\n' "$vmlinux" "$initrd" "$image"; exit 0 ;;
  --) shift ;;
  -*) fail "unknown option $1 (see the head of $0)" ;;
esac
[ $# -gt 0 ] || fail "usage: vm-run.sh [--build | [--] COMMAND [ARG...]]"
t_start=$(now_ms)
build
accel=$(pick_accel)
t_built=$(now_ms)

jd=$(mktemp -d /tmp/tsrun-vm-job.XXXXXX)
trap 'rm -rf "$jd"' EXIT
case ${TSRUN_VM_RUNTIME:-} in
  '') target=$src/bin/tsrun ;;
  runc) target=/usr/sbin/runc ;;
  crun) target=/usr/bin/crun ;;
  *) target=$TSRUN_VM_RUNTIME ;;
esac
cwd=$src
case $PWD/ in "$src"/*) cwd=$PWD ;; esac
mounts="src:$src"
args=()
n=0
for d in ${TSRUN_VM_SHARES:-}; do
  [ -d "$d" ] || fail "TSRUN_VM_SHARES: $d is not a directory"
  n=$((n + 1)); mounts="$mounts share$n:$d"
  args+=(-virtfs "local,path=$d,mount_tag=share$n,security_model=none,id=share$n")
done
# The guest sees the checkout as it was when the run started: a copy of it (without .git,
# node_modules and .cache: 6 MB, 0.1 s) is shared at the checkout's path, so that edits and
# rebuilds on the host during a long run (node-gyp rebuild empties build/) cannot change what
# the guest reads half-way (9p with cache=loose would even show a half-written file).
# node_modules and .cache (the tests' own cache) are shared live over the copy's empty dirs.
# Files the guest writes elsewhere in the checkout land in the copy and are dropped with it.
# TSRUN_VM_LIVE=1 shares the live checkout instead.
share_src=$src
if [ -z "${TSRUN_VM_LIVE:-}" ]; then
  # a rebuild in progress: wait (up to a minute) for the addon to be back
  for i in $(seq 120); do [ ! -d "$src/build" ] || ls "$src"/build/Release/*.node >/dev/null 2>&1 && break; sleep 0.5; done
  share_src=$jd/src
  mkdir -p "$share_src" "$src/.cache"
  tar -C "$src" --exclude=./.git --exclude=./node_modules --exclude=./.cache --warning=no-file-changed -cf - . |
    tar -C "$share_src" -xf - || [ $? = 1 ] || fail "cannot copy the checkout $src"
  for d in node_modules .cache; do
    [ -d "$src/$d" ] || continue
    tag=live${d//[._]/-}; mkdir -p "$share_src/$d"
    mounts="$mounts $tag:$src/$d"
    args+=(-virtfs "local,path=$src/$d,mount_tag=$tag,security_model=none,id=$tag")
  done
fi
{
  printf 'TSRUN_VM_MOUNTS=%q\nTSRUN_VM_TARGET=%q\nTSRUN_VM_CWD=%q\n' "$mounts" "$target" "$cwd"
  for v in $(compgen -e); do
    case $v in TSRUN_VM_MOUNTS|TSRUN_VM_TARGET|TSRUN_VM_CWD) continue ;; TSRUN_*|CI) ;; *)
      [[ " ${TSRUN_VM_ENV:-} " == *" $v "* ]] || continue ;; esac
    printf 'export %s=%q\n' "$v" "${!v}"
  done
} > "$jd/env"
{ printf 'exec'; printf ' %q' "$@"; printf '\n'; } > "$jd/cmd"

cpus=${TSRUN_VM_CPUS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}
if [ "$accel" = kvm ]; then accel_args=(-accel kvm -cpu "${TSRUN_VM_CPU:-host}"); else accel_args=(-accel tcg,thread=multi -cpu "${TSRUN_VM_CPU:-max}"); fi
# Kernel command line: apparmor=0 because dockerd refuses to start when AppArmor is on and
# apparmor_parser is missing; mitigations=off because KPTI is slow under TCG (vm.md, section 1);
# cgroup_no_v1=all so that no controller can be bound to a v1 hierarchy.
append="console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off apparmor=0 cgroup_no_v1=all root=/dev/vda"
case ${TSRUN_VM_INIT:-vm-init} in
  vm-init|none) ;;
  # systemd(1), kernel-command-line(7): the unified hierarchy (Debian 12's default, said anyway),
  # only tsrun-vm.target, no status lines on the console.
  systemd) append="$append vminit=systemd systemd.unit=tsrun-vm.target systemd.unified_cgroup_hierarchy=1 systemd.show_status=false" ;;
  *) fail "TSRUN_VM_INIT=$TSRUN_VM_INIT: want vm-init or systemd" ;;
esac
append="$append ${TSRUN_VM_APPEND:-}"
say "boot ($accel, $cpus cpus, image $(basename "$image"), init ${TSRUN_VM_INIT:-vm-init})"
rc=0
timeout "${TSRUN_VM_TIMEOUT:-3600}" qemu-system-x86_64 "${accel_args[@]}" \
  -m "${TSRUN_VM_MEM:-4096}" -smp "$cpus" -display none -no-reboot -nodefaults -monitor none \
  -serial "file:$jd/console.log" -serial stdio \
  -kernel "$vmlinux" -initrd "$initrd" -append "$append" \
  -drive "file=$image,if=virtio,format=raw,snapshot=on,cache=unsafe" \
  -device virtio-rng-pci \
  -virtfs "local,path=$jd,mount_tag=job,security_model=none,id=job" \
  -virtfs "local,path=$share_src,mount_tag=src,security_model=none,id=src" \
  "${args[@]}" </dev/null || rc=$?
t_end=$(now_ms)
[ -z "${TSRUN_VM_CONSOLE:-}" ] || cp "$jd/console.log" "$TSRUN_VM_CONSOLE"
if [ ! -s "$jd/rc" ]; then
  echo "vm-run: the VM stopped without a result (qemu status $rc); its console:" >&2
  tail -40 "$jd/console.log" >&2 || true
  exit 125
fi
ready=$(grep -ao 'VM-READY uptime=[0-9.]*' "$jd/console.log" | cut -d= -f2 || true)
say "build check $((t_built - t_start)) ms, guest ready at ${ready:-?} s uptime, whole run $((t_end - t_built)) ms"
read -r result < "$jd/rc"
exit "$result"
}
