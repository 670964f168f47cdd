// The bench suites, run in this order by scripts/bench.mjs.
//
// Adding one (issue 6: pull+unpack vs skopeo+umoci, layer apply vs tar -xzf; issue 8: spawn cost
// at 40 MiB and 2 GiB RSS): write suites/<name>.mjs whose default export is
//   { name, title, run(ctx) => { rows, ratioPairs, meta? } }
// and list it below. run() builds what it needs under ctx.tmp, measures with
// ctx.harness.interleave({suite, iterations, warmup, tasks}) (each task {op, label, impl, run(i)}
// returns ms, or named parts in ms), and registers undo steps with ctx.onCleanup(fn) as soon as it
// creates something outside ctx.tmp. ratioPairs [{op, impl, base}] name the ratios to print.
// A suite that cannot run here throws an Error whose message says why; the others still run.
import runtime from './runtime.mjs';
import spawnCost from '../spawn-cost.mjs';
import images from './images.mjs';

/**
 * @typedef {object} SuiteContext
 * @property {ReturnType<typeof import('../args.mjs').parseArgs>} opts
 * @property {import('../harness.mjs').Harness} harness
 * @property {string} tmp          scratch directory of this suite, removed afterwards
 * @property {string} repo         the tsrun checkout
 * @property {Record<string,{path:string, version:string}>} runtimes  the runtimes found
 * @property {string} busybox      a static busybox
 * @property {string} cgroupParent absolute cgroupsPath under which containers go ("/tsrun-bench-<pid>")
 * @property {(fn:()=>void)=>void} onCleanup  runs in reverse order at the end, even on failure
 * @property {(msg:string)=>void} progress
 */

export const SUITES = [runtime, spawnCost, images];
