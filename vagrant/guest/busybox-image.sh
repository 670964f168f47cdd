#!/bin/bash
# Build the engines' test image offline, from Debian's busybox-static: no registry anywhere.
# usage: busybox-image.sh OUTDIR        (needs umoci, skopeo, /bin/busybox from busybox-static)
#   OUTDIR/oci/           OCI image layout, tag "latest"   (podman pull oci:OUTDIR/oci:latest)
#   OUTDIR/oci.tar        the same layout as a tar         (ctr image import --base-name ...)
#   OUTDIR/docker.tar     docker-archive, localhost/busybox:latest (docker/podman load, ctr import)
# Every applet gets a link: engines exec argv[0] directly, without a shell to find "dd" in busybox.
set -euo pipefail
out=${1:?usage: busybox-image.sh OUTDIR}
ref=localhost/busybox:latest
bb=/bin/busybox
[[ $(ldd "$bb" 2>&1 || true) == *"not a dynamic executable"* ]] ||
  { echo "busybox-image.sh: $bb is not static (busybox-static)" >&2; exit 1; }
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
rm -rf "$out"; mkdir -p "$out"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:latest"
umoci unpack --rootless=false --image "$out/oci:latest" "$w/bundle" >/dev/null
r=$w/bundle/rootfs
mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev,root,var/tmp}
chmod 1777 "$r/tmp" "$r/var/tmp"
install -m755 "$bb" "$r/bin/busybox"
for a in $("$bb" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
umoci repack --image "$out/oci:latest" "$w/bundle" >/dev/null
umoci config --image "$out/oci:latest" --author tsrun-vm \
  --config.cmd /bin/sh --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir /
umoci gc --layout "$out/oci"
tar -C "$out/oci" -cf "$out/oci.tar" .
skopeo copy -q "oci:$out/oci:latest" "docker-archive:$out/docker.tar:$ref"
echo "busybox-image.sh: $ref in $out ($(du -sh "$out" | cut -f1))"
