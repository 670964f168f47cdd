// The parent's half of the set-up conversation with the container's first process.
//
//   tsrun (parent, Node)                         child (plan interpreter, no JS)
//   ────────────────────                         ───────────────────────────────
//   compilePlan(config) ─ spawn() ── clone3 ──▶  reset signals, PDEATHSIG
//                                   ◀── SYNC USERMAP   (new user namespace)
//   write uid_map / gid_map ───── reply 0 ──▶  setresuid(0) in the namespace
//                                   ◀── SYNC TIMENS    (unshared time namespace)
//   write timens_offsets ──────── reply 0 ──▶  FORK
//                                   ◀── FORKED pid     (intermediate exits; reaped here)
//                                   ◀── SYNC MOUNT_SOURCE (a bind source the mapped root cannot open)
//   open it in the child's mount ns ── reply 0 + fd ──▶  bind from the fd (process/mount-source.ts)
//                                               mounts, devices, pivot_root, sysctl, masks,
//                                               hostname, rlimits, user, caps, fds, PATH lookup
//                                   ◀── SYNC READY
//   create: write state, pid file; exit          WAIT_FIFO on exec.fifo … `tsrun start`
//   run:    reply 0, read until EOF  ──────────▶ execve (the socket is CLOEXEC: EOF = success)
//                                   ◀── ERROR {op, errno, detail}  at any step, then exit(1)
//
// Messages are 16-byte SOCK_SEQPACKET datagrams (native/plan.h Msg); replies are a u32, 0 = go. A
// failed createContainer/startContainer hook's ERROR carries its stdout/stderr after the 16 bytes
// (process/hook-output.ts).
import { hookExited, hookFailed, hookNotStarted, hookSignalled, hookTimedOut } from '../spec/hook-words.js';
import { closeSync, writeFileSync, writeSync } from 'node:fs';
import { ChildSetupError, TsrunError } from '../errors.js';
import { addon } from '../sys/addon.js';
import type { LinuxIDMapping, Spec } from '../spec/types.js';
import { moveNetDevices } from './net-devices.js';
import { sendMountSource } from './mount-source.js';
import { hookOutputOf, type HookOutput } from './hook-output.js';
import { Detail, HelperStep, Msg, Sync } from '../plan/opcodes.js';
import type { CompiledPlan } from '../plan/plan-builder.js';

export interface ChildHandle {
  pid: number;
  pidfd: number;
  syncFd: number;
}

export interface HandshakeOptions {
  spec: Spec;
  plan: CompiledPlan;
  /** create returns at READY; run answers READY and waits for the execve. */
  mode: 'create' | 'run';
  /** Called at READY, before the child is let go (run) or left parked (create). */
  onReady?: (child: ChildHandle) => void;
  /** Receives the pty master (process.terminal); the callee owns the fd. */
  onConsole?: (masterFd: number) => void;
  /** prestart and createRuntime hooks, in the runtime namespace; a rejection aborts the create. */
  onCreateRuntime?: (child: ChildHandle) => Promise<void>;
  /** Receives the seccomp notify fd (SCMP_ACT_NOTIFY); the callee owns the fd. */
  onSeccompListener?: (fd: number, child: ChildHandle) => void;
  /** The state JSON hooks run by the child get on stdin. */
  stateFor?: (status: 'creating' | 'created', child: ChildHandle) => string;
  /**
   * The longest the parent waits for the child's next message (default SETUP_STEP_MS, plus the
   * timeouts of the hooks the child runs itself): a child that never answers (cloned into a frozen
   * cgroup, stuck in a mount) is killed and the set-up fails, instead of waiting for ever.
   * Infinity: no bound (exec --ignore-paused waits for the resume, as runc's does).
   */
  stepTimeoutMs?: number;
  /** Words for a timed-out wait (e.g. the cgroup turned out frozen); the default names the wait. */
  describeTimeout?: (ms: number) => Error | undefined;
}

/** The default bound of one wait for the child's next message. */
export const SETUP_STEP_MS = 60_000;

/**
 * The bound of one wait on the child: `base`, plus the timeout of every hook the child runs itself
 * (createContainer and startContainer run between two messages; runtime-spec config.md "timeout").
 */
export function setupStepBound(spec: Spec, base = SETUP_STEP_MS): number {
  const hooks = [...(spec.hooks?.createContainer ?? []), ...(spec.hooks?.startContainer ?? [])];
  return base + hooks.reduce((sum, h) => sum + (h.timeout ?? 0) * 1000, 0);
}

