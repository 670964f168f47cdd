import { createContainer } from '../../container/create.js';
import type { VerbContext } from '../main.js';
import { createFlags } from './flags.js';

export default function create({ cl, log, id }: VerbContext): number {
  createContainer({ id, mode: 'create', ...createFlags(cl), logger: log });
  return 0;
}
