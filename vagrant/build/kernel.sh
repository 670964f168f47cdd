#!/bin/bash
# Fetch Debian's kernel package and turn it into what qemu boots fastest under TCG.
# usage: kernel.sh OUTDIR KVER
#   OUTDIR/vmlinux                 ELF image, booted directly through PVH (CONFIG_PVH=y in Debian)
#   OUTDIR/modules/lib/modules/KVER the package's modules, with modules.dep from depmod
# Why an ELF vmlinux and not /boot/vmlinuz: the bzImage carries an xz payload that the guest
# decompresses itself, which costs 3-4 s per boot under TCG (shared/reference/vm.md, section 1).
# No postinst runs: `apt-get download` + `dpkg-deb -x` only, so no initramfs-tools, no /boot writes.
set -euo pipefail
out=${1:?usage: kernel.sh OUTDIR KVER}
kver=${2:?usage: kernel.sh OUTDIR KVER}
mkdir -p "$out"
cd "$out"

deb=$(ls linux-image-"$kver"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  # as root into a root-owned dir: without the sandbox user apt warns that _apt cannot write here
  apt-get download -q -o APT::Sandbox::User=root "linux-image-$kver" >/dev/null
  deb=$(ls linux-image-"$kver"_*.deb | head -1)
fi
rm -rf modules.tmp && mkdir modules.tmp
dpkg-deb -x "$deb" modules.tmp
bz=modules.tmp/boot/vmlinuz-$kver
[ -f "$bz" ] || { echo "kernel.sh: $deb has no boot/vmlinuz-$kver" >&2; exit 1; }

# The decompressor stub is followed by an xz stream holding the ELF kernel. Try every xz magic
# (FD 37 7A 58 5A 00) until one decompresses to an ELF file; --single-stream makes xz stop at the
# end of the first stream and ignore the bytes that follow it (the stub's trailer).
found=
for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" | cut -d: -f1); do
  # (tail dies of SIGPIPE when xz stops early; only xz's status and the ELF magic matter)
  if xz -dc --single-stream < <(tail -c +"$((off + 1))" "$bz") > vmlinux.tmp 2>/dev/null &&
     [ "$(head -c4 vmlinux.tmp | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
    found=1; break
  fi
done
[ -n "$found" ] || { echo "kernel.sh: no xz-compressed ELF inside $bz" >&2; exit 1; }
mv vmlinux.tmp vmlinux

# Modules: only lib/modules is kept; depmod gives modprobe (busybox's and kmod's) its dependency map.
rm -rf modules && mkdir -p modules/lib
mv modules.tmp/lib/modules modules/lib/modules
rm -rf modules.tmp
depmod -b "$PWD/modules" "$kver"
echo "kernel.sh: $kver -> $out/vmlinux ($(( $(stat -c %s vmlinux) >> 20 )) MB), modules $(du -sm modules | cut -f1) MB"
