// defaults.ts against the exact bytes `runc spec` (and `runc spec --rootless`) write. The two
// texts below are runc 1.1.5's output captured on this machine (Debian 12, hybrid cgroups, uid 0);
// when a runc binary is on PATH the same comparison also runs against its live output.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSpec, formatSpec, SPEC_VERSION } from '../../src/spec/defaults.js';
import { validateSpec } from '../../src/spec/validate.js';
import { need, needs } from '../helpers/skip.js';

const RUNC_1_1_5_SPEC =
  '{\n\t"ociVersion": "1.0.2-dev",\n\t"process": {\n\t\t"terminal": true,\n\t\t"user": {\n\t\t\t"uid": 0,\n\t\t\t"gid": 0\n\t\t},\n\t\t"args": [\n\t\t\t"sh"\n\t\t],\n\t\t"env": [\n\t\t\t"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",\n\t\t\t"TERM=xterm"\n\t\t],\n\t\t"cwd": "/",\n\t\t"capabilities": {\n\t\t\t"bounding": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t],\n\t\t\t"effective": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t],\n\t\t\t"permitted": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t],\n\t\t\t"ambient": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t]\n\t\t},\n\t\t"rlimits": [\n\t\t\t{\n\t\t\t\t"type": "RLIMIT_NOFILE",\n\t\t\t\t"hard": 1024,\n\t\t\t\t"soft": 1024\n\t\t\t}\n\t\t],\n\t\t"noNewPrivileges": true\n\t},\n\t"root": {\n\t\t"path": "rootfs",\n\t\t"readonly": true\n\t},\n\t"hostname": "runc",\n\t"mounts": [\n\t\t{\n\t\t\t"destination": "/proc",\n\t\t\t"type": "proc",\n\t\t\t"source": "proc"\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev",\n\t\t\t"type": "tmpfs",\n\t\t\t"source": "tmpfs",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"strictatime",\n\t\t\t\t"mode=755",\n\t\t\t\t"size=65536k"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev/pts",\n\t\t\t"type": "devpts",\n\t\t\t"source": "devpts",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"newinstance",\n\t\t\t\t"ptmxmode=0666",\n\t\t\t\t"mode=0620",\n\t\t\t\t"gid=5"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev/shm",\n\t\t\t"type": "tmpfs",\n\t\t\t"source": "shm",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev",\n\t\t\t\t"mode=1777",\n\t\t\t\t"size=65536k"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev/mqueue",\n\t\t\t"type": "mqueue",\n\t\t\t"source": "mqueue",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/sys",\n\t\t\t"type": "sysfs",\n\t\t\t"source": "sysfs",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev",\n\t\t\t\t"ro"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/sys/fs/cgroup",\n\t\t\t"type": "cgroup",\n\t\t\t"source": "cgroup",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev",\n\t\t\t\t"relatime",\n\t\t\t\t"ro"\n\t\t\t]\n\t\t}\n\t],\n\t"linux": {\n\t\t"resources": {\n\t\t\t"devices": [\n\t\t\t\t{\n\t\t\t\t\t"allow": false,\n\t\t\t\t\t"access": "rwm"\n\t\t\t\t}\n\t\t\t]\n\t\t},\n\t\t"namespaces": [\n\t\t\t{\n\t\t\t\t"type": "pid"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "network"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "ipc"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "uts"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "mount"\n\t\t\t}\n\t\t],\n\t\t"maskedPaths": [\n\t\t\t"/proc/acpi",\n\t\t\t"/proc/asound",\n\t\t\t"/proc/kcore",\n\t\t\t"/proc/keys",\n\t\t\t"/proc/latency_stats",\n\t\t\t"/proc/timer_list",\n\t\t\t"/proc/timer_stats",\n\t\t\t"/proc/sched_debug",\n\t\t\t"/sys/firmware",\n\t\t\t"/proc/scsi"\n\t\t],\n\t\t"readonlyPaths": [\n\t\t\t"/proc/bus",\n\t\t\t"/proc/fs",\n\t\t\t"/proc/irq",\n\t\t\t"/proc/sys",\n\t\t\t"/proc/sysrq-trigger"\n\t\t]\n\t}\n}';

