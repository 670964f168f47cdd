// A stand-in for systemd's notify socket (sd_notify(3)): a datagram socket bound at a path or an
// "@abstract" name, set as NOTIFY_SOCKET for tsrun. Every datagram is kept with the time it came
// and whether it carried an fd; a carried fd (the BARRIER=1 pipe, sd_notify_barrier(3)) is closed
// at once, which is how systemd acknowledges, unless holdBarrier asks to keep the sender waiting.
import { closeSync, rmSync } from 'node:fs';
import { addon } from '../../src/sys/addon.js';
import { bindDgram, shutdownSocket } from '../../src/container/notify-socket.js';

export interface NotifyDatagram {
  data: string;
  /** The datagram carried an fd (SCM_RIGHTS). */
  hadFd: boolean;
  /** Date.now() when it was read. */
  at: number;
}

export interface NotifyListenerHandle {
  /** The NOTIFY_SOCKET value (path or @name). */
  address: string;
  received: NotifyDatagram[];
  /** Resolves once a datagram matching pred arrived; rejects after timeoutMs. */
  waitFor(pred: (d: NotifyDatagram) => boolean, timeoutMs?: number): Promise<NotifyDatagram>;
  close(): void;
}

export function listenNotify(address: string, o: { holdBarrier?: boolean } = {}): NotifyListenerHandle {
  const fd = bindDgram(address);
  const received: NotifyDatagram[] = [];
  const held: number[] = [];
  const waiters: (() => void)[] = [];
  let closed = false;
  let polling = false;
  const arm = () => {
    polling = true;
    addon().pollReadable(fd, () => {
      polling = false;
      if (closed) return void closeSync(fd);
      for (;;) {
        let m: { fd: number; data: Buffer };
        try {
          m = addon().recvFd(fd);
        } catch {
          break; // EAGAIN: drained
        }
        received.push({ data: m.data.toString('utf8'), hadFd: m.fd >= 0, at: Date.now() });
        if (m.fd >= 0) {
          if (o.holdBarrier) held.push(m.fd);
          else closeSync(m.fd);
        }
      }
      for (const w of waiters.splice(0)) w();
      arm();
    });
  };
  arm();
  return {
    address,
    received,
    waitFor: (pred, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no notify datagram matched within ${timeoutMs} ms; got ${JSON.stringify(received)}`)), timeoutMs);
        const check = () => {
          const hit = received.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else {
            waiters.push(check);
          }
        };
        check();
      }),
    close: () => {
      if (closed) return;
      closed = true;
      for (const h of held.splice(0)) closeSync(h);
      if (polling) shutdownSocket(fd);
      else closeSync(fd);
      if (!address.startsWith('@')) rmSync(address, { force: true });
    },
  };
}
