// docker attach, daemonless: the container's monitor serves DIR/attach.sock (native/monitor.cc).
// From the moment of the connect, the container's output arrives as Docker's stdcopy frames (a
// stream byte, 1 stdout or 2 stderr, three zero bytes, a big-endian 32-bit length, the data); what
// is written goes to the container's stdin (its pty, or the pipe the monitor holds for -i). The
// monitor closes the connection once the exit is recorded.
import { closeSync, constants, openSync } from 'node:fs';
import net from 'node:net';
import { InvalidStateError } from '../errors.js';
import { containerDirOf } from '../image/image-rootfs.js';
import type { FrontRoots } from './containers.js';
import { monitorPid, readExit, type FrontRecord } from './store.js';

export interface AttachSession {
  /** Input for the container's stdin (dropped by the monitor when it has none). */
  write(data: Buffer | string): void;
  /** No more input (the container's stdin stays open, as Docker's for a detached -i container). */
  endInput(): void;
  /** Stop attaching: the container goes on. */
  detach(): void;
  /** Resolves when the monitor closed the connection: with the exit status if the container exited. */
  closed: Promise<number | undefined>;
}

/** Splits the monitor's frames; a frame may arrive in pieces. */
export function frameReader(onFrame: (stream: 1 | 2, data: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const len = pending.readUInt32BE(4);
      if (pending.length < 8 + len) break;
      onFrame(pending[0] === 2 ? 2 : 1, pending.subarray(8, 8 + len));
      pending = pending.subarray(8 + len);
    }
  };
}

/** Connects to a container's monitor; `onOutput` gets its output from now on. */
export async function attachFront(o: FrontRoots, rec: FrontRecord, onOutput: (stream: 1 | 2, data: Buffer) => void): Promise<AttachSession> {
  if (!monitorPid(o.imageRoot, rec.id)) throw new InvalidStateError(`You cannot attach to a stopped container, start it first`);
  const dir = containerDirOf(o.imageRoot, rec.id);
  // sun_path holds 108 bytes: the socket is reached through an fd of its directory.
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  let sock: net.Socket;
  try {
    sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ path: `/proc/self/fd/${dirFd}/attach.sock`, allowHalfOpen: true });
      s.once('connect', () => resolve(s));
      s.once('error', (err) => reject(new InvalidStateError(`attach to container ${rec.id}: ${err.message}`, { cause: err })));
    });
  } finally {
    closeSync(dirFd);
  }
  sock.on('data', frameReader(onOutput));
  // Half-open lets the input end while output still comes; the monitor's end is the end of both.
  sock.on('end', () => sock.destroy());
  let detached = false;
  const closed = new Promise<number | undefined>((resolve) => {
    sock.on('error', () => {});
    sock.on('close', () => resolve(detached ? undefined : readExit(o.imageRoot, rec.id)?.status));
  });
  return {
    write: (d) => {
      if (sock.writable) sock.write(d);
    },
    endInput: () => {
      if (sock.writable) sock.end();
    },
    detach: () => {
      detached = true;
      sock.destroy();
    },
    closed,
  };
}
