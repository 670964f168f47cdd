// tsrun as a Kubernetes RuntimeClass (issue 18): containerd's CRI plugin with the runtime handler
// "tsrun" (runc shim v2, BinaryName = the argv-logging wrapper, vagrant/provision.sh), driven over
// its gRPC socket as the kubelet drives it, by a TypeScript client (helpers/cri.ts, cri/cri.proto).
// Pods get their network from CNI (Debian's bridge + host-local + portmap, containerd's loopback)
// and their sandbox from an offline pause image; the workload image is the offline busybox image,
// imported into containerd's k8s.io namespace. The wrapper's argv log shows that tsrun did every
// step, the sandbox ("pause") container's too. The last test measures pod start with tsrun and with
// runc as the handler, as a ratio.
// A containerd of this file's own (helpers/cri.ts, PrivateContainerd): test/vm/engines.test.ts
// starts and stops the shared one.

import test, { type ExecutionContext } from 'ava';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IMAGE_REF, IMAGES, IN_VM, VM, argvLogOffset, runtimeCallsSince, runtimeTarget, verbOf, type RuntimeCall } from './helpers/guest.js';
import {
  CriNode,
  PrivateContainerd,
  type CriClient,
  readCriLog,
  type ContainerConfig,
  type ContainerStatus,
  type Handler,
  type PodSandboxConfig,
} from './helpers/cri.js';
import { file, needs, tool } from '../helpers/skip.js';
import { waitFor, waitForValue } from '../helpers/wait.js';

const PAUSE_TAR = '/var/lib/tsrun-vm/cri/pause.tar';
const CGROUP_ROOT = '/sys/fs/cgroup';
const criTest = needs(
  VM,
  tool('containerd'),
  file('/usr/lib/cni/bridge', 'needs the CNI plugins in /usr/lib/cni (containernetworking-plugins)'),
  file(PAUSE_TAR, `needs the pause image ${PAUSE_TAR} (vagrant/provision.sh)`),
).serial;

const node = new CriNode(new PrivateContainerd('cri-containerd'));
/** The pod cgroups the "kubelet" (this file) made, for the clean-up (node.pods: pods not yet removed). */
const podCgroups = new Set<string>();

// For the pod-start comparison: runc behind a wrapper of the same shape as tsrun-logged (one log
// line per call, then exec), so that both sides pay the wrapper's sh; only this file's containerd
// knows the handler.
const RUNC_WRAPPER = '/run/tsrun-vm/cri-bin/runc-logged';
const RUNC_WRAPPER_SCRIPT = `#!/bin/sh
tab=$(printf '\\t')
line=/usr/sbin/runc
for a in "$@"; do line="$line$tab$a"; done
printf '%s\\n' "$line" >> /run/tsrun-vm/runc-argv.log
exec /usr/sbin/runc "$@"
`;
const RUNC_WRAPPED_HANDLER = `
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc-wrapped]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc-wrapped.options]
  BinaryName = "${RUNC_WRAPPER}"
`;

test.before(async () => {
  if (!IN_VM || !existsSync(PAUSE_TAR)) return;
  mkdirSync(path.dirname(RUNC_WRAPPER), { recursive: true });
  writeFileSync(RUNC_WRAPPER, RUNC_WRAPPER_SCRIPT, { mode: 0o755 });
  // the guest's configuration (the tsrun and runc handlers, CNI, the sandbox image) plus that one
  const config = `${node.containerd.state}.toml`;
  writeFileSync(config, readFileSync('/etc/containerd/config.toml', 'utf8') + RUNC_WRAPPED_HANDLER);
  await node.start(config, [PAUSE_TAR, `${IMAGES}/docker.tar`]);
});

test.after.always(async () => {
  await node.close();
  // what the kubelet would remove: the pod cgroups, then their parents when empty
  for (const cg of [...podCgroups, '/kubepods/burstable', '/kubepods']) {
    try {
      rmdirSync(`${CGROUP_ROOT}${cg}`);
    } catch {
      // not empty (a pod left by a failure shows in the test's own result) or already gone
    }
  }
});

function client(): CriClient {
  return node.client;
}

