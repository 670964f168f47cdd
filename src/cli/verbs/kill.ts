import { killContainer } from '../../container/kill.js';
import { parseSignal } from '../../container/signals.js';
import type { VerbContext } from '../main.js';

export default async function kill({ cl, id }: VerbContext): Promise<number> {
  await killContainer({ root: cl.global.root, id, signal: parseSignal(cl.args[1]), all: cl.flags.all === true });
  return 0;
}
