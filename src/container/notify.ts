// NOTIFY_SOCKET proxying, as runc does it (runc notify_socket.go, utils_linux.go, start.go).
// When the runtime runs with NOTIFY_SOCKET set (systemd Type=notify, podman --sdnotify=container):
//   create/run: <state>/<id>/notify/ is made and bound read-only at /run/notify in the container,
//     whose process gets NOTIFY_SOCKET=/run/notify/notify.sock (replacing any it had);
//   start, run: a datagram socket is bound at <state>/<id>/notify/notify.sock (a directory is
//     bound, not the socket, so `start` can make the socket after `create` mounted the dir);
//   then they wait for a datagram with a READY= line, or for the init to die, and send the host
//     socket "READY=…\n", "MAINPID=<pid>\n" and BARRIER=1 with a pipe (sd_notify_barrier(3)),
//     waiting at most 30 s for the host to close it.
// exec ignores NOTIFY_SOCKET, as runc's does (its process comes from config.json, unmodified).
import { chmodSync, closeSync, mkdirSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SyscallError, TsrunError } from '../errors.js';
import { addon } from '../sys/addon.js';
import type { Spec } from '../spec/types.js';
import { readProcStat } from '../state/status.js';
import { bindDgram, connectDgram, drainDgrams, pipe, sendDgram, shutdownSocket } from './notify-socket.js';
import type { Logger } from '../logger.js';

export const NOTIFY_DIR = 'notify';
export const NOTIFY_FILE = 'notify.sock';
/** Where runc puts the socket in the container (notify_socket.go setupSpec). */
export const CONTAINER_NOTIFY_DIR = '/run/notify';
export const CONTAINER_NOTIFY_SOCKET = `${CONTAINER_NOTIFY_DIR}/${NOTIFY_FILE}`;
/** runc sdNotifyBarrier: "Expect the read end of the pipe to be closed after 30 seconds." */
export const BARRIER_TIMEOUT_MS = 30_000;

/** The host path of the container's notify socket, under its state directory. */
export function notifySocketPath(stateDir: string): string {
  return path.join(path.resolve(stateDir), NOTIFY_DIR, NOTIFY_FILE);
}

/**
 * The spec the init is made from: runc's mount entry (source the notify dir, appended after the
 * config's own mounts) and NOTIFY_SOCKET last in the env. runc's env dedup keeps the last value
 * (libcontainer/env.go prepareEnv); tsrun passes env verbatim, so an older entry is dropped here.
 */
export function notifySpec(spec: Spec, stateDir: string): Spec {
  const dir = path.dirname(notifySocketPath(stateDir));
  const env = (spec.process?.env ?? []).filter((e) => !e.startsWith('NOTIFY_SOCKET='));
  return {
    ...spec,
    mounts: [...(spec.mounts ?? []), { destination: CONTAINER_NOTIFY_DIR, source: dir, options: ['bind', 'nosuid', 'noexec', 'nodev', 'ro'] }],
    process: spec.process && { ...spec.process, env: [...env, `NOTIFY_SOCKET=${CONTAINER_NOTIFY_SOCKET}`] },
  };
}

/**
 * The READY= line of a datagram, or null. sd_notify(3) sends one datagram of newline-separated
 * assignments. runc forwards the first line when the datagram starts with "READY=" and ignores
 * every other datagram; tsrun takes a READY= line wherever it stands ("STATUS=…\nREADY=1" is as
 * ready as "READY=1\nSTATUS=…"), which agrees with runc whenever runc forwards anything.
 */
export function readyLine(datagram: Buffer | string): string | null {
  const text = Buffer.isBuffer(datagram) ? datagram.toString('utf8') : datagram;
  return text.split('\n').find((l) => l.startsWith('READY=')) ?? null;
}

/** The notify dir, 0755 as runc's setupSocketDirectory; made by create, removed with the state dir. */
export function makeNotifyDir(stateDir: string): void {
  mkdirSync(path.dirname(notifySocketPath(stateDir)), { mode: 0o755 });
}

/** The socket the container's NOTIFY_SOCKET leads to, bound by `start` or `run`. */
export class NotifyListener {
  #fd: number;
  #polling = false;
  #closed = false;

  private constructor(
    fd: number,
    readonly socketPath: string,
  ) {
    this.#fd = fd;
  }

