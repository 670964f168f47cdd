import { features, formatFeatures } from '../../spec/features.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

export default function feat(_: VerbContext): number {
  writeOut(formatFeatures(features()));
  return 0;
}