interface Pod {
  id: string;
  uid: string;
  config: PodSandboxConfig;
  cgroupParent: string;
  logDir: string;
}

const NS_POD_LOCAL_PID = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } as const;

/** RunPodSandbox as the kubelet asks for it: cgroupfs parent, log directory, namespaces. */
async function runPod(name: string, handler: Handler, extra: Partial<PodSandboxConfig> = {}): Promise<Pod> {
  const uid = randomUUID();
  const cgroupParent = `/kubepods/burstable/pod${uid}`;
  const logDir = `/var/log/pods/default_${name}_${uid}`;
  const config: PodSandboxConfig = {
    metadata: { name, uid, namespace: 'default', attempt: 0 },
    hostname: name,
    log_directory: logDir,
    dns_config: { servers: ['10.233.0.1'], searches: [], options: [] },
    labels: { app: name },
    linux: { cgroup_parent: cgroupParent, security_context: { namespace_options: NS_POD_LOCAL_PID } },
    ...extra,
  };
  podCgroups.add(cgroupParent);
  const id = await client().runPodSandbox(config, handler);
  node.pods.add(id);
  return { id, uid, config, cgroupParent, logDir };
}

async function removePod(pod: Pod): Promise<void> {
  await client().stopPodSandbox(pod.id);
  await client().removePodSandbox(pod.id);
  node.pods.delete(pod.id);
}

function containerConfig(pod: Pod, name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image: IMAGE_REF },
    command,
    log_path: `${name}/0.log`,
    labels: { container: name },
    ...extra,
    linux: {
      ...extra.linux,
      security_context: { namespace_options: NS_POD_LOCAL_PID, ...extra.linux?.security_context },
    },
  };
}

async function runContainer(pod: Pod, config: ContainerConfig): Promise<string> {
  const id = await client().createContainer(pod.id, config, pod.config);
  await client().startContainer(id);
  return id;
}

/** The pid a CRI status reports in its verbose info (containerd: info.info is JSON with "pid"). */
function infoPid(info: Record<string, string>, what: string): number {
  const pid = (JSON.parse(info.info ?? '{}') as { pid?: number }).pid;
  if (!pid) throw new Error(`no pid in the verbose status of ${what}: ${JSON.stringify(info).slice(0, 500)}`);
  return pid;
}

/** The cgroup v2 path of a process, from /proc/PID/cgroup ("0::/path"). */
function cgroupOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  if (!line) throw new Error(`no cgroup v2 line in /proc/${pid}/cgroup`);
  return line.slice(3);
}

function cgroupFile(cg: string, name: string): string {
  return readFileSync(`${CGROUP_ROOT}${cg}/${name}`, 'utf8').trim();
}

async function execOut(t: ExecutionContext, id: string, cmd: string[]): Promise<string> {
  const r = await client().execSync(id, cmd);
  t.is(r.exit_code, 0, `exec ${cmd.join(' ')} in ${id.slice(0, 12)}: exit ${r.exit_code}, stderr ${r.stderr.toString()}`);
  return r.stdout.toString();
}

async function statusOf(id: string): Promise<ContainerStatus> {
  return (await client().containerStatus(id)).status;
}

function waitExited(id: string, what: string): Promise<ContainerStatus> {
  return waitForValue(
    async () => {
      const s = await statusOf(id);
      return s.state === 'CONTAINER_EXITED' && s;
    },
    { timeoutMs: 120_000, intervalMs: 200, what: `${what} to exit` },
  );
}

function callsFor(calls: RuntimeCall[], id: string): string[] {
  return calls.filter((c) => c.args.includes(id)).map((c) => verbOf(c.args) ?? '?');
}

function summary(calls: RuntimeCall[]): string {
  return calls.map((c) => c.args.join(' ')).join('\n');
}

criTest('CRI Version; the offline images are in the k8s.io namespace', async (t) => {
  const v = await client().version();
  t.log(`CRI: ${JSON.stringify(v)}`);
  t.is(v.runtime_name, 'containerd');
  t.is(v.runtime_api_version, 'v1');
  const busybox = await client().imageStatus(IMAGE_REF);
  t.truthy(busybox, `${IMAGE_REF} is known to the CRI image service`);
  t.true(busybox!.repo_tags.includes(IMAGE_REF), JSON.stringify(busybox));
  t.truthy(await client().imageStatus('localhost/tsrun-pause:1'), 'the sandbox image is known');
});

