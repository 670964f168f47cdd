// The CRI path with the systemd cgroup driver (issue 18): in the TSRUN_VM_INIT=systemd boot, a
// containerd of the test's own with the guest's second CRI configuration
// (/etc/containerd/config-systemd.toml, vagrant/provision.sh: the tsrun handler with
// SystemdCgroup = true), and a pod as a kubelet with cgroupDriver: systemd asks for it: the
// cgroup parent is a slice ("kubepods-burstable-pod<uid>.slice"), so the runc shim hands tsrun
// `--systemd-cgroup` and a "slice:cri-containerd:<id>" cgroups path. The sandbox and the container
// must be scopes in that slice, with the container's LinuxContainerResources in its scope.

import test from 'ava';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { IMAGE_REF, IMAGES, IN_VM, VM, argvLogOffset, runtimeCallsSince, verbOf } from '../helpers/guest.js';
import { CriNode, PrivateContainerd, readCriLog, type PodSandboxConfig } from '../helpers/cri.js';
import { file, need, needs } from '../../helpers/skip.js';
import { waitFor } from '../../helpers/wait.js';

const CONFIG = '/etc/containerd/config-systemd.toml';
const PAUSE_TAR = '/var/lib/tsrun-vm/cri/pause.tar';
// systemd(1): /run/systemd/system exists iff systemd is the running init (sd_booted(3)).
const SYSTEMD_PID1 = IN_VM && existsSync('/run/systemd/system') && readlinkSync('/proc/1/exe').endsWith('/systemd');
const sdTest = needs(
  VM,
  need(SYSTEMD_PID1, 'PID 1 is not systemd (boot the VM with TSRUN_VM_INIT=systemd)'),
  file(CONFIG, `needs ${CONFIG} (vagrant/provision.sh)`),
  file(PAUSE_TAR, `needs the pause image ${PAUSE_TAR} (vagrant/provision.sh)`),
).serial;

const node = new CriNode(new PrivateContainerd('cri-systemd-containerd'));

test.before(async () => {
  if (!SYSTEMD_PID1 || !existsSync(CONFIG) || !existsSync(PAUSE_TAR)) return;
  await node.start(CONFIG, [PAUSE_TAR, `${IMAGES}/docker.tar`]);
});

test.after.always(() => node.close());

function cgroupOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))!
    .slice(3);
}

function infoPid(info: Record<string, string>): number {
  const pid = (JSON.parse(info.info ?? '{}') as { pid?: number }).pid;
  if (!pid) throw new Error(`no pid in the verbose status: ${JSON.stringify(info).slice(0, 300)}`);
  return pid;
}

sdTest('a tsrun pod with SystemdCgroup = true: sandbox and container are scopes in the pod slice, resources in the scope', async (t) => {
  const client = node.client;
  const uid = randomUUID();
  // the kubelet's systemd driver: dashes in the uid become underscores, the slice nests by dashes
  const slice = `kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice`;
  const sliceDir = `/kubepods.slice/kubepods-burstable.slice/${slice}`;
  const ns = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } as const;
  const config: PodSandboxConfig = {
    metadata: { name: 'sd', uid, namespace: 'default', attempt: 0 },
    hostname: 'sd',
    log_directory: `/var/log/pods/default_sd_${uid}`,
    dns_config: { servers: ['10.233.0.1'] },
    linux: { cgroup_parent: slice, security_context: { namespace_options: ns } },
  };
  const offset = argvLogOffset();
  const podId = await client.runPodSandbox(config, 'tsrun');
  node.pods.add(podId);
  const sandboxPid = infoPid((await client.podSandboxStatus(podId)).info);
  t.is(cgroupOf(sandboxPid), `${sliceDir}/cri-containerd-${podId}.scope`, 'the sandbox is a scope in the pod slice');

  const id = await client.createContainer(
    podId,
    {
      metadata: { name: 'app' },
      image: { image: IMAGE_REF },
      command: ['sh', '-c', 'echo ready; exec sleep 3600'],
      log_path: 'app/0.log',
      linux: {
        resources: { cpu_period: 100_000, cpu_quota: 30_000, memory_limit_in_bytes: 48 << 20 },
        security_context: { namespace_options: ns },
      },
    },
    config,
  );
  await client.startContainer(id);
  await waitFor(() => readCriLog(`${config.log_directory}/app/0.log`).some((l) => l.text === 'ready'), {
    timeoutMs: 120_000,
    intervalMs: 100,
    what: 'the readiness line',
  });
  const scope = `${sliceDir}/cri-containerd-${id}.scope`;
  t.is(cgroupOf(infoPid((await client.containerStatus(id)).info)), scope, 'the container is a scope in the pod slice');
  t.is(readFileSync(`/sys/fs/cgroup${scope}/memory.max`, 'utf8').trim(), String(48 << 20));
  t.is(readFileSync(`/sys/fs/cgroup${scope}/cpu.max`, 'utf8').trim(), '30000 100000');

  await client.stopContainer(id, 2);
  await client.removeContainer(id);
  await client.stopPodSandbox(podId);
  await client.removePodSandbox(podId);
  node.pods.delete(podId);
  t.false(existsSync(`/sys/fs/cgroup${scope}`), 'the scope is gone');

  const creates = runtimeCallsSince(offset).filter((c) => verbOf(c.args) === 'create' && [podId, id].includes(c.args.at(-1)!));
  t.is(creates.length, 2, 'tsrun created the sandbox and the container');
  for (const c of creates) t.true(c.args.includes('--systemd-cgroup'), `the shim asked for the systemd driver: ${c.args.join(' ')}`);
});
