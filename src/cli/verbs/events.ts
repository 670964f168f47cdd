// runc events.go: --stats prints one stats event; otherwise a JSON line per event, stats every
// --interval (default 5s) and oom as it happens, until the container stops or SIGINT/SIGTERM.
import { eventJson, parseDuration, statsEvent, streamEvents, type ContainerEvent } from '../../container/events.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

export default async function events({ cl, id }: VerbContext): Promise<number> {
  const root = cl.global.root;
  const write = (e: ContainerEvent) => writeOut(`${eventJson(e)}\n`);
  if (cl.flags.stats === true) {
    write(await statsEvent({ root, id }));
    return 0;
  }
  const intervalMs = parseDuration(String(cl.flags.interval ?? '5s'));
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await streamEvents({ root, id, intervalMs, emit: write, signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
