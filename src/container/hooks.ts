// Hooks run by the runtime in its own namespaces (runtime-spec config.md "POSIX-platform Hooks"):
// prestart and createRuntime during create, poststart after start, poststop after delete. Each
// gets the container state on stdin, its own `env` only, and is killed after `timeout` seconds.
// createContainer and startContainer run inside the container's namespaces: the plan interpreter
// runs those (OP_RUN_HOOK).
import { spawn, type ChildProcess } from 'node:child_process';
import { HookError } from '../errors.js';
import type { Hook, HookName, Spec } from '../spec/types.js';

export interface HookState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export function hookState(spec: Spec, id: string, bundle: string, status: HookState['status'], pid?: number): HookState {
  return {
    ociVersion: spec.ociVersion,
    id,
    status,
    ...(pid ? { pid } : {}),
    bundle,
    ...(spec.annotations && Object.keys(spec.annotations).length ? { annotations: spec.annotations } : {}),
  };
}

export function envObject(env: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

/** Runs the hooks of one kind in order; the first failure rejects, naming the hook. */
export async function runHooks(kind: HookName, hooks: readonly Hook[] | undefined, state: HookState): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) await runHook(`${kind} hook #${i} (${h.path})`, h, JSON.stringify(state));
}

/** Output kept for the error message; the rest is read and dropped. */
const OUTPUT_LIMIT = 1 << 20;

/**
 * One hook: the state on stdin, its own env only, SIGKILL after `timeout` seconds. A hook that
 * exits without reading its stdin is valid (EPIPE on the state write is not an error).
 */
function runHook(what: string, h: Hook, input: string): Promise<void> {
  const args = h.args?.length ? h.args : [h.path];
  return new Promise<void>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(h.path, args.slice(1), { argv0: args[0], env: envObject(h.env), stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new HookError(`${what}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const chunks: Buffer[] = [];
    let kept = 0;
    const keep = (b: Buffer) => {
      if (kept >= OUTPUT_LIMIT) return;
      chunks.push(b);
      kept += b.length;
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.stdin!.on('error', () => {}); // EPIPE: the hook did not read its stdin
    child.stdin!.end(input);
    let timedOut = false;
    const timer = h.timeout
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, h.timeout * 1000)
      : undefined;
    let spawnError: Error | undefined;
    child.on('error', (err) => (spawnError = err));
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      const out = Buffer.concat(chunks).toString().trim();
      const tail = out ? `, output: ${out.slice(-500)}` : '';
      if (spawnError) reject(new HookError(`${what}: ${spawnError.message}`, { cause: spawnError }));
      else if (timedOut) reject(new HookError(`${what}: timed out after ${h.timeout}s${tail}`));
      else if (signal) reject(new HookError(`${what}: killed by ${signal}${tail}`));
      else if (status !== 0) reject(new HookError(`${what}: exit status ${status}${tail}`));
      else resolve();
    });
  });
}
