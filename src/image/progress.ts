// Pull and unpack progress: the events `pull()` and `unpackImage()` emit, and a renderer the CLI
// hands a stream to. On a TTY it redraws one bar per layer (bytes and speed while downloading,
// bytes while extracting); with `json` it writes one JSON object per line for programs;
// otherwise it stays silent (a pipe or a log file gets no escape codes).

export type PullProgress =
  | { type: 'resolving'; ref: string }
  | { type: 'resolved'; ref: string; digest: string; indexDigest?: string; platform: string; layers: { digest: string; size: number }[] }
  | {
      type: 'layer';
      digest: string;
      status: 'waiting' | 'downloading' | 'exists' | 'done';
      done: number;
      total: number;
      bytesPerSecond: number;
      resumedFrom?: number;
    }
  | { type: 'done'; ref: string; digest: string; id: string; downloaded: number; seconds: number }
  | ExtractProgress;

/**
 * Unpacking a layer into the layer store: `waiting` for each layer first, then `extracting` as
 * the (compressed) blob is read (`done` of `total` bytes), then `done`, or `exists` for a layer
 * already unpacked. `digest` is the layer blob's, as in the pull's `layer` events.
 */
export interface ExtractProgress {
  type: 'extract';
  digest: string;
  chainID: string;
  status: 'waiting' | 'extracting' | 'exists' | 'done';
  done: number;
  total: number;
}

/** One layer unpacked (or found unpacked: created false), with the time it took. */
export interface UnpackEvent {
  type: 'unpack';
  chainID: string;
  diffID: string;
  created: boolean;
  seconds: number;
}

export type ProgressMode = 'auto' | 'tty' | 'json' | 'none';

export interface ProgressSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressRenderer {
  onProgress: (event: PullProgress) => void;
  /** Draw the final state and stop. */
  end: () => void;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

function shortDigest(d: string): string {
  return d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
}

export function createProgressRenderer(out: ProgressSink, mode: ProgressMode = 'auto'): ProgressRenderer {
  const effective = mode === 'auto' ? (out.isTTY ? 'tty' : 'none') : mode;
  if (effective === 'none') return { onProgress: () => {}, end: () => {} };
  if (effective === 'json') {
    return {
      onProgress: (e) => {
        out.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
      },
      end: () => {},
    };
  }
  const layers = new Map<string, Extract<PullProgress, { type: 'layer' | 'extract' }>>();
  let header = '';
  let footer = '';
  let drawn = 0;
  let lastDraw = 0;
  let ended = false;
  // Something not drawn yet: end() draws only then, so it never moves the cursor over output
  // written after the last draw (the container's, once the layers are unpacked).
  let dirty = false;
  let trailing: NodeJS.Timeout | undefined;
  const bar = (done: number, total: number): string => {
    const width = Math.max(10, Math.min(40, (out.columns || 80) - 50));
    const frac = total > 0 ? Math.min(done / total, 1) : 0;
    const fill = Math.floor(frac * width);
    return `[${'='.repeat(Math.max(fill - 1, 0))}${fill > 0 ? '>' : ''}${' '.repeat(width - fill)}] ${formatBytes(done)}/${formatBytes(total)}`;
  };
  const line = (e: Extract<PullProgress, { type: 'layer' | 'extract' }>): string => {
    const id = shortDigest(e.digest);
    if (e.type === 'extract') {
      if (e.status === 'waiting') return `${id}: Waiting to extract`;
      if (e.status === 'exists') return `${id}: Already extracted`;
      if (e.status === 'done') return `${id}: Extracted`;
      return `${id}: Extracting  ${bar(e.done, e.total)}`;
    }
    if (e.status === 'waiting') return `${id}: Waiting`;
    if (e.status === 'exists') return `${id}: Already exists`;
    if (e.status === 'done') return `${id}: Pull complete`;
    return `${id}: Downloading ${bar(e.done, e.total)} ${formatBytes(e.bytesPerSecond)}/s`;
  };
  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) {
      // Throttled: draw the latest state a little later so a stalled layer still shows it.
      trailing ??= setTimeout(
        () => {
          trailing = undefined;
          if (!ended) draw(true);
        },
        100 - (now - lastDraw),
      ).unref();
      return;
    }
    clearTimeout(trailing);
    trailing = undefined;
    lastDraw = now;
    dirty = false;
    const lines = [header, ...[...layers.values()].map(line), footer].filter(Boolean).flatMap((l) => l.split('\n'));
    // A pty whose size was never set reports 0 columns.
    const cols = out.columns || 80;
    // Move up over what we drew last time and rewrite each line, erasing its rest (ECMA-48 EL).
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) s += `\r${l.slice(0, cols - 1)}\x1b[K\n`;
    out.write(s);
    drawn = lines.length;
  };
  return {
    onProgress: (e) => {
      if (ended) return;
      switch (e.type) {
        case 'resolving':
          header = `Resolving ${e.ref}`;
          break;
        case 'resolved':
          header = `${e.ref}: ${e.platform} ${shortDigest(e.digest)}`;
          break;
        case 'layer':
        case 'extract':
          layers.set(e.digest, e);
          break;
        case 'done':
          footer = `Digest: ${e.digest}\nDownloaded ${formatBytes(e.downloaded)} in ${e.seconds.toFixed(1)}s`;
          break;
      }
      dirty = true;
      draw((e.type !== 'layer' && e.type !== 'extract') || (e.status !== 'downloading' && e.status !== 'extracting'));
    },
    end: () => {
      if (!ended && dirty) draw(true);
      ended = true;
      clearTimeout(trailing);
    },
  };
}