criTest(
  'a pod on the tsrun handler: two containers share netns and IPC, pod IP from the bridge, cgroups under the pod, ExecSync timeout, logs, update, stats, stop and remove, all by tsrun',
  async (t) => {
    const offset = argvLogOffset();
    const token = `tsrun-cri-${randomBytes(4).toString('hex')}`;
    const pod = await runPod('web', 'tsrun');
    const sandbox = await client().podSandboxStatus(pod.id);
    t.is(sandbox.status.state, 'SANDBOX_READY');
    t.is(sandbox.status.runtime_handler, 'tsrun');
    const ip = sandbox.status.network?.ip ?? '';
    t.regex(ip, /^10\.233\.0\.\d+$/, `the pod's IP is from the bridge's range: ${JSON.stringify(sandbox.status.network)}`);
    const pausePid = infoPid(sandbox.info, 'the sandbox');
    t.is(cgroupOf(pausePid), `${pod.cgroupParent}/${pod.id}`, "the sandbox container is in the pod's cgroup");

    const server = await runContainer(
      pod,
      containerConfig(
        pod,
        'server',
        [
          'sh',
          '-c',
          'mkdir -p /www && echo "$TOKEN" > /www/index.html && echo "$TOKEN" > /dev/shm/token && echo "to stderr" >&2 && echo "serving $TOKEN" && exec httpd -f -p 8080 -h /www',
        ],
        {
          envs: [{ key: 'TOKEN', value: token }],
          linux: { resources: { cpu_period: 100_000, cpu_quota: 50_000, memory_limit_in_bytes: 64 << 20 } },
        },
      ),
    );
    const clientCtr = await runContainer(pod, containerConfig(pod, 'client', ['sleep', '3600']));
    const serverLog = `${pod.logDir}/server/0.log`;
    await waitFor(() => readCriLog(serverLog).some((l) => l.text === `serving ${token}`), {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `the readiness line in ${serverLog}`,
    });

    // the node reaches the pod at its IP, through the bridge
    const body = await waitForValue(
      async () => {
        try {
          const res = await fetch(`http://${ip}:8080/index.html`, { signal: AbortSignal.timeout(10_000) });
          return res.ok && (await res.text());
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `http://${ip}:8080/ from the node` },
    );
    t.is(body, `${token}\n`, 'the node got the page from the pod IP');

    // shared network namespace: the client reaches the server on localhost; shared IPC: /dev/shm
    t.is(await execOut(t, clientCtr, ['wget', '-qO-', 'http://127.0.0.1:8080/index.html']), `${token}\n`, 'client -> server over localhost');
    t.is(await execOut(t, clientCtr, ['cat', '/dev/shm/token']), `${token}\n`, "the client reads what the server put in the pod's /dev/shm");
    // busybox readlink takes one path: three calls in one exec (each in the exec's namespaces)
    const nsOf = async (id: string) =>
      (await execOut(t, id, ['sh', '-c', 'readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid'])).trim().split('\n');
    const [sNet, sIpc, sPid] = await nsOf(server);
    const [cNet, cIpc, cPid] = await nsOf(clientCtr);
    t.is(sNet, readlinkSync(`/proc/${pausePid}/ns/net`), "the server is in the sandbox's network namespace");
    t.is(cNet, sNet, 'both containers share the network namespace');
    t.is(sIpc, readlinkSync(`/proc/${pausePid}/ns/ipc`), "the server is in the sandbox's IPC namespace");
    t.is(cIpc, sIpc, 'both containers share the IPC namespace');
    t.not(cPid, sPid, 'each container has its own PID namespace (pid: CONTAINER)');

    // LinuxContainerResources land in the container's cgroup, under the pod's
    const serverPid = infoPid((await client().containerStatus(server)).info, 'the server');
    const serverCg = cgroupOf(serverPid);
    t.is(serverCg, `${pod.cgroupParent}/${server}`, "the server's cgroup is under the pod's");
    t.is(cgroupFile(serverCg, 'cpu.max'), '50000 100000');
    t.is(cgroupFile(serverCg, 'memory.max'), String(64 << 20));
    t.is(cgroupOf(infoPid((await client().containerStatus(clientCtr)).info, 'the client')), `${pod.cgroupParent}/${clientCtr}`);

    // ExecSync with a timeout: a busy loop that never ends is cut at 3 s (and the quota throttles it)
    const throttledBefore = Number(/nr_throttled (\d+)/.exec(cgroupFile(serverCg, 'cpu.stat'))?.[1] ?? 0);
    const t0 = Date.now();
    const timedOut = await client()
      .execSync(server, ['sh', '-c', 'while :; do :; done'], 3, 300_000)
      .then((r) => `returned exit ${r.exit_code}`)
      .catch((e: Error) => e.message);
    const took = (Date.now() - t0) / 1000;
    t.log(`ExecSync with timeout 3 s: ${timedOut} after ${took.toFixed(1)} s`);
    t.regex(timedOut, /timeout|deadline/i, 'ExecSync reports the timeout');
    t.true(took >= 3, `not before the timeout (${took} s)`);
    t.true(took < 150, `the timeout cut the command: ${took} s, not the gRPC deadline`);
    const throttledAfter = Number(/nr_throttled (\d+)/.exec(cgroupFile(serverCg, 'cpu.stat'))?.[1] ?? 0);
    t.true(throttledAfter > throttledBefore, `the CPU quota throttled the loop (nr_throttled ${throttledBefore} -> ${throttledAfter})`);
    await waitFor(async () => !(await execOut(t, server, ['ps', '-o', 'args'])).includes('while :'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the timed-out exec to be killed',
    });

    // UpdateContainerResources: through the runtime's update, into the same cgroup
    await client().updateContainerResources(server, { cpu_period: 100_000, cpu_quota: 20_000, memory_limit_in_bytes: 96 << 20 });
    t.is(cgroupFile(serverCg, 'cpu.max'), '20000 100000', 'the new CPU quota');
    t.is(cgroupFile(serverCg, 'memory.max'), String(96 << 20), 'the new memory limit');

    // ContainerStats from the container's cgroup
    const stats = await client().containerStats(server);
    t.is(stats.attributes?.id, server);
    t.true((stats.cpu?.usage_core_nano_seconds?.value ?? 0) > 0, `CPU usage: ${JSON.stringify(stats.cpu)}`);
    t.true((stats.memory?.working_set_bytes?.value ?? 0) > 0, `memory working set: ${JSON.stringify(stats.memory)}`);

    // ReadLogs, as the kubelet does: the CRI log path, both streams, full lines
    const status = await statusOf(server);
    t.is(status.log_path, serverLog);
    const lines = readCriLog(serverLog);
    t.true(
      lines.some((l) => l.stream === 'stdout' && !l.partial && l.text === `serving ${token}`),
      JSON.stringify(lines),
    );
    t.true(
      lines.some((l) => l.stream === 'stderr' && l.text === 'to stderr'),
      JSON.stringify(lines),
    );
    t.false(Number.isNaN(Date.parse(lines[0]!.time)), `an RFC 3339 time: ${lines[0]!.time}`);

    // StopContainer (SIGTERM, then SIGKILL after the grace period), RemoveContainer
    for (const id of [clientCtr, server]) {
      await client().stopContainer(id, 2);
      t.is((await statusOf(id)).state, 'CONTAINER_EXITED');
      await client().removeContainer(id);
    }
    t.deepEqual(await client().listContainers(pod.id), [], 'no container left in the pod');
    t.false(existsSync(`${CGROUP_ROOT}${serverCg}`), "the server's cgroup is gone");
    await removePod(pod);
    await t.throwsAsync(client().podSandboxStatus(pod.id), { message: /not found|does not exist/i }, 'the pod is gone');

    // The wrapper's argv log: tsrun did each step, for the sandbox container too
    const calls = runtimeCallsSince(offset);
    t.log(`runtime calls:\n${summary(calls)}`);
    t.true(
      calls.every((c) => c.target === runtimeTarget()),
      'every call went to the configured runtime',
    );
    const want: [string, string, string[]][] = [
      ['the sandbox', pod.id, ['create', 'start', 'kill', 'delete']],
      ['the server', server, ['create', 'start', 'exec', 'update', 'kill', 'delete']],
      ['the client', clientCtr, ['create', 'start', 'exec', 'kill', 'delete']],
    ];
    for (const [what, id, verbs] of want) {
      const done = callsFor(calls, id);
      for (const verb of verbs) t.true(done.includes(verb), `${what} (${id.slice(0, 12)}): ${verb} by the runtime; calls: ${done.join(' ')}`);
    }
  },
);

criTest('a container that exits is reported with its exit code and reason; an OOM as OOMKilled', async (t) => {
  const offset = argvLogOffset();
  const pod = await runPod('jobs', 'tsrun');
  const quitter = await runContainer(pod, containerConfig(pod, 'quitter', ['sh', '-c', 'echo bye; exit 3']));
  // the shell keeps the whole stream in one variable: past the 32 MiB limit the kernel kills it
  const hog = await runContainer(
    pod,
    containerConfig(pod, 'hog', ['sh', '-c', 'x=$(head -c 400000000 /dev/zero | tr "\\0" x); echo survived ${#x}'], {
      linux: { resources: { memory_limit_in_bytes: 32 << 20, memory_swap_limit_in_bytes: 32 << 20 } },
    }),
  );
  const q = await waitExited(quitter, 'the quitter');
  t.is(q.exit_code, 3, JSON.stringify(q));
  t.is(q.reason, 'Error', 'a non-zero exit is reported as Error');
  // containerd stamps started_at when StartContainer returns, which a quick exit can precede
  t.true(q.started_at > 0 && q.finished_at > 0, JSON.stringify(q));
  t.true(
    readCriLog(`${pod.logDir}/quitter/0.log`).some((l) => l.text === 'bye'),
    'its output is in its log',
  );
  const h = await waitExited(hog, 'the memory hog');
  t.log(`hog: exit ${h.exit_code}, reason ${h.reason}, log ${JSON.stringify(readCriLog(`${pod.logDir}/hog/0.log`))}`);
  t.is(h.reason, 'OOMKilled', JSON.stringify(h));
  t.is(h.exit_code, 137, 'killed by SIGKILL');
  for (const id of [quitter, hog]) await client().removeContainer(id);
  await removePod(pod);
  const calls = runtimeCallsSince(offset);
  for (const id of [pod.id, quitter, hog]) t.true(callsFor(calls, id).includes('create'), `${id.slice(0, 12)} was created by the runtime:\n${summary(calls)}`);
});

criTest("seccomp RuntimeDefault (the kubelet's SeccompDefault): containerd's default profile is applied by tsrun", async (t) => {
  const pod = await runPod('seccomp', 'tsrun');
  const id = await runContainer(
    pod,
    containerConfig(pod, 'app', ['sleep', '3600'], {
      linux: { security_context: { seccomp: { profile_type: 'RuntimeDefault' }, no_new_privs: true } },
    }),
  );
  const { info } = await client().containerStatus(id);
  const spec = (JSON.parse(info.info ?? '{}') as { runtimeSpec?: { linux?: { seccomp?: { defaultAction?: string; syscalls?: unknown[] } } } }).runtimeSpec;
  t.is(spec?.linux?.seccomp?.defaultAction, 'SCMP_ACT_ERRNO', "containerd put its default profile in the container's spec");
  const status = await execOut(t, id, ['cat', '/proc/self/status']);
  t.regex(status, /^Seccomp:\s+2$/m, 'the exec runs under a seccomp filter (mode 2)');
  t.regex(status, /^NoNewPrivs:\s+1$/m, 'no_new_privs is set');
  // the profile allows unshare(2) only with CAP_SYS_ADMIN: a user namespace, which the kernel grants
  // to anyone, is refused under it and granted in a container of the same pod with Unconfined
  const loose = await runContainer(
    pod,
    containerConfig(pod, 'loose', ['sleep', '3600'], { linux: { security_context: { seccomp: { profile_type: 'Unconfined' } } } }),
  );
  const denied = await client().execSync(id, ['unshare', '-U', 'true']);
  t.not(denied.exit_code, 0, `unshare -U is refused under RuntimeDefault: ${denied.stderr.toString()}`);
  const allowed = await client().execSync(loose, ['unshare', '-U', 'true']);
  t.is(allowed.exit_code, 0, `unshare -U works under Unconfined: ${allowed.stderr.toString()}`);
  t.regex(await execOut(t, loose, ['cat', '/proc/self/status']), /^Seccomp:\s+0$/m, 'no filter under Unconfined');
  await removePod(pod);
});

criTest('a hostPort through CNI portmap: the node reaches the pod at the bridge address and the host port', async (t) => {
  const token = `tsrun-hostport-${randomBytes(4).toString('hex')}`;
  const hostPort = 30080;
  const pod = await runPod('hostport', 'tsrun', { port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: hostPort }] });
  await runContainer(
    pod,
    containerConfig(pod, 'web', ['sh', '-c', 'mkdir -p /www && echo "$TOKEN" > /www/index.html && exec httpd -f -p 8080 -h /www'], {
      envs: [{ key: 'TOKEN', value: token }],
    }),
  );
  // portmap DNATs locally sent traffic to a local address and the host port (its OUTPUT rule)
  const url = `http://10.233.0.1:${hostPort}/index.html`;
  const body = await waitForValue(
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        return res.ok && (await res.text());
      } catch {
        return false;
      }
    },
    { timeoutMs: 60_000, intervalMs: 200, what: url },
  );
  t.is(body, `${token}\n`);
  await removePod(pod);
  // the mapping goes with the pod
  const after = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => `status ${r.status}`,
    (e: Error) => `error ${e.message}`,
  );
  t.regex(after, /^error/, `nothing answers on the host port once the pod is gone: ${after}`);
});

