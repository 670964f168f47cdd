// Seed-fixed short fuzz pass of the spec target (test/fuzz/targets.ts): any input ends in a result
// or a TsrunError, within a time bound. `npm run fuzz` runs the same targets for longer, with a
// fresh seed; FUZZ_RUNS here raises the number of inputs.
import test from 'ava';
import fc from 'fast-check';
import { propertyOf, report } from '../fuzz/targets.js';

const runs = Number(process.env.FUZZ_RUNS ?? 300);

test('fuzz spec: arbitrary input ends in a result or a TsrunError (seed 13)', async (t) => {
  const details = await fc.check(propertyOf('spec'), { seed: 13, numRuns: runs });
  t.false(details.failed, details.failed ? report(details) : '');
  t.log(`${details.numRuns} inputs`);
});
