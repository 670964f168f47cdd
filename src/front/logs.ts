// Reading a container's json-file log (written by native/monitor.cc): the rotated files oldest
// first (<log>.N … <log>.1, <log>), --tail N lines, and --follow until the container's exit is
// recorded. Follow watches the directory (fs.watch) and reads what was appended; a rotation
// (rename, then a fresh file) is followed by reopening.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, watch } from 'node:fs';
import path from 'node:path';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  log: string;
  time: string;
}

export function parseLogLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as LogEntry;
      if (typeof e.log === 'string') out.push(e);
    } catch {
      /* a torn last line: the rest comes with the next read */
    }
  }
  return out;
}

function readFrom(file: string, offset: number): { text: string; end: number; ino: number } | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (st.size <= offset) return { text: '', end: st.size < offset ? 0 : offset, ino: st.ino };
    const buf = Buffer.alloc(st.size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    // Only whole lines: a line the monitor is still writing waits for the next read.
    const upto = buf.subarray(0, n).lastIndexOf(0x0a) + 1;
    return { text: buf.subarray(0, upto).toString('utf8'), end: offset + upto, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

/** Every entry of the rotated files (<log>.N … <log>.1), oldest first. */
function readRotated(file: string, maxFiles = 100): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = maxFiles; i >= 1; i--) {
    const f = `${file}.${i}`;
    if (existsSync(f)) out.push(...parseLogLines(readFrom(f, 0)?.text ?? ''));
  }
  return out;
}

/** Every entry in the log and its rotated files, oldest first. */
export function readAllLogs(file: string, maxFiles = 100): LogEntry[] {
  return [...readRotated(file, maxFiles), ...parseLogLines(readFrom(file, 0)?.text ?? '')];
}

export function formatEntry(e: LogEntry, timestamps: boolean): string {
  return timestamps ? `${e.time} ${e.log}` : e.log;
}

export interface FollowOptions {
  file: string;
  tail?: number;
  /** True once the container has exited (its exit is recorded): follow then ends at the end of the log. */
  done: () => boolean;
  onEntry: (e: LogEntry) => void;
  signal?: AbortSignal;
}

/** --tail then --follow: prints what is there, then what is appended until done(). */
export async function followLogs(o: FollowOptions): Promise<void> {
  // One read of the current file: what it printed and where following starts are the same.
  const cur = readFrom(o.file, 0);
  const all = [...readRotated(o.file), ...parseLogLines(cur?.text ?? '')];
  const start = o.tail === undefined ? 0 : Math.max(0, all.length - o.tail);
  for (const e of all.slice(start)) o.onEntry(e);
  let offset = cur?.end ?? 0;
  let ino = cur?.ino ?? 0;
  let wake: (() => void) | undefined;
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(path.dirname(o.file), () => wake?.());
  } catch {
    watcher = undefined;
  }
  try {
    for (;;) {
      if (o.signal?.aborted) return;
      const finished = o.done();
      let st: { ino: number } | undefined;
      try {
        st = statSync(o.file);
      } catch {
        st = undefined;
      }
      if (st && st.ino !== ino) {
        // Rotated: the rest of the old file is in <file>.1 now.
        const old = readFrom(`${o.file}.1`, offset);
        if (old && old.ino === ino) for (const e of parseLogLines(old.text)) o.onEntry(e);
        ino = st.ino;
        offset = 0;
      }
      const r = readFrom(o.file, offset);
      if (r) {
        for (const e of parseLogLines(r.text)) o.onEntry(e);
        offset = r.end;
      }
      if (finished) return;
      // The directory's events wake this; a bounded wait covers an event missed between the read and the wait.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
        o.signal?.addEventListener('abort', () => wake?.(), { once: true });
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}
