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
# buildah, docker-compose: image builds and Compose on tsrun (test/vm/build.test.ts,
# test/vm/compose.test.ts); containernetworking-plugins also serves containerd's CRI plugin.
PACKAGES="ca-certificates kmod procps psmisc iproute2 util-linux e2fsprogs strace jq busybox-static \
libseccomp2 runc crun conmon podman catatonit containernetworking-plugins uidmap \
containerd docker.io tini iptables umoci skopeo xz-utils gcc libc6-dev systemd dbus \
buildah docker-compose"

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

# Docker (dockerd(8), daemon.json "runtimes"): the same wrapper, under the name tsrun, and the
# default runtime too, so that what dockerd runs without --runtime (the classic builder's RUN
# steps, Compose's services) runs on tsrun. No default bridge and no iptables on the node: the
# tests run with --network none or on a user network (Compose), and the VM has no network.
mkdir -p /etc/docker
cat > /etc/docker/daemon.json <<EOF
{
  "runtimes": { "tsrun": { "path": "/usr/local/bin/tsrun-logged" } },
  "default-runtime": "tsrun",
  "exec-opts": ["native.cgroupdriver=$docker_cg"],
  "bridge": "none",
  "iptables": false,
  "ip6tables": false
}
EOF

# containerd: ctr picks the runtime binary per container (ctr run --runc-binary, which becomes the
# runc shim's BinaryName option). For CRI clients (the kubelet; test/vm/cri.test.ts), the CRI
# plugin has a runtime handler "tsrun" (a Kubernetes RuntimeClass with handler: tsrun) whose runc
# shim v2 calls the wrapper, next to the stock "runc" handler for comparison. Pods get their network
# from CNI: Debian's plugins in /usr/lib/cni, a bridge network of the plugin's own in
# /etc/tsrun-vm/cri-net.d (not /etc/cni/net.d, which is Podman's). The sandbox ("pause") image is
# built here (below): the VM has no registry to pull registry.k8s.io/pause from.
# Two configurations: cgroupfs where vm-init is PID 1 (the qemu image's default boot), and
# SystemdCgroup = true where systemd is (the Vagrant box; config-systemd.toml in the qemu image).
mkdir -p /etc/containerd /etc/tsrun-vm/cri-net.d
containerd_config() { # SystemdCgroup value
  cat <<EOF
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/tsrun-pause:1"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsrun]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsrun.options]
  BinaryName = "/usr/local/bin/tsrun-logged"
  SystemdCgroup = $1
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "/usr/sbin/runc"
  SystemdCgroup = $1
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "/etc/tsrun-vm/cri-net.d"
EOF
}
containerd_config false > /etc/containerd/config-cgroupfs.toml
containerd_config true > /etc/containerd/config-systemd.toml
if [ "$init" = systemd ]; then cp /etc/containerd/config-systemd.toml /etc/containerd/config.toml
else cp /etc/containerd/config-cgroupfs.toml /etc/containerd/config.toml; fi
# bridge + host-local + portmap (containerd adds loopback itself). 10.233.0.0/24: no other network
# of the project or of the engines' defaults uses it.
cat > /etc/tsrun-vm/cri-net.d/10-tsrun-cri.conflist <<'EOF'
{
  "cniVersion": "1.0.0",
  "name": "tsrun-cri",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "tsrun-cri0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.233.0.0/24" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

# The pod sandbox image: one static program that holds the pod's namespaces as PID 1, reaps what
# is orphaned to it and exits on SIGINT/SIGTERM; localhost/tsrun-pause:1 as an OCI layout and a
# docker-archive (ctr -n k8s.io image import) in /var/lib/tsrun-vm/cri.
pause_image() {
  local out=/var/lib/tsrun-vm/cri w
  w=$(mktemp -d)
  cat > "$w/pause.c" <<'EOF'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  sigaction(SIGINT, &q, 0);
  sigaction(SIGTERM, &q, 0);
  sigaction(SIGCHLD, &r, 0);
  for (;;) pause();
}
EOF
  gcc -static -Os -s -o "$w/pause" "$w/pause.c"
  rm -rf "$out"; mkdir -p "$out"
  umoci init --layout "$out/oci"
  umoci new --image "$out/oci:1"
  umoci unpack --rootless=false --image "$out/oci:1" "$w/bundle" >/dev/null
  install -m755 "$w/pause" "$w/bundle/rootfs/pause"
  umoci repack --image "$out/oci:1" "$w/bundle" >/dev/null
  umoci config --image "$out/oci:1" --author tsrun-vm --config.entrypoint /pause --config.user 65535:65535
  umoci gc --layout "$out/oci"
  skopeo copy -q "oci:$out/oci:1" "docker-archive:$out/pause.tar:localhost/tsrun-pause:1"
  rm -rf "$w"
}
pause_image

# The offline test image (no registry in the VM)
"$here/guest/busybox-image.sh" /var/lib/tsrun-vm/images >/dev/null

if [ "$init" = systemd ] && [ -d /run/systemd/system ]; then
  systemctl restart containerd docker || true
  if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then
    echo "provision.sh: /sys/fs/cgroup is not cgroup v2; boot with systemd.unified_cgroup_hierarchy=1" >&2
  fi
fi
echo "provision.sh: done"
