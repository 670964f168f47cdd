// A CRI client for the VM tests: the kubelet's side of the Container Runtime Interface (runtime.v1,
// gRPC over a unix socket), enough to drive containerd's CRI plugin as a Kubernetes node does. The
// messages are in test/vm/cri/cri.proto (written from the CRI API's field definitions); proto-loader
// keeps their snake_case field names, gives int64 as numbers and enums as their names.
// Also: a private containerd (its own socket, root and state) with the guest's CRI configuration
// (vagrant/provision.sh), so that the CRI tests neither depend on nor disturb the daemons that
// test/vm/engines.test.ts starts and stops.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { sh } from './guest.js';
import { waitFor } from '../../helpers/wait.js';

const PROTO = path.join(path.dirname(fileURLToPath(import.meta.url)), '../cri/cri.proto');

/**
 * The guest's CRI runtime handlers (vagrant/provision.sh, /etc/containerd/config.toml), and
 * runc-wrapped, which test/vm/cri.test.ts adds to its own containerd's configuration.
 */
export type Handler = 'tsrun' | 'runc' | 'runc-wrapped';

export interface NamespaceOption {
  network?: 'POD' | 'CONTAINER' | 'NODE';
  pid?: 'POD' | 'CONTAINER' | 'NODE';
  ipc?: 'POD' | 'CONTAINER' | 'NODE';
}

export interface LinuxContainerResources {
  cpu_period?: number;
  cpu_quota?: number;
  cpu_shares?: number;
  memory_limit_in_bytes?: number;
  oom_score_adj?: number;
  cpuset_cpus?: string;
  cpuset_mems?: string;
  memory_swap_limit_in_bytes?: number;
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  log_directory?: string;
  dns_config?: { servers?: string[]; searches?: string[]; options?: string[] };
  port_mappings?: { protocol?: 'TCP' | 'UDP' | 'SCTP'; container_port: number; host_port: number; host_ip?: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; security_context?: { namespace_options?: NamespaceOption } };
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: { key: string; value: string }[];
  labels?: Record<string, string>;
  log_path?: string;
  linux?: {
    resources?: LinuxContainerResources;
    security_context?: {
      namespace_options?: NamespaceOption;
      run_as_user?: { value: number };
      no_new_privs?: boolean;
      seccomp?: { profile_type: 'RuntimeDefault' | 'Unconfined' | 'Localhost'; localhost_ref?: string };
    };
  };
}

export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number } | null;
  state: ContainerState;
  created_at: number;
  started_at: number;
  finished_at: number;
  exit_code: number;
  reason: string;
  message: string;
  log_path: string;
  image: { image: string } | null;
  resources: { linux: Required<LinuxContainerResources> | null } | null;
}

export interface PodSandboxStatus {
  id: string;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  network: { ip: string } | null;
  runtime_handler: string;
}

export interface ContainerStats {
  attributes: { id: string } | null;
  cpu: { timestamp: number; usage_core_nano_seconds: { value: number } | null } | null;
  memory: { timestamp: number; working_set_bytes: { value: number } | null } | null;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exit_code: number;
}

type Unary = (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => unknown;

/** The RuntimeService and ImageService of one CRI endpoint. */
export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly images: grpc.Client;

  constructor(socket: string) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } };
    };
    const address = `unix://${socket}`;
    this.runtime = new pkg.runtime.v1.RuntimeService(address, grpc.credentials.createInsecure());
    this.images = new pkg.runtime.v1.ImageService(address, grpc.credentials.createInsecure());
  }

  close(): void {
    this.runtime.close();
    this.images.close();
  }

  /** One unary call; deadlineMs bounds it (the CRI server may take long under TCG). */
  call<T>(method: string, req: object, deadlineMs = 300_000, service: 'runtime' | 'images' = 'runtime'): Promise<T> {
    const client = service === 'runtime' ? this.runtime : this.images;
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (typeof fn !== 'function') return Promise.reject(new Error(`cri.proto declares no ${method}`));
    return new Promise((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err) reject(new Error(`CRI ${method}: ${err.details || err.message} (gRPC status ${err.code})`, { cause: err }));
        else resolve(res as T);
      });
    });
  }

  version(): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call('Version', { version: 'v1' });
  }

  async runPodSandbox(config: PodSandboxConfig, handler: Handler): Promise<string> {
    const r = await this.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config, runtime_handler: handler });
    return r.pod_sandbox_id;
  }

  async podSandboxStatus(id: string): Promise<{ status: PodSandboxStatus; info: Record<string, string> }> {
    return this.call('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call('StopPodSandbox', { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  async createContainer(podId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const r = await this.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: sandboxConfig });
    return r.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('StartContainer', { container_id: id });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.call('StopContainer', { container_id: id, timeout: timeoutSeconds });
  }

  async removeContainer(id: string): Promise<void> {
    await this.call('RemoveContainer', { container_id: id });
  }

  async listContainers(podId: string): Promise<{ id: string; state: ContainerState }[]> {
    const r = await this.call<{ containers: { id: string; state: ContainerState }[] }>('ListContainers', { filter: { pod_sandbox_id: podId } });
    return r.containers;
  }

  async containerStatus(id: string): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
    return this.call('ContainerStatus', { container_id: id, verbose: true });
  }

  async updateContainerResources(id: string, linux: LinuxContainerResources): Promise<void> {
    await this.call('UpdateContainerResources', { container_id: id, linux });
  }

  /** ExecSync; timeoutSeconds 0 = none. The gRPC deadline is set well past it. */
  execSync(id: string, cmd: string[], timeoutSeconds = 0, deadlineMs = 300_000): Promise<ExecSyncResult> {
    return this.call('ExecSync', { container_id: id, cmd, timeout: timeoutSeconds }, deadlineMs);
  }

  async containerStats(id: string): Promise<ContainerStats> {
    const r = await this.call<{ stats: ContainerStats }>('ContainerStats', { container_id: id });
    return r.stats;
  }

  async imageStatus(image: string): Promise<{ id: string; repo_tags: string[]; size: number } | null> {
    const r = await this.call<{ image: { id: string; repo_tags: string[]; size: number } | null }>('ImageStatus', { image: { image } }, 60_000, 'images');
    return r.image;
  }
}

