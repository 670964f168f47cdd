#!/bin/bash
# Provision a Debian 12 (bookworm) system for tsrun's VM tests: one package list and one engine
# configuration for both ways of getting such a system:
#   - build/rootfs.sh runs it inside the mmdebstrap chroot of the qemu image (no systemd there:
#     vm-init is PID 1);
#   - the Vagrantfile runs it on a Debian 12 box (systemd, cgroup v2 unified by default).
# usage: provision.sh            provision this system (root)
#        provision.sh --packages print the package list (build/rootfs.sh hands it to mmdebstrap)
# env:   TSRUN_VM_CHECKOUT  where the checkout is in the guest (default /src); the engines' wrapper
#                           execs $TSRUN_VM_CHECKOUT/bin/tsrun unless told otherwise at boot
#        TSRUN_VM_NODE_URL  on a system without Node >= 20: a linux-x64 .tar.xz to install in /usr/local
#        TSRUN_VM_INIT      systemd | none: which init the provisioned system boots with (default:
#                           systemd if it runs now; build/rootfs.sh says none)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# kmod..iproute2: what the kernel tests and vm-init use. busybox-static: the test images.
# runc, crun: reference runtimes (the wrapper can point at them). The engines: podman + conmon,
# containerd (ctr), docker.io. umoci + skopeo: the offline busybox image. gcc + libc6-dev: the
# static probe of the test rootfs (test/probe/build.sh), when the host did not build it already.
# systemd + dbus: not started by default (vm-init is PID 1); TSRUN_VM_INIT=systemd at boot
# (vm-run.sh) makes systemd PID 1 for the systemd cgroup driver's tests (test/vm/systemd).
PACKAGES="ca-certificates kmod procps psmisc iproute2 util-linux e2fsprogs strace jq busybox-static \
libseccomp2 runc crun conmon podman catatonit containernetworking-plugins uidmap \
containerd docker.io tini iptables umoci skopeo xz-utils gcc libc6-dev systemd dbus"

# Plus what the project's own tests need on a host (scripts/apt-packages.txt: docker-registry,
# dbus-daemon, zstd, ...), so that its integration suite runs in the guest as on the host; not the
# VM kit's host tools. build/rootfs.sh copies the list next to this script.
for list in "$here/project-apt-packages.txt" "$here/../scripts/apt-packages.txt"; do
  [ -f "$list" ] || continue
  for p in $(grep -v '^#' "$list"); do
    case " $PACKAGES qemu-system-x86 mmdebstrap " in *" $p "*) ;; *) PACKAGES="$PACKAGES $p" ;; esac
  done
  break
done

if [ "${1:-}" = --packages ]; then echo $PACKAGES; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "provision.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

missing=
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian puts runc in /usr/sbin; tests and users expect it on the usual PATH too
[ -e /usr/bin/runc ] || ln -s /usr/sbin/runc /usr/bin/runc

# Node: the qemu image gets the host's own node binary (build/rootfs.sh); a Vagrant box downloads one.
if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null; then
  url=${TSRUN_VM_NODE_URL:-https://nodejs.org/dist/v20.20.2/node-v20.20.2-linux-x64.tar.xz}
  command -v curl >/dev/null || apt-get install -y -qq --no-install-recommends curl >/dev/null
  curl -fsSL "$url" | tar -xJ -C /usr/local --strip-components=1 --exclude=CHANGELOG.md --exclude=README.md --exclude=LICENSE
fi

# The runtime wrapper every engine is configured with; it execs the checkout's bin/tsrun.
install -m755 "$here/guest/tsrun-logged" /usr/local/bin/tsrun-logged
install -m755 "$here/guest/tsrun-vm-engines" /usr/local/sbin/tsrun-vm-engines
mkdir -p /etc/tsrun-vm
echo "${TSRUN_VM_CHECKOUT:-/src}/bin/tsrun" > /etc/tsrun-vm/target

# Cgroup manager: cgroupfs without systemd (the qemu VM), systemd's where systemd is PID 1.
init=${TSRUN_VM_INIT:-$([ -d /run/systemd/system ] && echo systemd || echo none)}
if [ "$init" = systemd ]; then podman_cg=systemd; docker_cg=systemd; else podman_cg=cgroupfs; docker_cg=cgroupfs; fi

# Podman (containers.conf(5)): tsrun is the default runtime, known by name and path.
mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<EOF
[engine]
runtime = "tsrun"
cgroup_manager = "$podman_cg"
events_logger = "file"
[engine.runtimes]
tsrun = ["/usr/local/bin/tsrun-logged"]
EOF

# Docker (dockerd(8), daemon.json "runtimes"): the same wrapper, under the name tsrun. No bridge
# and no iptables: the tests run with --network none and the VM has no network.
mkdir -p /etc/docker
cat > /etc/docker/daemon.json <<EOF
{
  "runtimes": { "tsrun": { "path": "/usr/local/bin/tsrun-logged" } },
  "exec-opts": ["native.cgroupdriver=$docker_cg"],
  "bridge": "none",
  "iptables": false,
  "ip6tables": false
}
EOF

# containerd: ctr picks the runtime binary per container (ctr run --runc-binary, which becomes the
# runc shim's BinaryName option); for CRI clients, a runtime class "tsrun" with that BinaryName.
mkdir -p /etc/containerd
cat > /etc/containerd/config.toml <<'EOF'
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsrun]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsrun.options]
  BinaryName = "/usr/local/bin/tsrun-logged"
EOF

# The offline test image (no registry in the VM)
"$here/guest/busybox-image.sh" /var/lib/tsrun-vm/images >/dev/null

if [ "$init" = systemd ] && [ -d /run/systemd/system ]; then
  systemctl restart containerd docker || true
  if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then
    echo "provision.sh: /sys/fs/cgroup is not cgroup v2; boot with systemd.unified_cgroup_hierarchy=1" >&2
  fi
fi
echo "provision.sh: done"
