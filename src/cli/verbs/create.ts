import { createContainer } from '../../container/create.js';
import type { VerbContext } from '../main.js';
import { createFlags } from './flags.js';

export default async function create({ cl, log, id }: VerbContext): Promise<number> {
  await createContainer({ id, mode: 'create', ...createFlags(cl), logger: log });
  return 0;
}
