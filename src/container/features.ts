// The features document this build and this host support (runtime-spec features.md): what
// CURRENT_SUPPORT claims, with the seccomp block measured (the archs libseccomp knows, the flags
// this kernel accepts).
import { seccompFeatures } from '../seccomp/seccomp.js';
import { CURRENT_SUPPORT, features } from '../spec/features.js';
import type { Features } from '../spec/types.js';

export function runtimeFeatures(version: string): Features {
  const { libseccompVersion, ...seccomp } = seccompFeatures();
  return features({ ...CURRENT_SUPPORT, seccomp }, { version, libseccompVersion });
}
