import { containerState } from '../../container/state.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';
import { stateText } from '../../state/runc-state.js';

export default async function state({ cl, id }: VerbContext): Promise<number> {
  writeOut(`${stateText(await containerState({ root: cl.global.root, id }))}\n`);
  return 0;
}
