#!/usr/bin/env node
// `npm run bench`: tsrun against runc and crun, interleaved in one process tree (issue 3, Speed;
// DESIGN.md, performance budget). See scripts/bench/suites/index.mjs for the suites.
//
// Two processes: this one (outer) makes a scratch directory and a cgroup name, then re-runs itself
// under `unshare -m` (inner), where scripts/bench/env.mjs arranges the same cgroup v2 view for
// every runtime. The outer one is the safety net: a watchdog past --deadline, and, if the inner
// one died without cleaning up, it kills what is left in the bench cgroup and removes the scratch
// directory. Non-root: nothing can be measured, so it says so and exits 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, USAGE } from './bench/args.mjs';
import { cgroup2Mount, removeCgroupTree, which } from './bench/env.mjs';
import { runInner } from './bench/inner.mjs';

const INNER = 'TSRUN_BENCH_INNER';
const script = fileURLToPath(import.meta.url);
const repo = path.resolve(path.dirname(script), '..');

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const say = (msg) => opts.quiet || process.stderr.write(`${msg}\n`);

if (process.env[INNER]) {
  const { tmp, cgName } = JSON.parse(process.env[INNER]);
  process.exitCode = await runInner({ opts, repo, tmp, cgName, say });
} else {
  process.exitCode = await runOuter();
}

async function runOuter() {
  const skip = process.platform !== 'linux' ? 'needs Linux' : process.getuid() !== 0 ? 'needs root (the runtimes create namespaces and mounts)' : null;
  const unshare = which('unshare');
  if (skip || !unshare) {
    const reason = skip ?? 'needs unshare(1) from util-linux';
    process.stderr.write(`bench: skipped: ${reason}\n`);
    if (opts.json) process.stdout.write(`${JSON.stringify({ skipped: reason })}\n`);
    return 0;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-'));
  const cgName = `tsrun-bench-${process.pid}`;
  const child = spawn(unshare, ['--mount', '--propagation', 'private', '--', process.execPath, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [INNER]: JSON.stringify({ tmp, cgName }) },
  });
  const forward = (sig) => child.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward);
  // The inner process stops iterating at --deadline by itself; this only catches a hang.
  const grace = Math.max(120, opts.opTimeout * 6) * 1000;
  let killTimer;
  const watchdog = setTimeout(
    () => {
      process.stderr.write(`bench: no result ${grace / 1000} s past --deadline; terminating\n`);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 15000);
    },
    opts.deadline * 1000 + grace,
  );
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(watchdog);
  clearTimeout(killTimer);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(sig, forward);

  // Safety net. The inner /sys/fs/cgroup/<cgName> is <host cgroup2 mount>/<cgName> out here.
  const problems = [];
  const cg2 = cgroup2Mount();
  if (cg2) problems.push(...removeCgroupTree(path.join(cg2, cgName)));
  try {
    rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    problems.push(`remove ${tmp}: ${err.message}`);
  }
  if (problems.length) process.stderr.write(`bench: cleanup problems: ${problems.join('; ')}\n`);
  if (signal) return 128 + (os.constants.signals[signal] ?? 0);
  return problems.length && code === 0 ? 1 : (code ?? 1);
}