/** One line of a CRI container log (the kubelet's format: "<RFC 3339 time> <stream> <P|F> <text>"). */
export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}

/** Parses a CRI log file; a line that is not in the format is an error (the format is the contract). */
export function parseCriLog(text: string): CriLogLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(line);
      if (!m) throw new Error(`not a CRI log line: ${JSON.stringify(line)}`);
      return { time: m[1]!, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', text: m[4]! };
    });
}

/** The log file's lines so far, [] while it does not exist. */
export function readCriLog(file: string): CriLogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return parseCriLog(text);
}

/** A containerd of the test's own, with the guest's configuration (and so its CRI plugin). */
export class PrivateContainerd {
  readonly socket: string;
  readonly root: string;
  readonly state: string;
  readonly logFile: string;
  private proc: ChildProcess | undefined;

  constructor(readonly name: string) {
    this.state = `/run/tsrun-vm/${name}`;
    this.root = `/var/lib/tsrun-vm/${name}`;
    this.socket = `${this.state}/containerd.sock`;
    this.logFile = `/run/tsrun-vm/${name}.log`;
  }

  async start(config = '/etc/containerd/config.toml'): Promise<void> {
    mkdirSync(this.state, { recursive: true });
    mkdirSync(this.root, { recursive: true });
    const log = openSync(this.logFile, 'a');
    try {
      this.proc = spawn('containerd', ['--config', config, '--address', this.socket, '--root', this.root, '--state', this.state], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    const proc = this.proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(async () => exited || (await sh('ctr', ['--address', this.socket, 'version'], 60_000)).code === 0, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: () => `containerd on ${this.socket} (log ${this.logFile}:\n${this.logTail()})`,
    });
    if (exited) throw new Error(`containerd exited at start:\n${this.logTail()}`);
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** ctr against this containerd. */
  ctr(args: string[], timeoutMs?: number) {
    return sh('ctr', ['--address', this.socket, ...args], timeoutMs);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(timer);
  }
}

/**
 * A kubelet's node for one test file: starts the private containerd with `config`, imports the
 * images the pods use into containerd's k8s.io namespace (no registry in the VM) and connects a
 * CRI client; `close` stops and removes the pods it was told of, then stops containerd.
 */
export class CriNode {
  readonly pods = new Set<string>();
  private cri: CriClient | undefined;

  constructor(readonly containerd: PrivateContainerd) {}

  async start(config: string, imageTars: readonly string[]): Promise<CriClient> {
    await this.containerd.start(config);
    for (const tar of imageTars) {
      const r = await this.containerd.ctr(['-n', 'k8s.io', 'image', 'import', tar], 300_000);
      if (r.code !== 0) throw new Error(`ctr -n k8s.io image import ${tar}: ${r.stderr}${r.stdout}`);
    }
    this.cri = new CriClient(this.containerd.socket);
    return this.cri;
  }

  /** The client; throws when the before hook did not start the node. */
  get client(): CriClient {
    if (!this.cri) throw new Error('no CRI client: the before hook failed');
    return this.cri;
  }

  async close(): Promise<void> {
    for (const id of this.pods) {
      await this.cri?.stopPodSandbox(id).catch(() => undefined);
      await this.cri?.removePodSandbox(id).catch(() => undefined);
    }
    this.cri?.close();
    await this.containerd.stop();
  }
}
