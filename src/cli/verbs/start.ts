import { startContainer } from '../../container/start.js';
import type { VerbContext } from '../main.js';

export default function start({ cl, id }: VerbContext): number {
  startContainer(cl.global.root, id);
  return 0;
}
