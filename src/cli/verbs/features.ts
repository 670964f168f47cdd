import { seccompFeatures } from '../../linux/seccomp.js';
import { CURRENT_SUPPORT, features, formatFeatures } from '../../spec/features.js';
import { VERSION } from '../version.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

export default function feat(_: VerbContext): number {
  // The seccomp block is measured (archs libseccomp knows, flags this kernel accepts).
  const { libseccompVersion, ...seccomp } = seccompFeatures();
  writeOut(formatFeatures(features({ ...CURRENT_SUPPORT, seccomp }, { version: VERSION, libseccompVersion })));
  return 0;
}
