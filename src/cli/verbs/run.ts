import { runContainer } from '../../container/run.js';
import type { VerbContext } from '../main.js';
import { verbFunction } from '../verb-module.js';
import { finishRun } from '../finish-run.js';
import { createFlags } from './flags.js';

export default async function run(ctx: VerbContext): Promise<number> {
  // tsrun addition: `run --image` is docker-run-like; without it, runc's `run` exactly.
  if (ctx.cl.flags.image !== undefined) return verbFunction(await import('./run-image.js'))(ctx);
  const { cl, log, id } = ctx;
  const flags = createFlags(cl);
  const detach = cl.flags.detach === true;
  // runc run.go: in the foreground tsrun stays the init's parent and a subreaper.
  const created = await runContainer({ id, ...flags, detach, subreaper: !detach, logger: log });
  return finishRun(created, { root: cl.global.root, id, detach, keep: cl.flags.keep === true, notifySocket: flags.notifySocket, logger: log });
}
