import { runContainer } from '../../container/run.js';
import type { VerbContext } from '../main.js';
import { bundleFlag, str } from './flags.js';

export default async function run({ cl, log, id }: VerbContext): Promise<number> {
  const r = await runContainer({
    id,
    bundle: bundleFlag(cl),
    root: cl.global.root,
    pidFile: str(cl, 'pid-file'),
    consoleSocket: str(cl, 'console-socket'),
    noPivot: cl.flags['no-pivot'] === true,
    preserveFds: Number(cl.flags['preserve-fds'] ?? 0),
    detach: cl.flags.detach === true,
    keep: cl.flags.keep === true,
    logger: log,
  });
  return r.status;
}
