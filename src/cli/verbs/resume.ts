import { resumeContainer } from '../../container/resume.js';
import type { VerbContext } from '../main.js';

export default function resume({ cl, id }: VerbContext): number {
  resumeContainer(cl.global.root, id);
  return 0;
}
