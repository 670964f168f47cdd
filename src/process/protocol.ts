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
//                                               mounts, devices, pivot_root, sysctl, masks,
//                                               hostname, rlimits, user, caps, fds, PATH lookup
//                                   ◀── SYNC READY
//   create: write state, pid file; exit          WAIT_FIFO on exec.fifo … `tsrun start`
//   run:    reply 0, read until EOF  ──────────▶ execve (the socket is CLOEXEC: EOF = success)
//                                   ◀── ERROR {op, errno, detail}  at any step, then exit(1)
//
// Messages are 16-byte SOCK_SEQPACKET datagrams (native/plan.h Msg); replies are a u32, 0 = go.
import { closeSync, writeFileSync, writeSync } from 'node:fs';
import util from 'node:util';
import { ChildSetupError, TsrunError } from '../errors.js';
import { addon } from '../native/addon.js';
import type { LinuxIDMapping, Spec } from '../spec/types.js';
import { Detail, Msg, Sync } from './opcodes.js';
import type { CompiledPlan } from './plan-builder.js';

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
  /** prestart and createRuntime hooks, in the runtime namespace; throwing aborts the create. */
  onCreateRuntime?: (child: ChildHandle) => void;
  /** The state JSON hooks run by the child get on stdin. */
  stateFor?: (status: 'creating' | 'created', child: ChildHandle) => string;
}

const REPLY_GO = Buffer.alloc(4);

export function errnoText(errno: number): { code: string; message: string } {
  const entry = util.getSystemErrorMap().get(-errno);
  return { code: entry?.[0] ?? `errno ${errno}`, message: entry?.[1] ?? `errno ${errno}` };
}

/** The child's {op, errno, detail} in words, as runc words the same failures. */
export function describeChildError(plan: CompiledPlan, op: number, errno: number, detail: number): ChildSetupError {
  const what = plan.descriptions[op] ?? `op ${op}`;
  const { code, message } = errnoText(errno);
  const meta = plan.meta[op] as { exec?: string } | undefined;
  let msg: string;
  if (meta?.exec !== undefined && detail === Detail.NOT_IN_PATH) {
    msg = `exec: "${meta.exec}": executable file not found in $PATH`;
  } else if (meta?.exec !== undefined && what.startsWith('exec:')) {
    msg = `exec: "${meta.exec}": stat ${meta.exec}: ${message}`;
  } else if (detail === Detail.HOOK_EXIT) {
    msg = `${what}: exit status ${errno}`;
  } else if (detail === Detail.HOOK_SIGNAL) {
    msg = `${what}: killed by signal ${errno}`;
  } else if (detail === Detail.HOOK_TIMEOUT) {
    msg = `${what}: timed out`;
  } else if (detail === Detail.NOT_PROCFS) {
    msg = `${what}: the target is not on procfs`;
  } else if (detail === Detail.NOT_DEVNULL) {
    msg = `${what}: /dev/null is not the null device (1:3)`;
  } else {
    msg = `${what}: ${message}`;
  }
  return new ChildSetupError(what, errno, code, msg);
}

function readMsg(fd: number): { type: number; op: number; value: number; extra: number; fd: number } | null {
  const { fd: passed, data } = addon().recvFd(fd);
  if (data.length === 0) return null;
  if (data.length < 16) throw new TsrunError('TSRUN_CHILD_SETUP', `short message (${data.length} bytes) from the container init`);
  return { type: data.readUInt32LE(0), op: data.readUInt32LE(4), value: data.readInt32LE(8), extra: data.readUInt32LE(12), fd: passed };
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

/**
 * Drives the conversation until READY (create) or the execve (run). On any failure the child is
 * killed and reaped before the error is thrown, so nothing is left half-made.
 */
export function runHandshake(child: ChildHandle, o: HandshakeOptions): void {
  const a = addon();
  let ready = false;
  try {
    for (;;) {
      const m = readMsg(child.syncFd);
      if (!m) {
        if (ready && o.mode === 'run') return;
        const status = a.waitPid(child.pid);
        const how = status?.signal ? `killed by signal ${status.signal}` : `exit status ${status?.exitCode}`;
        throw new TsrunError('TSRUN_CHILD_SETUP', `container init exited during set-up (${how})`);
      }
      switch (m.type) {
        case Msg.ERROR:
          throw describeChildError(o.plan, m.op, m.value, m.extra);
        case Msg.FORKED: {
          a.waitPid(child.pid);
          closeSync(child.pidfd);
          child.pid = m.value;
          child.pidfd = a.pidfdOpen(m.value);
          continue;
        }
        case Msg.SYNC:
          if (m.value === Sync.USERMAP) {
            // Parent-written maps (user_namespaces(7)); as root in the parent namespace,
            // setgroups stays allowed.
            writeProcFile(child.pid, 'uid_map', mapText(o.spec.linux?.uidMappings));
            writeProcFile(child.pid, 'gid_map', mapText(o.spec.linux?.gidMappings));
          } else if (m.value === Sync.TIMENS) {
            const offs = o.spec.linux?.timeOffsets ?? {};
            const text = Object.entries(offs)
              .map(([clock, v]) => `${clock} ${v.secs ?? 0} ${v.nanosecs ?? 0}\n`)
              .join('');
            if (text) writeProcFile(child.pid, 'timens_offsets', text);
          } else if (m.value === Sync.CREATE_RUNTIME) {
            o.onCreateRuntime?.(child);
          } else if (m.value === Sync.STATE_CREATING || m.value === Sync.STATE_CREATED) {
            const json = o.stateFor?.(m.value === Sync.STATE_CREATING ? 'creating' : 'created', child) ?? '{}';
            writeSync(child.syncFd, Buffer.from(json));
            continue;
          } else if (m.value === Sync.PTY) {
            if (m.fd < 0) throw new TsrunError('TSRUN_CHILD_SETUP', 'the container init sent no pty master');
            if (o.onConsole) o.onConsole(m.fd);
            else closeSync(m.fd);
          } else if (m.value === Sync.READY) {
            ready = true;
            o.onReady?.(child);
            writeSync(child.syncFd, REPLY_GO);
            if (o.mode === 'create') return;
            continue;
          }
          writeSync(child.syncFd, REPLY_GO);
          continue;
        default:
          throw new TsrunError('TSRUN_CHILD_SETUP', `unexpected message ${m.type} from the container init`);
      }
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
}
