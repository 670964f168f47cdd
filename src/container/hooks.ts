// Hooks run by the runtime in its own namespaces (runtime-spec config.md "POSIX-platform Hooks"):
// prestart and createRuntime during create, poststart after start, poststop after delete. Each
// gets the container state on stdin, its own `env` only, and is killed after `timeout` seconds.
// createContainer and startContainer run inside the container's namespaces: the plan interpreter
// runs those (OP_RUN_HOOK).
import { spawnSync } from 'node:child_process';
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

/** Runs the hooks of one kind in order; the first failure throws, naming the hook. */
export function runHooks(kind: HookName, hooks: readonly Hook[] | undefined, state: HookState): void {
  for (const [i, h] of (hooks ?? []).entries()) {
    const args = h.args?.length ? h.args : [h.path];
    const r = spawnSync(h.path, args.slice(1), {
      argv0: args[0],
      input: JSON.stringify(state),
      env: envObject(h.env),
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 1 << 20,
    });
    const what = `${kind} hook #${i} (${h.path})`;
    const out = `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}`.trim();
    const tail = out ? `, output: ${out.slice(-500)}` : '';
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      if (code === 'ETIMEDOUT') throw new HookError(`${what}: timed out after ${h.timeout}s${tail}`);
      throw new HookError(`${what}: ${r.error.message}`, { cause: r.error });
    }
    if (r.signal) throw new HookError(`${what}: killed by ${r.signal}${tail}`);
    if (r.status !== 0) throw new HookError(`${what}: exit status ${r.status}${tail}`);
  }
}
