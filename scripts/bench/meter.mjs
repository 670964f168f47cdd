// Builds meter.c (the per-call wall/CPU/peak-RSS reporter the harness runs every timed call
// under) into the bench's scratch directory. Without a C compiler the bench falls back to
// getrusage(RUSAGE_CHILDREN) for CPU (cpu.mjs) and reports no RSS.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from './env.mjs';

/** @returns {{path: string | null, why?: string}} */
export function buildMeter(tmp) {
  const cc = which('cc') ?? which('gcc') ?? which('clang');
  if (!cc) return { path: null, why: 'no C compiler (cc) to build scripts/bench/meter.c' };
  const src = path.join(path.dirname(fileURLToPath(import.meta.url)), 'meter.c');
  const out = path.join(tmp, 'meter');
  const r = spawnSync(cc, ['-O2', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) return { path: null, why: `${cc} meter.c: ${(r.stderr || r.error?.message || '').trim().slice(0, 300)}` };
  return { path: out };
}
