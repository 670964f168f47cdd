import { resumeContainer } from '../../container/resume.js';
import type { VerbContext } from '../main.js';

export default async function resume({ cl, id }: VerbContext): Promise<number> {
  await resumeContainer({ root: cl.global.root, id });
  return 0;
}
