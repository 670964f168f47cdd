import { killContainer } from '../../container/kill.js';
import { parseSignal } from '../../container/signals.js';
import type { VerbContext } from '../main.js';

export default function kill({ cl, id }: VerbContext): number {
  killContainer(cl.global.root, id, parseSignal(cl.args[1]), cl.flags.all === true);
  return 0;
}
