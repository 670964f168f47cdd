// Hooks run by the runtime in its own namespaces (runtime-spec config.md "POSIX-platform Hooks"):
// prestart and createRuntime during create, poststart after start, poststop after delete. Each
// gets the container state on stdin, its own `env` (the runtime's environment when it has none, as
// runc and crun), and is killed after `timeout` seconds.
// createContainer and startContainer run inside the container's namespaces: the plan interpreter
// runs those (OP_RUN_HOOK).
import type { ChildProcess } from 'node:child_process';
import { HookError } from '../errors.js';
import { hookExited, hookFailed, hookNotStarted, hookSignalled, hookTimedOut } from '../spec/hook-words.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Hook, HookName, Spec } from '../spec/types.js';
import { callerEnv } from '../process/caller-env.js';

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

/** Runs the hooks of one kind in order; the first failure rejects, in runc's words. */
export async function runHooks(kind: HookName, hooks: readonly Hook[] | undefined, state: HookState, logger: Logger = silentLogger): Promise<void> {
  const input = JSON.stringify(state);
  for (const [i, h] of (hooks ?? []).entries()) {
    logger.debug(`${state.id}: running ${kind} hook #${i}: ${h.path}`);
    try {
      await runHook(h, input);
    } catch (err) {
      throw hookFailure(kind, i, err);
    }
  }
}

/**
 * Runs every hook of one kind even when some fail (runtime-spec config.md: a failing poststop
 * hook "MUST log a warning" and the remaining hooks run); returns the failures, each in runc's words.
 */
export async function runAllHooks(kind: HookName, hooks: readonly Hook[] | undefined, state: HookState, logger: Logger = silentLogger): Promise<HookError[]> {
  const input = JSON.stringify(state);
  const failures: HookError[] = [];
  for (const [i, h] of (hooks ?? []).entries()) {
    logger.debug(`${state.id}: running ${kind} hook #${i}: ${h.path}`);
    try {
      await runHook(h, input);
    } catch (err) {
      failures.push(hookFailure(kind, i, err));
    }
  }
  return failures;
}

// runc libcontainer/configs/config.go Hooks.Run: "error running %s hook #%d: %w".
function hookFailure(kind: HookName, i: number, err: unknown): HookError {
  return new HookError(hookFailed(kind, i, (err as Error).message), { cause: err });
}

/** Output kept for the error message, per stream; the rest is read and dropped. */
const OUTPUT_LIMIT = 1 << 20;

function collector(): { keep: (b: Buffer) => void; text: () => string } {
  const chunks: Buffer[] = [];
  let kept = 0;
  return {
    keep: (b) => {
      if (kept >= OUTPUT_LIMIT) return;
      chunks.push(b);
      kept += b.length;
    },
    text: () => Buffer.concat(chunks).toString(),
  };
}

/**
 * A hook's environment: its own `env` when given (even empty), else the runtime's own (as its
 * caller gave it: callerEnv), as runc's exec.Cmd with a nil Env (and crun) do.
 */
export function hookEnv(h: Hook): NodeJS.ProcessEnv {
  return h.env ? envObject(h.env) : callerEnv();
}

/**
 * One hook: the state on stdin, SIGKILL after `timeout` seconds. A hook that exits without reading
 * its stdin is valid (EPIPE on the state write is not an error). The errors are runc's
 * (configs.Command.Run): "error running hook: exit status 3, stdout: …, stderr: …",
 * "hook ran past specified timeout of 1.0s", "fork/exec /x: no such file or directory".
 */
function runHook(h: Hook, input: string): Promise<void> {
  const args = h.args?.length ? h.args : [h.path];
  return new Promise<void>((resolve, reject) => {
    let child: ChildProcess;
    try {
      // node:child_process on first use: it costs 1.5-2 ms of CPU to load, and start and delete
      // load this module for every container, most of which have no hooks.
      child = process.getBuiltinModule('node:child_process').spawn(h.path, args.slice(1), { argv0: args[0], env: hookEnv(h), stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(startError(h, err));
      return;
    }
    const out = collector();
    const errOut = collector();
    child.stdout!.on('data', out.keep);
    child.stderr!.on('data', errOut.keep);
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
      const output = { stdout: out.text(), stderr: errOut.text() };
      if (spawnError) reject(startError(h, spawnError));
      else if (timedOut) reject(new Error(hookTimedOut(h.timeout!)));
      else if (signal) reject(new Error(hookSignalled(signal, output)));
      else if (status !== 0) reject(new Error(hookExited(status ?? 0, output)));
      else resolve();
    });
  });
}

/** Go's exec.Cmd.Start error: "fork/exec /x: no such file or directory". */
function startError(h: Hook, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code ? (ERRNO_WORDS[e.code] ?? e.code) : e.message;
  return new Error(hookNotStarted(h.path, reason), { cause: err });
}

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOEXEC: 'exec format error',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  E2BIG: 'argument list too long',
  ETXTBSY: 'text file busy',
};