  /** Binds <stateDir>/notify/notify.sock, mode 0777 so any container user may send (runc 7a9ffa8). */
  static bind(stateDir: string): NotifyListener {
    const p = notifySocketPath(stateDir);
    let fd: number;
    try {
      fd = bindDgram(p);
    } catch (err) {
      throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { context: 'notify socket' });
    }
    try {
      chmodSync(p, 0o777);
    } catch (err) {
      closeSync(fd);
      rmSync(p, { force: true });
      throw err;
    }
    return new NotifyListener(fd, p);
  }

  /** The READY= line among the queued datagrams; the others are dropped, as runc does. */
  #take(): string | null {
    for (const d of drainDgrams(this.#fd)) {
      const line = readyLine(d);
      if (line) return line;
    }
    return null;
  }

  /**
   * The READY= line once the container sends it, or null once its init is gone. runc polls
   * /proc/<pid> every 100 ms; a pidfd watched on the event loop wakes at the exit itself, and is
   * cancelled when READY= comes first. startTime guards a reused pid.
   */
  async waitReady(pid: number, startTime?: string): Promise<string | null> {
    let pidfd = -1;
    try {
      pidfd = addon().pidfdOpen(pid);
      if (startTime !== undefined && readProcStat(pid)?.startTime !== startTime) {
        closeSync(pidfd);
        pidfd = -1;
      }
    } catch {
      /* gone already */
    }
    if (pidfd < 0) return this.waitAsync(Promise.resolve());
    let watch = -1;
    const gone = new Promise<void>((resolve) => {
      watch = addon().pollReadable(pidfd, () => {
        watch = -1;
        resolve();
      });
    });
    try {
      return await this.waitAsync(gone);
    } finally {
      if (watch >= 0) addon().cancelWatch(watch);
      closeSync(pidfd);
    }
  }

  /**
   * On the event loop: the READY= line, or null once `stopped` settles without one (the
   * foreground `run` keeps forwarding signals and a terminal meanwhile).
   */
  waitAsync(stopped: Promise<unknown>): Promise<string | null> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const arm = () => {
        this.#polling = true;
        addon().pollReadable(this.#fd, (err) => {
          this.#polling = false;
          // Woken by close(): the fd is ours to close now that libuv no longer polls it.
          if (this.#closed) return void closeSync(this.#fd);
          let line: string | null;
          try {
            if (err) throw err;
            line = this.#take();
          } catch (e) {
            settled = true;
            this.close();
            return reject(e);
          }
          if (!line) return arm();
          settled = true;
          this.close();
          resolve(line);
        });
      };
      const onStop = () => {
        if (settled) return;
        settled = true;
        let line: string | null = null;
        try {
          line = this.#take();
        } catch {
          /* closing anyway */
        }
        this.close();
        resolve(line);
      };
      arm();
      stopped.then(onStop, onStop);
    });
  }

  /** Closes the socket; a pending poll is woken by shutdown(2) and closes it from its callback. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#polling) shutdownSocket(this.#fd);
    else closeSync(this.#fd);
  }

  /** close(), and the socket file too (a failed start, so that a retry can bind again). */
  discard(): void {
    this.close();
    rmSync(this.socketPath, { force: true });
  }
}

/**
 * Tells the host the container is ready (runc notifyHost): "READY=…\n", "MAINPID=<pid>\n", then
 * BARRIER=1 carrying a pipe's write end; the host closes it once it has processed the messages
 * (sd_notify_barrier(3)). A host that never does is waited for timeoutMs and then ignored.
 */
export async function notifyHost(client: number, ready: string, mainPid: number, logger: Logger, timeoutMs = BARRIER_TIMEOUT_MS): Promise<void> {
  sendDgram(client, `${ready}\n`);
  sendDgram(client, `MAINPID=${mainPid}\n`);
  const [r, w] = pipe();
  try {
    addon().sendFd(client, w, 'BARRIER=1');
  } catch (err) {
    closeSync(r);
    throw err;
  } finally {
    closeSync(w);
  }
  // Watched on the event loop (the addon's epoll thread, on Node and Bun alike); a host that
  // never closes its end is given up on after timeoutMs, the watch cancelled before the close.
  try {
    const readable = await new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        addon().cancelWatch(watch);
        resolve(false);
      }, timeoutMs);
      const watch = addon().pollReadable(r, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(true);
      });
    });
    if (!readable) {
      logger.warn(`timeout after waiting ${timeoutMs / 1000}s for barrier; ignored`);
      return;
    }
    if (readSync(r, Buffer.alloc(1)) !== 0) throw new TsrunError('TSRUN_STATE', 'notify socket: unexpected read from synchronization pipe');
  } finally {
    closeSync(r);
  }
}

/** Connects to the host's NOTIFY_SOCKET first, as runc's notifySocket.run dials before waiting. */
export function connectHost(host: string): number {
  try {
    return connectDgram(host);
  } catch (err) {
    throw SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { context: `notify socket: dial unixgram ${host}` });
  }
}

/**
 * start and run -d: waits for READY= from the container whose init is pid, then tells the host
 * with MAINPID=pid. Resolves whether READY came; false when the init died first.
 */
export async function forwardReady(listener: NotifyListener, host: string, pid: number, startTime: string | undefined, logger: Logger): Promise<boolean> {
  let client: number;
  try {
    client = connectHost(host);
  } catch (err) {
    listener.close();
    throw err;
  }
  try {
    const line = await listener.waitReady(pid, startTime);
    if (line) await notifyHost(client, line, pid, logger);
    return line !== null;
  } finally {
    listener.close();
    closeSync(client);
  }
}

/** Foreground run: as forwardReady, without blocking the loop; MAINPID is tsrun itself (runc). */
export async function forwardReadyAsync(listener: NotifyListener, host: string, stopped: Promise<unknown>, mainPid: number, logger: Logger): Promise<boolean> {
  let client: number;
  try {
    client = connectHost(host);
  } catch (err) {
    listener.close();
    throw err;
  }
  try {
    const line = await listener.waitAsync(stopped);
    if (line) await notifyHost(client, line, mainPid, logger);
    return line !== null;
  } finally {
    closeSync(client);
  }
}
