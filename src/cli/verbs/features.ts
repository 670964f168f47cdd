import { features, formatFeatures } from '../../spec/features.js';
import type { VerbContext } from '../main.js';

export default function feat(_: VerbContext): number {
  process.stdout.write(formatFeatures(features()));
  return 0;
}
