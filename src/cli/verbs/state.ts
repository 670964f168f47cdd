import { containerState } from '../../container/state.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

export default async function state({ cl, id }: VerbContext): Promise<number> {
  writeOut(`${JSON.stringify(await containerState({ root: cl.global.root, id }), null, 2)}\n`);
  return 0;
}
