import { runContainer } from '../../container/run.js';
import type { VerbContext } from '../main.js';
import { verbFunction } from '../verb-module.js';
import { createFlags } from './flags.js';

export default async function run(ctx: VerbContext): Promise<number> {
  // tsrun addition: `run --image` is docker-run-like; without it, runc's `run` exactly.
  if (ctx.cl.flags.image !== undefined) return verbFunction(await import('./run-image.js'))(ctx);
  const { cl, log, id } = ctx;
  const r = await runContainer({
    id,
    ...createFlags(cl),
    detach: cl.flags.detach === true,
    keep: cl.flags.keep === true,
    logger: log,
  });
  return r.status;
}
