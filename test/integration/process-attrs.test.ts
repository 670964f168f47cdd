// The rest of the spec (runtime-spec config.md "scheduler", "ioPriority", "execCPUAffinity";
// config-linux.md "personality", "memoryPolicy", "netDevices", "intelRdt", SELinux/AppArmor
// fields), each seen from inside a real container, or refused with the error runc gives on a host
// that lacks the feature. Idmapped mounts: idmap-mounts.test.ts.
import type { ExecutionContext } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle } from '../helpers/bundle.js';
import { installSecurityTool, NR, scResults } from '../helpers/sc-tool.js';
import { arch, need, needs, ROOT, tool } from '../helpers/skip.js';

const rootTest = needs(ROOT);
// NR (helpers/sc-tool.ts) holds x86_64 syscall numbers; PER_LINUX32 shows as i686 on x86_64 only.
const x64Test = rootTest.and(arch('x64'));

async function run(t: ExecutionContext, mutate: (s: Spec) => void, args: string[]) {
  const b = await makeBundle(t, (s, { rootfs }) => {
    installSecurityTool(rootfs);
    s.process!.args = args;
    mutate(s);
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  return { ...r, b };
}

/** /proc/self/stat fields of the process reading it (1-based, as proc(5) numbers them). */
function statField(stat: string, n: number): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[n - 3]);
}

rootTest('scheduler: SCHED_BATCH with nice 7 (proc(5) stat policy and nice)', async (t) => {
  const r = await run(t, (s) => (s.process!.scheduler = { policy: 'SCHED_BATCH', nice: 7 }), ['cat', '/proc/self/stat']);
  t.is(r.code, 0, r.stderr);
  t.is(statField(r.stdout, 41), 3, 'policy SCHED_BATCH (3)');
  t.is(statField(r.stdout, 19), 7, 'nice 7');
});

x64Test('ioPriority: IOPRIO_CLASS_BE level 6 (ioprio_get)', async (t) => {
  const r = await run(t, (s) => (s.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 }), ['/sc', String(NR.ioprio_get), '1', '0']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(scResults(r.stdout)[0], [(2 << 13) | 6, 0]);
});

x64Test('personality LINUX32: uname -m says i686', async (t) => {
  const r = await run(t, (s) => (s.linux!.personality = { domain: 'LINUX32' }), ['uname', '-m']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'i686');
  const plain = await run(t, () => {}, ['uname', '-m']);
  t.is(plain.stdout.trim(), 'x86_64', 'without it, the native machine');
});

const cpus = os.availableParallelism?.() ?? os.cpus().length;
rootTest.and(need(cpus >= 2, `needs 2 CPUs (this host has ${cpus})`))(
  'execCPUAffinity: initial alone stays; final replaces it before execve (Cpus_allowed_list)',
  async (t) => {
    const initial = await run(t, (s) => (s.process!.execCPUAffinity = { initial: '1' }), ['grep', 'Cpus_allowed_list', '/proc/self/status']);
    t.is(initial.code, 0, initial.stderr);
    t.regex(initial.stdout, /Cpus_allowed_list:\s+1$/m);
    const both = await run(t, (s) => (s.process!.execCPUAffinity = { initial: '1', final: '0' }), ['grep', 'Cpus_allowed_list', '/proc/self/status']);
    t.is(both.code, 0, both.stderr);
    t.regex(both.stdout, /Cpus_allowed_list:\s+0$/m);
  },
);

rootTest('memoryPolicy: MPOL_BIND to node 0 (get_mempolicy)', async (t) => {
  const r = await run(t, (s) => (s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' }), ['/sc', 'mempolicy']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), '2 1', 'mode MPOL_BIND (2), nodemask {0}');
  const plain = await run(t, () => {}, ['/sc', 'mempolicy']);
  t.is(plain.stdout.trim().split(' ')[0], '0', 'without it, MPOL_DEFAULT');
});

x64Test("exec applies the container's personality and memoryPolicy too (runc setns init)", async (t) => {
  const b = await makeBundle(t, (s, { rootfs }) => {
    installSecurityTool(rootfs);
    s.linux!.personality = { domain: 'LINUX32' };
    s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' };
    s.process!.args = ['sleep', '600'];
  });
  const r = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  const uname = await b.tsrun(['exec', b.id, 'uname', '-m']);
  t.is(uname.code, 0, uname.stderr);
  t.is(uname.stdout.trim(), 'i686', "the exec'd process runs with PER_LINUX32");
  const mpol = await b.tsrun(['exec', b.id, '/sc', 'mempolicy']);
  t.is(mpol.code, 0, mpol.stderr);
  t.is(mpol.stdout.trim(), '2 1', "the exec'd process is bound to node 0");
});

rootTest.and(tool('ip', 'iproute2'))('netDevices: a host veth end is moved into the container and renamed', async (t) => {
  const tag = randomBytes(3).toString('hex');
  const host = `tsv${tag}`;
  const peer = `tsp${tag}`;
  execFileSync('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  t.teardown(() => {
    spawnSync('ip', ['link', 'del', peer], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', host], { stdio: 'ignore' });
  });
  const r = await run(t, (s) => (s.linux!.netDevices = { [host]: { name: 'eth7' } }), ['sh', '-c', 'cat /sys/class/net/eth7/type; ls /sys/class/net']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split(/\s+/);
  t.is(lines[0], '1', 'eth7 exists inside (ARPHRD_ETHER)');
  t.true(lines.includes('eth7'));
  t.false(lines.includes(host), 'under its new name only');
  t.false(fs.existsSync(`/sys/class/net/${host}`), 'it left the host');
});

const resctrl = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - resctrl ');
const selinux = fs.existsSync('/sys/fs/selinux/enforce');
let apparmor = false;
try {
  apparmor = fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
} catch {
  /* not built in */
}

rootTest.and(need(!resctrl, 'resctrl is mounted here, so the intelRdt error cannot be shown'))(
  'intelRdt without resctrl fails with runc’s error',
  async (t) => {
    const r = await run(t, (s) => (s.linux!.intelRdt = { closID: 'tsrun-test' }), ['true']);
    t.not(r.code, 0);
    t.regex(r.stderr, /intelRdt is specified in config, but Intel RDT is not supported or enabled/);
  },
);

rootTest.and(need(!selinux, 'SELinux is on here, so the selinuxLabel error cannot be shown'))(
  'selinuxLabel without SELinux fails with runc’s error and leaves nothing behind',
  async (t) => {
    const r = await run(t, (s) => (s.process!.selinuxLabel = 'system_u:system_r:container_t:s0'), ['true']);
    t.not(r.code, 0);
    t.regex(r.stderr, /selinux label is specified in config, but selinux is disabled or not supported/);
    t.false(fs.existsSync(path.join(r.b.root, r.b.id)), 'nothing left behind');
  },
);

rootTest.and(need(!apparmor, 'AppArmor is on here, so the "ignored" case cannot be shown'))('apparmorProfile is ignored with AppArmor off', async (t) => {
  const r = await run(t, (s) => (s.process!.apparmorProfile = 'docker-default'), ['echo', 'ran']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'ran');
});
