// linux.seccomp → the BPF program the child loads (src/linux/seccomp.ts generates it through
// libseccomp). Until that generator is wired in, a config with a seccomp profile is refused rather
// than run unfiltered.
import { TsrunError } from '../errors.js';
import type { SeccompProgram } from '../process/compile.js';
import type { Spec } from '../spec/types.js';
import type { Logger } from './logger.js';

export function loadSeccomp(spec: Spec, _logger: Logger): SeccompProgram | undefined {
  if (!spec.linux?.seccomp) return undefined;
  throw new TsrunError('TSRUN_UNSUPPORTED', 'linux.seccomp: seccomp filters are not implemented yet');
}
