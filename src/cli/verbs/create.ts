import { createContainer } from '../../container/create.js';
import type { VerbContext } from '../main.js';
import { bundleFlag, str } from './flags.js';

export default function create({ cl, log, id }: VerbContext): number {
  createContainer({
    id,
    bundle: bundleFlag(cl),
    root: cl.global.root,
    mode: 'create',
    pidFile: str(cl, 'pid-file'),
    consoleSocket: str(cl, 'console-socket'),
    pidfdSocket: str(cl, 'pidfd-socket'),
    noPivot: cl.flags['no-pivot'] === true,
    preserveFds: Number(cl.flags['preserve-fds'] ?? 0),
    systemdCgroup: cl.global.systemdCgroup,
    logger: log,
  });
  return 0;
}
