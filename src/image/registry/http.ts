// One HTTP exchange with a registry on global fetch: a timeout for the response headers, an idle
// timeout between body chunks, an overall deadline for the whole exchange (a registry that trickles
// one byte per idle period must not hold a pull for ever), the caller's AbortSignal, and redirects
// followed by hand so Authorization never crosses to another origin (distribution-spec spec.md
// "Pulling blobs": a 307 may point at other storage). Plain http is the registry's own rule applied
// to every hop: a hop to an http URL needs a loopback host or `insecure`.

import { ImageError } from '../../errors.js';
import { cut } from '../../spec/cut.js';
import { isLoopbackRegistry } from '../reference.js';

export interface HttpOptions {
  method?: 'GET' | 'HEAD';
  headers: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs: number;
  /** The whole exchange (headers, redirects and body) must end within this; default 1 hour. */
  deadlineMs?: number;
  /** Allow plain http to non-loopback hosts (the first URL and every redirect hop). */
  insecure: boolean;
  maxRedirects?: number;
}

/** Default overall deadline of one exchange: a large layer at a slow but live pace still fits. */
export const DEFAULT_DEADLINE_MS = 60 * 60 * 1000;

export interface HttpResponse {
  status: number;
  headers: Headers;
  url: string;
  /** The body; reading it keeps the idle timer running. */
  body: AsyncIterable<Uint8Array>;
  /** Read the whole body, failing past `limit` bytes. */
  bytes(limit: number): Promise<Buffer>;
  /** Drop the body and free the connection. */
  discard(): Promise<void>;
}

function abortReason(signal: AbortSignal, timeoutMs: number, url: string): Error {
  return signal.reason instanceof Error && signal.reason.name !== 'AbortError' && signal.reason.name !== 'TimeoutError'
    ? signal.reason
    : new ImageError('TSRUN_REGISTRY', `${url}: no response for ${timeoutMs} ms`);
}

export async function httpRequest(url: string, opts: HttpOptions): Promise<HttpResponse> {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(opts.signal?.reason);
  opts.signal?.throwIfAborted();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const deadline = setTimeout(() => {
    timedOut = true;
    ctl.abort(new ImageError('TSRUN_REGISTRY', `${url}: not finished within ${deadlineMs} ms (overall deadline)`));
  }, deadlineMs);
  deadline.unref(); // a response nobody reads must not keep the process alive
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ctl.abort(new ImageError('TSRUN_REGISTRY', `${url}: no data for ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
  };
  const done = () => {
    clearTimeout(timer);
    clearTimeout(deadline);
    opts.signal?.removeEventListener('abort', onAbort);
  };
  arm();
  let current = url;
  const headers = { ...opts.headers };
  let res: Response;
  try {
    for (let hop = 0; ; hop++) {
      res = await fetch(current, { method: opts.method ?? 'GET', headers, redirect: 'manual', signal: ctl.signal });
      if (![301, 302, 303, 307, 308].includes(res.status)) break;
      const loc = res.headers.get('location');
      await res.body?.cancel().catch(() => {});
      if (!loc) throw new ImageError('TSRUN_REGISTRY', `${current}: redirect ${res.status} without Location`);
      let next: URL;
      try {
        next = new URL(loc, current);
      } catch (cause) {
        throw new ImageError('TSRUN_REGISTRY', `${current}: redirect to a bad Location ${JSON.stringify(cut(loc))}`, { cause });
      }
      if (hop >= (opts.maxRedirects ?? 10)) throw new ImageError('TSRUN_REGISTRY', `${url}: too many redirects`);
      const prev = new URL(current);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new ImageError('TSRUN_REGISTRY', `${current}: redirect to unsupported scheme ${next.protocol}`);
      }
      if (next.protocol === 'http:' && !opts.insecure && !isLoopbackRegistry(next.host)) {
        throw new ImageError(
          'TSRUN_REGISTRY',
          `${current}: refusing redirect to plain http ${cut(next.href)} (allowed only to loopback hosts, or with insecure)`,
        );
      }
      // Credentials are for the registry only: never forward them to another origin.
      if (next.origin !== prev.origin) {
        for (const k of Object.keys(headers)) if (k.toLowerCase() === 'authorization') delete headers[k];
      }
      current = next.href;
    }
  } catch (e) {
    done();
    if (timedOut || opts.signal?.aborted) throw abortReason(ctl.signal, opts.timeoutMs, current);
    throw new ImageError('TSRUN_REGISTRY', `${current}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, { cause: e });
  }
  const response = res!;
  const finalUrl = current;
  let consumed = false;
  async function* body(): AsyncGenerator<Uint8Array> {
    consumed = true;
    const stream = response.body;
    if (!stream) {
      done();
      return;
    }
    const reader = stream.getReader();
    try {
      for (;;) {
        arm();
        let r: { done: boolean; value?: Uint8Array };
        try {
          r = await reader.read();
        } catch (e) {
          if (timedOut || opts.signal?.aborted) throw abortReason(ctl.signal, opts.timeoutMs, finalUrl);
          throw new ImageError('TSRUN_REGISTRY', `${finalUrl}: ${(e as Error).message}`, { cause: e });
        }
        if (r.done) return;
        yield r.value as Uint8Array;
      }
    } finally {
      done();
      // Stopped early (error or verification failure): release the connection.
      await reader.cancel().catch(() => {});
    }
  }
  return {
    status: response.status,
    headers: response.headers,
    url: finalUrl,
    body: { [Symbol.asyncIterator]: () => body() },
    async bytes(limit: number) {
      const parts: Uint8Array[] = [];
      let n = 0;
      for await (const c of body()) {
        n += c.length;
        if (n > limit) throw new ImageError('TSRUN_REGISTRY', `${finalUrl}: response larger than ${limit} bytes`);
        parts.push(c);
      }
      return Buffer.concat(parts);
    },
    async discard() {
      done();
      if (!consumed) await response.body?.cancel().catch(() => {});
    },
  };
}

/** The distribution error body (`{"errors":[{"code","message"}]}`) as one line, if any. */
export async function describeFailure(res: HttpResponse, what: string): Promise<string> {
  let detail = '';
  try {
    const text = (await res.bytes(64 * 1024)).toString('utf8');
    try {
      const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      detail = (j.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    } catch {
      detail = text.trim().slice(0, 200);
    }
  } catch {
    // The status line is enough.
  }
  return `${what}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`;
}
