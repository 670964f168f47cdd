// What the VM tests share: detecting the guest, running commands, and reading the argv log of
// the engines' runtime wrapper (vagrant/guest/tsrun-logged, installed by vagrant/provision.sh).
// The VM is booted by vagrant/vm-run.sh, whose PID 1 (vagrant/guest/vm-init) sets TSRUN_IN_VM=1.

import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { need, type Need } from '../../helpers/skip.js';

/** True inside tsrun's test VM (a pure cgroup v2 system with the engines installed). */
export const IN_VM = process.env.TSRUN_IN_VM === '1';

/** What every VM test needs (helpers/skip.ts): outside the VM it is skipped, saying so in its title. */
export const VM: Need = need(IN_VM, 'runs only in the tsrun VM (TSRUN_IN_VM=1), use npm run test:vm');

/** The wrapper every engine is configured with, and where it logs. */
export const WRAPPER = '/usr/local/bin/tsrun-logged';
export const ARGV_LOG = '/run/tsrun-vm/argv.log';
/** The offline busybox image built by vagrant/guest/busybox-image.sh at provisioning time. */
export const IMAGES = '/var/lib/tsrun-vm/images';
export const IMAGE_REF = 'localhost/busybox:latest';

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion without throwing on a non-zero status (env: the whole environment). */
export function sh(cmd: string, args: string[], timeoutMs = 300_000, env?: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20, env }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        reject(new Error(`${cmd}: ${err.message}`)); // could not start it at all (ENOENT, ...)
        return;
      }
      const e = err as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (e.code ?? null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** Like sh, but a non-zero status is an error that shows the command's output. */
export async function mustSh(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await sh(cmd, args, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.code}, signal ${r.signal}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** The runtime the wrapper execs this boot (vm-init writes it from the host's TSRUN_VM_RUNTIME). */
export function runtimeTarget(): string {
  for (const f of ['/run/tsrun-vm/target', '/etc/tsrun-vm/target']) {
    try {
      const t = readFileSync(f, 'utf8').trim();
      if (t) return t;
    } catch {
      // next
    }
  }
  throw new Error(`no runtime target in /run/tsrun-vm/target or /etc/tsrun-vm/target (see ${WRAPPER})`);
}

/** Current size of the argv log: calls logged after this offset belong to what runs next. */
export function argvLogOffset(): number {
  try {
    return statSync(ARGV_LOG).size;
  } catch {
    return 0;
  }
}

export interface RuntimeCall {
  /** The runtime the wrapper exec'd. */
  target: string;
  /** The engine's argv to the runtime, without argv[0]. */
  args: string[];
}

/** Calls logged since `offset`; one line per call, fields separated by tabs. */
export function runtimeCallsSince(offset: number): RuntimeCall[] {
  let text: string;
  try {
    text = readFileSync(ARGV_LOG).subarray(offset).toString('utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [target, ...args] = line.split('\t');
      return { target: target!, args };
    });
}

// runc's global options that take a value (runc --help); everything else before the verb is a flag.
const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);

/** The verb of a runtime call: the first argument that is neither a global option nor its value. */
export function verbOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) return a;
    if (GLOBAL_WITH_VALUE.has(a)) i++;
  }
  return undefined;
}

/** The value of a global option such as --root, in either `--root X` or `--root=X` form. */
export function optionOf(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === name) return args[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
