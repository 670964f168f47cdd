// A dockerd of a test file's own: its own socket, data root and exec root (and so its own managed
// containerd), with the guest's /etc/docker/daemon.json (vagrant/provision.sh: tsrun, through the
// argv-logging wrapper, is the default runtime). test/vm/engines.test.ts starts and stops the
// shared daemons (vagrant/guest/tsrun-vm-engines) whenever its file runs, which may be while other
// files run: a private daemon is neither stopped under a test nor left running after it.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { sh, type Result } from './guest.js';
import { waitFor } from '../../helpers/wait.js';

export class PrivateDockerd {
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly host: string;
  readonly logFile: string;
  private proc: ChildProcess | undefined;

  constructor(readonly name: string) {
    this.dataRoot = `/var/lib/tsrun-vm/${name}`;
    this.execRoot = `/run/tsrun-vm/${name}`;
    this.host = `unix://${this.execRoot}/docker.sock`;
    this.logFile = `/run/tsrun-vm/${name}.log`;
  }

  /** The environment for docker and docker-compose to talk to this daemon. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: this.host };
  }

  /** env: the daemon's environment (default: the test's). */
  async start(env: NodeJS.ProcessEnv = process.env): Promise<void> {
    mkdirSync(this.execRoot, { recursive: true });
    mkdirSync(this.dataRoot, { recursive: true });
    const log = openSync(this.logFile, 'a');
    try {
      this.proc = spawn(
        'dockerd',
        ['--data-root', this.dataRoot, '--exec-root', this.execRoot, '--host', this.host, '--pidfile', `${this.execRoot}/dockerd.pid`],
        { stdio: ['ignore', log, log], env },
      );
    } finally {
      closeSync(log);
    }
    const proc = this.proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(async () => exited || (await this.docker(['version'], 60_000)).code === 0, {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: () => `dockerd on ${this.host} (log ${this.logFile}:\n${this.logTail()})`,
    });
    if (exited) throw new Error(`dockerd exited at start:\n${this.logTail()}`);
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  docker(args: string[], timeoutMs?: number, env: NodeJS.ProcessEnv = {}): Promise<Result> {
    return sh('docker', args, timeoutMs, { ...this.env, ...env });
  }

  async mustDocker(args: string[], timeoutMs?: number, env: NodeJS.ProcessEnv = {}): Promise<string> {
    const r = await this.docker(args, timeoutMs, env);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (status ${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    await gone;
    clearTimeout(timer);
  }
}
