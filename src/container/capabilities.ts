// runc HEAD's ApplyCaps (libcontainer/capabilities) raises each ambient capability on its own and
// only warns when the kernel refuses: PR_CAP_AMBIENT_RAISE needs the capability permitted and
// inheritable (capabilities(7)). The plan interpreter skips those silently, so the warnings are
// worded here, as runc words them, for the init (run, create) and for exec alike.
import type { Process } from '../spec/types.js';

export function ambientWarnings(caps: Process['capabilities']): string[] {
  const can = (c: string) => !!caps?.permitted?.includes(c) && !!caps?.inheritable?.includes(c);
  return [...new Set(caps?.ambient ?? [])]
    .filter((c) => !can(c))
    .map((c) => `can't raise ambient capability ${c.replace(/^CAP_/, '').toLowerCase()}: operation not permitted`);
}