const RUNC_1_1_5_SPEC_ROOTLESS =
  '{\n\t"ociVersion": "1.0.2-dev",\n\t"process": {\n\t\t"terminal": true,\n\t\t"user": {\n\t\t\t"uid": 0,\n\t\t\t"gid": 0\n\t\t},\n\t\t"args": [\n\t\t\t"sh"\n\t\t],\n\t\t"env": [\n\t\t\t"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",\n\t\t\t"TERM=xterm"\n\t\t],\n\t\t"cwd": "/",\n\t\t"capabilities": {\n\t\t\t"bounding": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t],\n\t\t\t"effective": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t],\n\t\t\t"permitted": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t],\n\t\t\t"ambient": [\n\t\t\t\t"CAP_AUDIT_WRITE",\n\t\t\t\t"CAP_KILL",\n\t\t\t\t"CAP_NET_BIND_SERVICE"\n\t\t\t]\n\t\t},\n\t\t"rlimits": [\n\t\t\t{\n\t\t\t\t"type": "RLIMIT_NOFILE",\n\t\t\t\t"hard": 1024,\n\t\t\t\t"soft": 1024\n\t\t\t}\n\t\t],\n\t\t"noNewPrivileges": true\n\t},\n\t"root": {\n\t\t"path": "rootfs",\n\t\t"readonly": true\n\t},\n\t"hostname": "runc",\n\t"mounts": [\n\t\t{\n\t\t\t"destination": "/proc",\n\t\t\t"type": "proc",\n\t\t\t"source": "proc"\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev",\n\t\t\t"type": "tmpfs",\n\t\t\t"source": "tmpfs",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"strictatime",\n\t\t\t\t"mode=755",\n\t\t\t\t"size=65536k"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev/pts",\n\t\t\t"type": "devpts",\n\t\t\t"source": "devpts",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"newinstance",\n\t\t\t\t"ptmxmode=0666",\n\t\t\t\t"mode=0620"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev/shm",\n\t\t\t"type": "tmpfs",\n\t\t\t"source": "shm",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev",\n\t\t\t\t"mode=1777",\n\t\t\t\t"size=65536k"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/dev/mqueue",\n\t\t\t"type": "mqueue",\n\t\t\t"source": "mqueue",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/sys",\n\t\t\t"type": "none",\n\t\t\t"source": "/sys",\n\t\t\t"options": [\n\t\t\t\t"rbind",\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev",\n\t\t\t\t"ro"\n\t\t\t]\n\t\t},\n\t\t{\n\t\t\t"destination": "/sys/fs/cgroup",\n\t\t\t"type": "cgroup",\n\t\t\t"source": "cgroup",\n\t\t\t"options": [\n\t\t\t\t"nosuid",\n\t\t\t\t"noexec",\n\t\t\t\t"nodev",\n\t\t\t\t"relatime",\n\t\t\t\t"ro"\n\t\t\t]\n\t\t}\n\t],\n\t"linux": {\n\t\t"uidMappings": [\n\t\t\t{\n\t\t\t\t"containerID": 0,\n\t\t\t\t"hostID": 0,\n\t\t\t\t"size": 1\n\t\t\t}\n\t\t],\n\t\t"gidMappings": [\n\t\t\t{\n\t\t\t\t"containerID": 0,\n\t\t\t\t"hostID": 0,\n\t\t\t\t"size": 1\n\t\t\t}\n\t\t],\n\t\t"namespaces": [\n\t\t\t{\n\t\t\t\t"type": "pid"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "ipc"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "uts"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "mount"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "user"\n\t\t\t}\n\t\t],\n\t\t"maskedPaths": [\n\t\t\t"/proc/acpi",\n\t\t\t"/proc/asound",\n\t\t\t"/proc/kcore",\n\t\t\t"/proc/keys",\n\t\t\t"/proc/latency_stats",\n\t\t\t"/proc/timer_list",\n\t\t\t"/proc/timer_stats",\n\t\t\t"/proc/sched_debug",\n\t\t\t"/sys/firmware",\n\t\t\t"/proc/scsi"\n\t\t],\n\t\t"readonlyPaths": [\n\t\t\t"/proc/bus",\n\t\t\t"/proc/fs",\n\t\t\t"/proc/irq",\n\t\t\t"/proc/sys",\n\t\t\t"/proc/sysrq-trigger"\n\t\t]\n\t}\n}';

