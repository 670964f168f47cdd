// Runtime.events(): the lifecycle events of the containers this Runtime handles, as an async
// iterator (for await … of). Events are buffered from the moment events() is called, so none is
// lost between two iterations; the iteration ends (without an error) when the caller's
// AbortSignal fires or the caller breaks out of the loop.
import { EventEmitter, on } from 'node:events';

export type RuntimeEventType = 'create' | 'start' | 'exit' | 'kill' | 'stop' | 'pause' | 'resume' | 'update' | 'delete' | 'exec' | 'exec-exit';

export interface RuntimeEvent {
  type: RuntimeEventType;
  id: string;
  /** ISO 8601 time the runtime saw it. */
  time: string;
  pid?: number;
  exitCode?: number | null;
  signal?: number | null;
  /** kill: the signal number sent. */
  sent?: number;
  /** delete: removed by the reaper (its service instance was dead). */
  reaped?: boolean;
}

export interface EventsOptions {
  /** Only this container's events. */
  id?: string;
  signal?: AbortSignal;
}

export class EventHub {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Many concurrent iterators are normal in a service (one per request or per subscriber).
    this.emitter.setMaxListeners(0);
  }

  emit(e: Omit<RuntimeEvent, 'time'>): RuntimeEvent {
    const full = { ...e, time: new Date().toISOString() } as RuntimeEvent;
    this.emitter.emit('event', full);
    return full;
  }

  async *iterate(o: EventsOptions = {}): AsyncGenerator<RuntimeEvent, void, undefined> {
    if (o.signal?.aborted) return;
    const local = new AbortController();
    const stop = () => local.abort();
    o.signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const [e] of on(this.emitter, 'event', { signal: local.signal })) {
        const ev = e as RuntimeEvent;
        if (o.id === undefined || ev.id === o.id) yield ev;
      }
    } catch (err) {
      if (!local.signal.aborted) throw err;
    } finally {
      o.signal?.removeEventListener('abort', stop);
      local.abort();
    }
  }
}
