import { runtimeFeatures } from '../../container/features.js';
import { formatFeatures } from '../../spec/features.js';
import { VERSION } from '../version.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

export default function feat(_: VerbContext): number {
  writeOut(formatFeatures(runtimeFeatures(VERSION)));
  return 0;
}
