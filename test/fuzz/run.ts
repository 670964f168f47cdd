// `npm run fuzz`: every target of ./targets.ts for a set time with a fresh seed.
//   FUZZ_SECONDS  total time, shared equally by the targets (default 120)
//   FUZZ_TARGETS  comma-separated subset (tar,reference,manifest,spec)
//   FUZZ_SEED     replay a run (printed at the start and in the summary)
// Prints, per target, the inputs tried and any finding (with fast-check's counterexample and the
// seed and path to replay it); exits 1 on a finding.
import fc from 'fast-check';
import { propertyOf, report, TARGETS, type TargetName } from './targets.js';

const seconds = Number(process.env.FUZZ_SECONDS ?? 120);
const names = (process.env.FUZZ_TARGETS ? process.env.FUZZ_TARGETS.split(',') : Object.keys(TARGETS)) as TargetName[];
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
for (const n of names) if (!(n in TARGETS)) throw new Error(`unknown fuzz target ${n} (have ${Object.keys(TARGETS).join(', ')})`);

console.log(`fuzz: ${names.join(', ')} for ${seconds} s in all, seed ${seed}`);
let failed = false;
const summary: Record<string, unknown>[] = [];
for (const name of names) {
  const budget = (seconds * 1000) / names.length;
  const t0 = Date.now();
  const rss0 = process.memoryUsage().rss;
  const details = await fc.check(propertyOf(name), {
    seed,
    numRuns: Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: budget,
    markInterruptAsFailure: false,
  });
  const row = {
    target: name,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    inputs: details.numRuns,
    skipped: details.numSkips,
    failed: details.failed,
    maxRssMB: Math.round(Math.max(rss0, process.memoryUsage().rss) / 1048576),
  };
  summary.push(row);
  console.log(JSON.stringify(row));
  if (details.failed) {
    failed = true;
    console.log(report(details));
  }
}
console.log(`fuzz: ${summary.reduce((a, r) => a + (r.inputs as number), 0)} inputs in all, ${failed ? 'FINDINGS above' : 'no findings'} (seed ${seed})`);
process.exit(failed ? 1 : 0);
