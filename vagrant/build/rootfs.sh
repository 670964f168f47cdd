#!/bin/bash
# Build the VM's root disk: Debian bookworm from mmdebstrap, provisioned by ../provision.sh (the
# script the Vagrantfile runs too), plus the host's Node and the kernel's modules, packed as a
# sparse ext4 image with mkfs.ext4 -d (no loop mount, no root-owned temp mounts left behind).
# usage: rootfs.sh MODULES_ROOT KVER OUT.img
# env:   TSRUN_VM_MIRROR (default http://deb.debian.org), TSRUN_VM_DEB_CACHE (keep .debs there)
set -euo pipefail
mroot=${1:?usage: rootfs.sh MODULES_ROOT KVER OUT.img}
kver=${2:?usage: rootfs.sh MODULES_ROOT KVER OUT.img}
out=${3:?usage: rootfs.sh MODULES_ROOT KVER OUT.img}
here=$(cd "$(dirname "$0")/.." && pwd)
mirror=${TSRUN_VM_MIRROR:-http://deb.debian.org}

# The guest runs the project's tests with the host's Node: same binary, same glibc (both bookworm),
# so the addon built on the host loads in the guest unchanged. npm comes along when it sits in
# the usual place next to it (<prefix>/lib/node_modules/npm).
node=$(readlink -f "$(command -v node)")
prefix=$(dirname "$(dirname "$node")")
npm_dir=$prefix/lib/node_modules/npm

r=$(mktemp -d "$(dirname "$out")/rootfs.XXXXXX")
lists=$(mktemp -d)
trap 'rm -rf "$r" "$lists"' EXIT
# provision.sh adds the project's test packages (scripts/apt-packages.txt); it finds them next to it
project_apt=$lists/project-apt-packages.txt
cp "$here/../scripts/apt-packages.txt" "$project_apt" 2>/dev/null || : > "$project_apt"
# The customize hooks run in this order: Node first (provision.sh installs one only when missing),
# then provision.sh inside the chroot, then the clean-up of apt's caches.
hooks=(
  --customize-hook="install -D -m755 '$node' \"\$1/usr/local/bin/node\""
  --customize-hook="mkdir -p \"\$1/tmp/tsrun-vm-provision\""
  --customize-hook="copy-in '$here/provision.sh' '$here/guest' /tmp/tsrun-vm-provision"
  --customize-hook="copy-in '$project_apt' /tmp/tsrun-vm-provision"
  --customize-hook='chroot "$1" env TSRUN_VM_INIT=none bash /tmp/tsrun-vm-provision/provision.sh'
  --customize-hook='rm -rf "$1/tmp/tsrun-vm-provision" "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin'
)
# Downloaded .debs are kept between builds in $TSRUN_VM_DEB_CACHE (vm-run.sh: <cache>/debs), so a
# rebuild after an edit of provision.sh downloads only what changed (mmdebstrap(1), "sync-in").
deb_opts=()
if [ -n "${TSRUN_VM_DEB_CACHE:-}" ]; then
  mkdir -p "$TSRUN_VM_DEB_CACHE"
  deb_opts=(--skip=download/empty
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives'
    --setup-hook="sync-in '$TSRUN_VM_DEB_CACHE' /var/cache/apt/archives")
  hooks+=(--customize-hook="sync-out /var/cache/apt/archives '$TSRUN_VM_DEB_CACHE'"
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb')
fi
if [ -d "$npm_dir" ]; then
  hooks=(--customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\" && cp -a '$npm_dir' \"\$1/usr/local/lib/node_modules/npm\" && ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" "${hooks[@]}")
fi
mmdebstrap --variant=minbase --mode=root --quiet \
  --include="$("$here/provision.sh" --packages | tr ' ' ,)" \
  --aptopt='Acquire::Retries "3"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  "${deb_opts[@]}" "${hooks[@]}" \
  bookworm "$r" \
  "deb $mirror/debian bookworm main" \
  "deb $mirror/debian bookworm-updates main" \
  "deb $mirror/debian-security bookworm-security main"

# Modules for modprobe in the guest (veth, bridge, nf_tables ...): the package's tree without the
# hardware a qemu guest never has.
k=$mroot/lib/modules/$kver/kernel
mkdir -p "$r/lib/modules"
tar -C "$mroot/lib/modules" -cf - \
  --exclude="$kver/kernel/drivers/gpu" --exclude="$kver/kernel/drivers/media" \
  --exclude="$kver/kernel/drivers/net/wireless" --exclude="$kver/kernel/drivers/net/ethernet" \
  --exclude="$kver/kernel/drivers/infiniband" --exclude="$kver/kernel/drivers/staging" \
  --exclude="$kver/kernel/drivers/usb" --exclude="$kver/kernel/drivers/bluetooth" \
  --exclude="$kver/kernel/drivers/iio" --exclude="$kver/kernel/sound" \
  --exclude="$kver/kernel/net/wireless" --exclude="$kver/kernel/net/mac80211" \
  --exclude="$kver/kernel/net/bluetooth" "$kver" | tar -C "$r/lib/modules" -xf -
[ -d "$k" ] && depmod -b "$r" "$kver"
echo tsrun-vm > "$r/etc/hostname"
printf '127.0.0.1 localhost tsrun-vm\n::1 localhost\n' > "$r/etc/hosts"

# Sparse image: what is used, plus 3 GiB for the engines' storage and the tests. The disk is
# attached with snapshot=on, so a run never changes it.
used=$(du -sm "$r" | cut -f1)
rm -f "$out.tmp"
mkfs.ext4 -q -F -L tsrun-vm -O ^has_journal -E root_owner=0:0 -d "$r" "$out.tmp" "$(( used * 11 / 10 + 3072 ))M"
mv "$out.tmp" "$out"
echo "rootfs.sh: $out (${used} MB used)"
