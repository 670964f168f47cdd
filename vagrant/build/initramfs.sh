#!/bin/bash
# Build the VM's initramfs: static busybox, the modules that reach the root disk and the 9p
# shares (with their dependencies, resolved by depmod rather than by a hand-ordered list), the
# /init in guest/initramfs-init, the PID 1 in guest/vm-init, and guest/systemd's units.
# usage: initramfs.sh MODULES_ROOT KVER OUT.cpio.gz    (MODULES_ROOT from kernel.sh: .../modules)
set -euo pipefail
mroot=${1:?usage: initramfs.sh MODULES_ROOT KVER OUT}
kver=${2:?usage: initramfs.sh MODULES_ROOT KVER OUT}
out=${3:?usage: initramfs.sh MODULES_ROOT KVER OUT}
here=$(cd "$(dirname "$0")/.." && pwd)
busybox=${TSRUN_VM_BUSYBOX:-/bin/busybox}
[[ $(ldd "$busybox" 2>&1 || true) == *"not a dynamic executable"* ]] || {
  echo "initramfs.sh: $busybox is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }

# Load order for /init. crc32c first (see initramfs-init); virtio_pci binds the devices;
# virtio_rng feeds the guest's entropy pool, without which getrandom() blocks Node at start-up.
mods="crc32c_generic virtio_pci virtio_blk virtio_rng ext4 overlay 9pnet_virtio 9p"

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w"/{bin,dev,proc,sys,newroot,etc} "$w/lib/modules/$kver"
cp "$busybox" "$w/bin/busybox"
dep=$mroot/lib/modules/$kver/modules.dep
# Close the set over modules.dep ("path: dep dep ..."), copying each file once.
want=()
for m in $mods; do
  line=$(grep -E "/${m//_/[-_]}\.ko:" "$dep" || true)
  [ -n "$line" ] || { echo "initramfs.sh: module $m not in $dep" >&2; exit 1; }
  want+=(${line%%:*} ${line#*:})
done
for f in $(printf '%s\n' "${want[@]}" | sort -u); do
  install -D -m644 "$mroot/lib/modules/$kver/$f" "$w/lib/modules/$kver/$f"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
  [ -f "$mroot/lib/modules/$kver/$f" ] && cp "$mroot/lib/modules/$kver/$f" "$w/lib/modules/$kver/"
done
depmod -b "$w" "$kver"
echo "$mods" > "$w/etc/vm-modules"
install -m755 "$here/guest/initramfs-init" "$w/init"
install -m755 "$here/guest/vm-init" "$w/vm-init"
# For a TSRUN_VM_INIT=systemd boot: the job's units and the masks (guest/systemd), copied by /init
# into the root's /etc/systemd in one cp, so that tuning them rebuilds only this initramfs.
mkdir -p "$w/systemd/system" "$w/systemd/system-generators"
install -m644 "$here"/guest/systemd/*.service "$here"/guest/systemd/*.target "$w/systemd/system/"
for u in $(grep -v '^#' "$here/guest/systemd/masked"); do
  case $u in */*) ln -s /dev/null "$w/systemd/$u" ;; *) ln -s /dev/null "$w/systemd/system/$u" ;; esac
done
(cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs.sh: $out ($(( $(stat -c %s "$out") >> 10 )) KiB, $(printf '%s\n' "${want[@]}" | sort -u | wc -l) modules)"
