// Receivers for the fds tsrun hands out over AF_UNIX sockets with SCM_RIGHTS: the pty master
// (--console-socket), a pidfd (--pidfd-socket) and the seccomp notify fd (linux.seccomp.listenerPath).
// Node's net module cannot receive fds, so the server is created paused (Node never reads the
// stream, which would drop the control message) and the first message of each connection is read
// with the addon's recvmsg once libuv reports the socket readable.
import fs from 'node:fs';
import net from 'node:net';
import { addon } from '../../src/sys/addon.js';

export interface ReceivedFd {
  /** The received fd (close it), or -1 when the message carried none. */
  fd: number;
  /** The bytes sent with it (a state JSON for the seccomp agent, a name for the others). */
  data: Buffer;
}

export interface FdReceiver {
  path: string;
  /** Every fd received so far, in order. */
  received: ReceivedFd[];
  /** Resolves with the n-th (0-based) fd received; rejects after timeoutMs. */
  next(n?: number, timeoutMs?: number): Promise<ReceivedFd>;
  /** Stops listening, closes every received fd the test did not take with take(). */
  close(): Promise<void>;
  /** Marks a received fd as the test's to close. */
  take(r: ReceivedFd): number;
}

interface HandleSocket extends net.Socket {
  _handle?: { fd?: number };
}

/** Listens on socketPath (which must not exist) and collects one fd per connection. */
export async function listenForFds(socketPath: string): Promise<FdReceiver> {
  const received: ReceivedFd[] = [];
  const taken = new Set<number>();
  const waiters: (() => void)[] = [];
  const errors: Error[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (sock: HandleSocket) => {
    const fd = sock._handle?.fd;
    if (fd === undefined || fd < 0) {
      errors.push(new Error('listenForFds: no fd behind the accepted socket'));
      sock.destroy();
      return;
    }
    addon().pollReadable(fd, (err) => {
      try {
        if (err) throw err;
        const r = addon().recvFd(fd);
        received.push(r);
      } catch (e) {
        errors.push(e as Error);
      } finally {
        sock.destroy();
        for (const w of waiters.splice(0)) w();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  const next = (n = 0, timeoutMs = 15_000) =>
    new Promise<ReceivedFd>((resolve, reject) => {
      const check = () => {
        if (errors.length) return reject(errors[0]);
        if (received.length > n) return resolve(received[n]);
        waiters.push(check);
      };
      setTimeout(() => reject(new Error(`no fd #${n} on ${socketPath} within ${timeoutMs} ms`)), timeoutMs).unref();
      check();
    });
  return {
    path: socketPath,
    received,
    next,
    take: (r) => (taken.add(r.fd), r.fd),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const r of received) {
        if (r.fd >= 0 && !taken.has(r.fd)) {
          try {
            fs.closeSync(r.fd);
          } catch {
            /* closed already */
          }
        }
      }
    },
  };
}

/**
 * Reads from a pty master (blocking reads on libuv's thread pool) until `until` matches the text
 * read so far, the slave side is closed (EIO) or timeoutMs passes. Returns the text.
 */
export async function readPty(master: number, until: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  let text = '';
  const deadline = Date.now() + timeoutMs;
  const buf = Buffer.alloc(4096);
  while (!until(text) && Date.now() < deadline) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.read(master, buf, 0, buf.length, null, (err, bytes) => {
        if (err && (err as NodeJS.ErrnoException).code === 'EIO') resolve(0);
        else if (err) reject(err);
        else resolve(bytes);
      }),
    );
    if (n === 0) break;
    text += buf.subarray(0, n).toString('utf8');
  }
  return text;
}
