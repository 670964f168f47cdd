import { startContainer } from '../../container/start.js';
import type { VerbContext } from '../main.js';

export default async function start({ cl, log, id }: VerbContext): Promise<number> {
  // runc start.go: with NOTIFY_SOCKET set, start returns once the container sent READY= (or died).
  await startContainer({ root: cl.global.root, id, notifySocket: process.env.NOTIFY_SOCKET || undefined, logger: log });
  return 0;
}