/** The documented differences (defaults.ts header): version, hostname, no ambient set, cgroupns. */
function expectedFromRunc(runcText: string, cgroupNs: boolean): string {
  const j = JSON.parse(runcText);
  j.ociVersion = SPEC_VERSION;
  j.hostname = 'tsrun';
  delete j.process.capabilities.ambient;
  const hasCgroupNs = j.linux.namespaces.some((n: { type: string }) => n.type === 'cgroup');
  if (cgroupNs && !hasCgroupNs) {
    // runc inserts it after the base namespaces and before ToRootless appends "user".
    const user = j.linux.namespaces.findIndex((n: { type: string }) => n.type === 'user');
    j.linux.namespaces.splice(user < 0 ? j.linux.namespaces.length : user, 0, { type: 'cgroup' });
  }
  return JSON.stringify(j, null, '\t');
}

test('defaultSpec() matches runc 1.1.5 `runc spec` byte for byte, modulo the documented changes', (t) => {
  t.is(formatSpec(defaultSpec()), expectedFromRunc(RUNC_1_1_5_SPEC, false));
});

test('defaultSpec({ rootless }) matches `runc spec --rootless` (run as uid 0)', (t) => {
  t.is(formatSpec(defaultSpec({ rootless: true, hostUid: 0, hostGid: 0 })), expectedFromRunc(RUNC_1_1_5_SPEC_ROOTLESS, false));
});

test('rootless maps the given host ids and drops network ns, resources and gid= options', (t) => {
  const s = defaultSpec({ rootless: true, hostUid: 1234, hostGid: 99, cgroupNamespace: true });
  t.deepEqual(s.linux!.uidMappings, [{ containerID: 0, hostID: 1234, size: 1 }]);
  t.deepEqual(s.linux!.gidMappings, [{ containerID: 0, hostID: 99, size: 1 }]);
  t.deepEqual(
    s.linux!.namespaces!.map((n) => n.type),
    ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user'],
  );
  t.is(s.linux!.resources, undefined);
  t.false(s.mounts!.some((m) => (m.options ?? []).some((o) => o.startsWith('gid='))));
  t.deepEqual(
    s.mounts!.find((m) => m.destination === '/sys'),
    {
      destination: '/sys',
      type: 'none',
      source: '/sys',
      options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
    },
  );
});

test('each call returns a fresh object', (t) => {
  const a = defaultSpec();
  a.process!.args!.push('x');
  a.mounts!.pop();
  t.deepEqual(defaultSpec().process!.args, ['sh']);
  t.is(defaultSpec().mounts!.length, 7);
});

test('the default specs pass validation', (t) => {
  t.notThrows(() => validateSpec(defaultSpec()));
  t.notThrows(() => validateSpec(defaultSpec({ rootless: true, cgroupNamespace: true })));
});

function runcAvailable(): boolean {
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Without a runc binary these are skipped (the captured 1.1.5 texts above remain the reference).
const liveTest = needs(need(runcAvailable(), 'needs a runc binary to diff against'));
for (const rootless of [false, true]) {
  liveTest(`live diff against the local runc binary (rootless=${rootless})`, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsrun-spec-defaults-'));
    try {
      execFileSync('runc', rootless ? ['spec', '--rootless'] : ['spec'], { cwd: dir, stdio: 'ignore' });
      const runcText = readFileSync(join(dir, 'config.json'), 'utf8');
      const cgroupNs = JSON.parse(runcText).linux.namespaces.some((n: { type: string }) => n.type === 'cgroup');
      const uid = process.geteuid!();
      const gid = process.getegid!();
      t.is(formatSpec(defaultSpec({ rootless, cgroupNamespace: cgroupNs, hostUid: uid, hostGid: gid })), expectedFromRunc(runcText, cgroupNs));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
