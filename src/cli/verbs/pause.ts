import { pauseContainer } from '../../container/pause.js';
import type { VerbContext } from '../main.js';

export default function pause({ cl, id }: VerbContext): number {
  pauseContainer(cl.global.root, id);
  return 0;
}
