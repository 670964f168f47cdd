import { pauseContainer } from '../../container/pause.js';
import type { VerbContext } from '../main.js';

export default async function pause({ cl, id }: VerbContext): Promise<number> {
  await pauseContainer({ root: cl.global.root, id });
  return 0;
}
