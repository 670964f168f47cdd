// Waiting for a condition instead of sleeping: waitFor polls cond until it holds and fails naming
// what it waited for. The limit is a liveness bound (stretched by TIME_SCALE under qemu TCG), never
// an ordering: a test goes on as soon as the condition holds.
import { setTimeout as delay } from 'node:timers/promises';
import { emulatedCpu } from './emulated-cpu.js';

// Time limits are liveness limits, not performance bounds: under qemu TCG (the test VM,
// helpers/emulated-cpu.ts) a CLI call of a second on the host takes tens of seconds with the suite
// running in parallel, so every limit is stretched there.
export const TIME_SCALE = emulatedCpu() ? 5 : 1;

export interface WaitOptions {
  /** Give up after this long (times TIME_SCALE); default 10 s. */
  timeoutMs?: number;
  /** What is awaited, for the failure message ("container x to be running"). */
  what?: string | (() => string);
  /** Polling interval; default 20 ms. */
  intervalMs?: number;
}

/**
 * Polls cond every 20 ms until it returns true; throws "timed out after N ms waiting for <what>"
 * after timeoutMs. The legacy form waitFor(cond, timeoutMs, what) is accepted too.
 */
export async function waitFor(cond: () => boolean | Promise<boolean>, opts: WaitOptions | number = {}, legacyWhat?: () => string): Promise<void> {
  const o: WaitOptions = typeof opts === 'number' ? { timeoutMs: opts, what: legacyWhat } : opts;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const until = Date.now() + timeoutMs * TIME_SCALE;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) {
      const what = typeof o.what === 'function' ? o.what() : (o.what ?? 'condition');
      throw new Error(`timed out after ${timeoutMs * TIME_SCALE} ms waiting for ${what}`);
    }
    await delay(o.intervalMs ?? 20);
  }
}

/** Like waitFor, but returns the first truthy value of get(). */
export async function waitForValue<T>(get: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: WaitOptions = {}): Promise<T> {
  let value: T | undefined | null | false;
  await waitFor(async () => Boolean((value = await get())), opts);
  return value as T;
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** A promise with its resolve and reject: a barrier one side opens when something happened. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
