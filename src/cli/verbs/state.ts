import { containerState } from '../../container/state.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

export default function state({ cl, id }: VerbContext): number {
  writeOut(`${JSON.stringify(containerState(cl.global.root, id), null, 2)}\n`);
  return 0;
}