criTest('pod start (RunPodSandbox + create + start until the readiness line): tsrun vs runc as the handler', async (t) => {
  // interleaved, so that a change of the VM's load hits every handler alike
  const order: Handler[] = ['tsrun', 'runc-wrapped', 'runc', 'runc', 'runc-wrapped', 'tsrun'];
  const times: Record<Handler, number[]> = { tsrun: [], runc: [], 'runc-wrapped': [] };
  for (const [i, handler] of order.entries()) {
    const offset = argvLogOffset();
    const t0 = performance.now();
    const pod = await runPod(`start-${handler}-${i}`, handler);
    const ctr = await runContainer(pod, containerConfig(pod, 'app', ['sh', '-c', 'echo ready; exec sleep 3600']));
    const log = `${pod.logDir}/app/0.log`;
    await waitFor(() => readCriLog(log).some((l) => l.text === 'ready'), { timeoutMs: 120_000, intervalMs: 20, what: `the readiness line in ${log}` });
    times[handler].push(performance.now() - t0);
    await removePod(pod);
    const byWrapper = runtimeCallsSince(offset).filter((c) => c.args.includes(pod.id) || c.args.includes(ctr));
    if (handler === 'tsrun') t.true(byWrapper.length > 0, 'the tsrun handler went through the wrapper');
    else t.is(byWrapper.length, 0, `the ${handler} handler did not call tsrun's wrapper: ${summary(byWrapper)}`);
    if (handler === 'runc-wrapped') {
      t.true(readFileSync('/run/tsrun-vm/runc-argv.log', 'utf8').includes(pod.id), "the runc-wrapped handler went through runc's wrapper");
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ms = (h: Handler) => times[h].map((x) => x.toFixed(0)).join(', ');
  const vsWrapped = mean(times.tsrun) / mean(times['runc-wrapped']);
  const vsRunc = mean(times.tsrun) / mean(times.runc);
  t.log(
    `pod start, ms: tsrun (wrapper) ${ms('tsrun')}; runc (same wrapper) ${ms('runc-wrapped')}; runc (direct) ${ms('runc')}; ` +
      `ratio tsrun/runc ${vsWrapped.toFixed(2)} (both behind a wrapper), ${vsRunc.toFixed(2)} (runc direct)`,
  );
  t.true(Number.isFinite(vsWrapped) && Number.isFinite(vsRunc));
});
