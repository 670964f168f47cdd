// start: release the init parked on exec.fifo (runtime.md "start"). Opening the fifo for writing
// never blocks: the init holds the read end; ENXIO means no reader, i.e. the init is gone.
import { setTimeout as sleep } from 'node:timers/promises';
import { closeSync, constants, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { InvalidStateError, SyscallError } from '../errors.js';
import { hookState, runHooks } from './hooks.js';
import { FIFO_FILE, type ContainerRecord } from '../state/store.js';
import { helperPath } from '../process/spawn.js';
import { silentLogger, type Logger } from '../logger.js';
import { forwardReady, NotifyListener } from './notify.js';
import { openContainer } from './handle.js';
import { removeContainer } from './delete.js';

export interface StartOptions {
  root: string;
  id: string;
  /** NOTIFY_SOCKET of the runtime's environment: wait for the container's READY= and pass it on. */
  notifySocket?: string;
  logger?: Logger;
}

export async function startContainer(o: StartOptions): Promise<ContainerRecord> {
  const logger = o.logger ?? silentLogger;
  const h = await openContainer(o.root, o.id, { lock: true });
  let notify: NotifyListener | undefined;
  const rec = h.record;
  try {
    // runc start.go: the words for each state are in transitions.ts.
    h.assert('start');
    // runc start.go: bound before the release, so no READY= can be lost. A container created
    // without NOTIFY_SOCKET has no notify dir, and this fails as runc's bind does.
    if (o.notifySocket) notify = NotifyListener.bind(h.dir);
    const fifo = path.join(h.dir, FIFO_FILE);
    let fd: number;
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') throw new InvalidStateError('cannot start a container that has stopped');
      throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'open' });
    }
    try {
      writeSync(fd, '0');
    } finally {
      closeSync(fd);
    }
    unlinkSync(fifo);
    try {
      await runPoststart(rec);
    } catch (err) {
      // runc: a failing poststart hook kills the container and it is destroyed (runc 1.1.5, whose
      // poststart hooks run in create, fails the create and removes it). Removed here as `delete
      // --force` would: the rest of its processes, cgroup and state go, and the poststop hooks run.
      await removeContainer(h, logger).catch((e: Error) => logger.warn(`cleanup after failed poststart hook: ${e.message}`));
      throw err;
    }
  } catch (err) {
    notify?.discard();
    throw err;
  } finally {
    h.release();
  }
  // Unlocked while waiting: READY= may take minutes, and delete or a second start must not hang.
  if (notify) await forwardReady(notify, o.notifySocket!, rec.pid, rec.pidStartTime, logger);
  return rec;
}

/**
 * poststart hooks run after the process is released. runtime-spec v1.3 config.md: a failing
 * poststart hook stops the container (crun only logs); as runc, the caller then removes it.
 */
export async function runPoststart(rec: ContainerRecord): Promise<void> {
  const hooks = rec.config.hooks?.poststart;
  if (!hooks?.length) return;
  await awaitExecve(rec.pid);
  try {
    await runHooks('poststart', hooks, hookState(rec.config, rec.id, rec.bundle, 'running', rec.pid));
  } catch (err) {
    try {
      process.kill(rec.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    throw err;
  }
}

/**
 * runtime-spec config.md: poststart hooks run "after the user-specified process is executed". The
 * released init still runs startContainer hooks and the last set-up steps as a copy of the runtime
 * (node, or tsrun-init), so wait until its /proc/<pid>/exe is another file (or it is gone).
 * Bounded: a startContainer hook that never ends must not hang `start` forever.
 */
async function awaitExecve(pid: number, timeoutMs = 60_000): Promise<void> {
  const runtime = [process.execPath, helperPath()].flatMap((p) => {
    try {
      const st = statSync(p);
      return [`${st.dev}:${st.ino}`];
    } catch {
      return [];
    }
  });
  const until = Date.now() + timeoutMs;
  for (let delay = 1; Date.now() < until; delay = Math.min(delay * 2, 50)) {
    let exe: string;
    try {
      const st = statSync(`/proc/${pid}/exe`);
      exe = `${st.dev}:${st.ino}`;
    } catch {
      return; // gone (or a zombie): nothing to wait for
    }
    if (!runtime.includes(exe)) return;
    await sleep(delay);
  }
}