/** Resolves when fd turns readable; rejects with timedOut() after ms (the watch is cancelled). */
function readable(fd: number, ms: number, timedOut: () => Error): Promise<void> {
  const a = addon();
  return new Promise<void>((resolve, reject) => {
    // Not bounded at all (Infinity): setTimeout would take it for 1 ms.
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          a.cancelWatch(watch);
          reject(timedOut());
        }, ms)
      : undefined;
    const watch = a.pollReadable(fd, (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
}

const REPLY_GO = Buffer.alloc(4);

export function errnoText(errno: number): { code: string; message: string } {
  // node:util on first use (a failed step only): loading it costs Bun about 2 ms per create.
  const entry = process.getBuiltinModule('node:util').getSystemErrorMap().get(-errno);
  return { code: entry?.[0] ?? `errno ${errno}`, message: entry?.[1] ?? `errno ${errno}` };
}

/** tsrun-init's steps before the plan runs (native/init-main.cc), in words. */
const HELPER_STEPS: Record<number, string> = {
  [HelperStep.READ_PLAN]: 'read plan',
  [HelperStep.PARSE_PLAN]: 'parse plan',
  [HelperStep.ALLOC]: 'allocate the plan',
  [HelperStep.JOIN_CGROUP]: 'join the container cgroup',
};

/** The child's {op, errno, detail} in words, as runc words the same failures. */
export function describeChildError(plan: CompiledPlan, op: number, errno: number, detail: number, output?: HookOutput): ChildSetupError {
  const { code, message } = errnoText(errno);
  if (detail === Detail.HELPER_SETUP) {
    const step = HELPER_STEPS[op] ?? `step ${op}`;
    return new ChildSetupError(`tsrun-init: ${step}`, errno, code, `tsrun-init: ${step}: ${message}`);
  }
  const what = plan.descriptions[op] ?? `op ${op}`;
  const meta = plan.meta[op] as { exec?: string; hook?: { kind: string; index: number; path: string; timeout: number } } | undefined;
  let msg: string;
  if (meta?.hook) {
    // The same words as a hook the runtime runs itself (spec/hook-words.ts), with the output the
    // interpreter kept (process/hook-output.ts).
    const { kind, index, path, timeout } = meta.hook;
    const reason =
      detail === Detail.HOOK_EXIT
        ? hookExited(errno, output)
        : detail === Detail.HOOK_SIGNAL
          ? hookSignalled(errno, output)
          : detail === Detail.HOOK_TIMEOUT
            ? hookTimedOut(timeout)
            : hookNotStarted(path, message);
    msg = hookFailed(kind, index, reason);
  } else if (meta?.exec !== undefined && detail === Detail.NOT_IN_PATH) {
    msg = `exec: "${meta.exec}": executable file not found in $PATH`;
  } else if (meta?.exec !== undefined && what.startsWith('exec:')) {
    msg = `exec: "${meta.exec}": stat ${meta.exec}: ${message}`;
  } else if (meta?.exec !== undefined) {
    // The execve itself (a script's interpreter missing, ENOEXEC…): Go's os.PathError as runc's
    // system.Exec returns it, "exec /run.sh: no such file or directory".
    msg = `exec ${meta.exec}: ${message}`;
  } else if (detail === Detail.HOOK_EXIT) {
    msg = `${what}: exit status ${errno}`;
  } else if (detail === Detail.HOOK_SIGNAL) {
    msg = `${what}: killed by signal ${errno}`;
  } else if (detail === Detail.HOOK_TIMEOUT) {
    msg = `${what}: timed out`;
  } else if (detail === Detail.NOT_PROCFS) {
    msg = `${what}: the target is not on procfs`;
  } else if (detail === Detail.NOT_ORDINARY_DIR) {
    // runc mountToRootfs's words for a proc or sysfs destination that is a symlink or a file.
    msg = `${what}: filesystem "${(meta as { fstype?: string } | undefined)?.fstype ?? 'proc'}" must be mounted on ordinary directory`;
  } else if (detail === Detail.NOT_DEVNULL) {
    msg = `${what}: /dev/null is not the null device (1:3)`;
  } else {
    msg = `${what}: ${message}`;
  }
  return new ChildSetupError(what, errno, code, msg);
}

function readMsg(fd: number): { type: number; op: number; value: number; extra: number; fd: number; rest: Buffer } | null {
  const { fd: passed, data } = addon().recvFd(fd);
  if (data.length === 0) return null;
  if (data.length < 16) throw new TsrunError('TSRUN_CHILD_SETUP', `short message (${data.length} bytes) from the container init`);
  return {
    type: data.readUInt32LE(0),
    op: data.readUInt32LE(4),
    value: data.readInt32LE(8),
    extra: data.readUInt32LE(12),
    fd: passed,
    rest: data.subarray(16),
  };
}

function mapText(maps: readonly LinuxIDMapping[] | undefined): string {
  return (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function writeProcFile(pid: number, name: string, text: string): void {
  try {
    writeFileSync(`/proc/${pid}/${name}`, text);
  } catch (err) {
    throw new TsrunError('TSRUN_CHILD_SETUP', `write /proc/${pid}/${name}: ${(err as Error).message}`, { cause: err });
  }
}

type Message = NonNullable<ReturnType<typeof readMsg>>;

/** The parent's side of the conversation, one message at a time; true when it is over. */
class Conversation {
  private ready = false;
  constructor(
    private readonly child: ChildHandle,
    private readonly o: HandshakeOptions,
  ) {}

  async handle(m: Message | null): Promise<boolean> {
    const { child, o } = this;
    const a = addon();
    if (!m) {
      if (this.ready && o.mode === 'run') return true;
      const status = a.waitPid(child.pid);
      const how = status?.signal ? `killed by signal ${status.signal}` : `exit status ${status?.exitCode}`;
      throw new TsrunError('TSRUN_CHILD_SETUP', `container init exited during set-up (${how})`);
    }
    switch (m.type) {
      case Msg.ERROR:
        throw describeChildError(o.plan, m.op, m.value, m.extra, hookOutputOf(m.rest));
      case Msg.FORKED:
        a.waitPid(child.pid);
        closeSync(child.pidfd);
        child.pid = m.value;
        child.pidfd = a.pidfdOpen(m.value);
        return false;
      case Msg.SYNC:
        return await this.sync(m);
      default:
        throw new TsrunError('TSRUN_CHILD_SETUP', `unexpected message ${m.type} from the container init`);
    }
  }

  private async sync(m: Message): Promise<boolean> {
    const { child, o } = this;
    switch (m.value) {
      case Sync.USERMAP:
        // Parent-written maps (user_namespaces(7)); as root in the parent namespace, setgroups
        // stays allowed.
        writeProcFile(child.pid, 'uid_map', mapText(o.spec.linux?.uidMappings));
        writeProcFile(child.pid, 'gid_map', mapText(o.spec.linux?.gidMappings));
        break;
      case Sync.TIMENS: {
        const text = Object.entries(o.spec.linux?.timeOffsets ?? {})
          .map(([clock, v]) => `${clock} ${v.secs ?? 0} ${v.nanosecs ?? 0}\n`)
          .join('');
        if (text) writeProcFile(child.pid, 'timens_offsets', text);
        break;
      }
      case Sync.CREATE_RUNTIME:
        await o.onCreateRuntime?.(child);
        break;
      case Sync.NETDEV:
        await moveNetDevices(o.spec.linux?.netDevices, child.pid);
        break;
      case Sync.MOUNT_SOURCE:
        // The reply carries the fd (process/mount-source.ts).
        sendMountSource(child, o.plan, m.op, (errno) => describeChildError(o.plan, m.op, errno, Detail.NONE));
        return false;
      case Sync.STATE_CREATING:
      case Sync.STATE_CREATED: {
        const json = o.stateFor?.(m.value === Sync.STATE_CREATING ? 'creating' : 'created', child) ?? '{}';
        writeSync(child.syncFd, Buffer.from(json));
        return false;
      }
      case Sync.PTY:
      case Sync.SECCOMP_LISTENER:
        if (m.fd < 0) throw new TsrunError('TSRUN_CHILD_SETUP', 'the container init sent no fd');
        if (m.value === Sync.PTY && o.onConsole) o.onConsole(m.fd);
        else if (m.value === Sync.SECCOMP_LISTENER && o.onSeccompListener) o.onSeccompListener(m.fd, child);
        else closeSync(m.fd);
        break;
      case Sync.READY:
        this.ready = true;
        o.onReady?.(child);
        writeSync(child.syncFd, REPLY_GO);
        return o.mode === 'create';
    }
    writeSync(child.syncFd, REPLY_GO);
    return false;
  }
}

/**
 * Drives the conversation until READY (create) or the execve (run), each read awaited on the
 * event loop. On any failure the child is killed and reaped before the error is thrown.
 */
export async function runHandshake(child: ChildHandle, o: HandshakeOptions): Promise<void> {
  const c = new Conversation(child, o);
  const bound = o.stepTimeoutMs ?? setupStepBound(o.spec);
  const timedOut = () => {
    const plain = new TsrunError('TSRUN_CHILD_SETUP', `container init ${child.pid} did not answer within ${bound / 1000} s of set-up: killed`);
    try {
      return o.describeTimeout?.(bound) ?? plain;
    } catch {
      return plain; // the better words could not be found: the plain ones still end the wait
    }
  };
  try {
    for (;;) {
      await readable(child.syncFd, bound, timedOut);
      if (await c.handle(readMsg(child.syncFd))) return;
    }
  } catch (err) {
    killAndReap(child);
    throw err;
  } finally {
    closeSync(child.syncFd);
  }
}

export function killAndReap(child: ChildHandle): void {
  const a = addon();
  try {
    a.pidfdSendSignal(child.pidfd, 9);
  } catch {
    /* already gone */
  }
  try {
    a.waitPid(child.pid);
  } catch {
    /* reaped already */
  }
  // A long-lived caller (the library) must not leak the pidfd of a failed set-up.
  try {
    closeSync(child.pidfd);
  } catch {
    /* closed */
  }
  child.pidfd = -1;
}
