// The measuring process of `npm run bench`, inside the private mount namespace made by
// scripts/bench.mjs: arranges cgroups, finds the runtimes, runs the suites, cleans up, reports.
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childCpuReader } from './cpu.mjs';
import { arrangeCgroups, findBusybox, findRuntimes, removeCgroupTree } from './env.mjs';
import { Harness } from './harness.mjs';
import { buildMeter } from './meter.mjs';
import { formatSuite, ratio } from './stats.mjs';
import { SUITES } from './suites/index.mjs';

/** @returns {Promise<number>} the exit code */
export async function runInner({ opts, repo, tmp, cgName, say }) {
  const started = new Date();
  const meta = {
    started: started.toISOString(),
    iterations: opts.iterations,
    warmup: opts.warmup,
    kernel: os.release(),
    cpus: os.cpus().length,
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset',
    jsOnly: opts.jsOnly,
  };
  // The mode is the option's: a TSRUN_FAST=0 left in the caller's shell would otherwise run the
  // default mode on the JS engine without the report saying so (--js-only sets it per tsrun row).
  delete process.env.TSRUN_FAST;
  const result = { meta, skipped: {}, rows: [], ratios: [], errors: [], suiteErrors: {}, cleanupProblems: [] };
  const cleanups = [];
  let harness;
  const onSignal = (sig) => {
    harness?.stop(`interrupted by ${sig}`);
    say(`bench: ${sig}: stopping after the call in progress, then cleaning up`);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, onSignal);
  const cgDir = `/sys/fs/cgroup/${cgName}`;
  try {
    meta.cgroups = arrangeCgroups();
    // The parent cgroup exists before any container, so no runtime pays for making it.
    mkdirSync(cgDir);
    cleanups.push(() => result.cleanupProblems.push(...removeCgroupTree(cgDir)));
    const busybox = findBusybox();
    const { found, skipped } = findRuntimes(opts.runtimes, repo, opts.tsrun, { jsOnly: opts.jsOnly });
    result.skipped = skipped;
    meta.runtimes = found;
    for (const [name, why] of Object.entries(skipped)) say(`bench: skipping ${name}: ${why}`);
    const meter = buildMeter(tmp);
    meta.meter = meter.path
      ? 'wait4 per call (scripts/bench/meter.c): wall fork→reap, CPU and peak RSS of the call'
      : `none (${meter.why}): wall and CPU from this process`;
    harness = new Harness({
      meter: meter.path,
      opTimeout: opts.opTimeout,
      deadlineAt: Date.now() + opts.deadline * 1000,
      logPath: path.join(tmp, 'output.log'),
      progress: say,
      childCpu: childCpuReader(repo),
    });
    cleanups.push(() => harness.close());
    for (const suite of SUITES.filter((s) => opts.suites.includes(s.name))) {
      if (harness.shouldStop()) break;
      say(`bench: suite ${suite.name}`);
      const suiteTmp = path.join(tmp, suite.name);
      mkdirSync(suiteTmp);
      const mine = [];
      const ctx = { opts, harness, tmp: suiteTmp, repo, runtimes: found, busybox, cgroupParent: `/${cgName}`, onCleanup: (fn) => mine.push(fn), progress: say };
      try {
        const r = await suite.run(ctx);
        result.rows.push(...r.rows);
        for (const p of r.ratioPairs) {
          const x = ratio(result.rows, suite.name, p.op, p.impl, p.base);
          if (x) result.ratios.push(x);
        }
        if (r.meta) meta[suite.name] = r.meta;
      } catch (err) {
        result.suiteErrors[suite.name] = err.message;
        say(`bench: suite ${suite.name} failed: ${err.stack ?? err.message}`);
      } finally {
        for (const fn of mine.reverse()) {
          try {
            fn();
          } catch (err) {
            result.cleanupProblems.push(`${suite.name}: ${err.message}`);
          }
        }
      }
    }
  } catch (err) {
    result.suiteErrors.setup = err.message;
    say(err.message);
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        fn();
      } catch (err) {
        result.cleanupProblems.push(err.message);
      }
    }
    try {
      rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      result.cleanupProblems.push(`remove ${tmp}: ${err.message}`);
    }
  }
  result.errors = harness?.errors ?? [];
  meta.stopped = harness?.stopReason ?? null;
  meta.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  meta.seconds = Math.round((Date.now() - started.getTime()) / 100) / 10;

  if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`${report(result, opts)}\n`);
  const failed = Object.keys(result.suiteErrors).length > 0 || result.errors.length > 0 || result.cleanupProblems.length > 0;
  return failed ? 1 : harness?.stopReason?.startsWith('interrupted') ? 130 : 0;
}

function report(result, opts) {
  const m = result.meta;
  const out = [];
  out.push(
    `tsrun bench: ${m.iterations} iterations (+${m.warmup} warm-up), interleaved; kernel ${m.kernel}, ${m.cpus} CPUs, load ${m.loadavgStart.join(' ')} -> ${m.loadavgEnd.join(' ')}, ${m.seconds} s`,
  );
  if (m.cgroups) out.push(`cgroups: ${m.cgroups}`);
  if (m.meter) out.push(`measured: ${m.meter}`);
  for (const [name, r] of Object.entries(m.runtimes ?? {})) out.push(`${name}: ${r.version} (${r.path})`);
  const fronts = new Set(Object.values(m.runtimes ?? {}).flatMap((r) => (r.front ? [r.front] : [])));
  for (const front of fronts) out.push(`tsrun's state, kill, start and delete: ${front}`);
  for (const [name, why] of Object.entries(result.skipped)) out.push(`${name}: skipped: ${why}`);
  if (m.runtime) {
    out.push(
      `config: \`${m.runtime.specFrom} spec\`${m.runtime.specFrom === 'own' ? ' of each runtime' : ', the same for all'}; terminal false, args [/bin/true], no linux.resources, cgroupsPath /<bench>/<runtime>`,
    );
    out.push(`state dirs (--root): ${m.runtime.stateDir === 'tmpfs' ? 'a private tmpfs, as /run' : 'disk, under the system temp dir'}`);
    out.push(`node: ${m.runtime.node}; NODE_EXTRA_CA_CERTS ${m.NODE_EXTRA_CA_CERTS} (bin/tsrun drops it for runtime verbs)`);
    if (m.runtime.bun) out.push(`bun: ${m.runtime.bun}`);
  }
  if (m.stopped) out.push(`STOPPED EARLY: ${m.stopped}`);
  for (const suite of SUITES.filter((s) => opts.suites.includes(s.name))) {
    if (result.rows.some((r) => r.suite === suite.name)) out.push('', formatSuite(suite, result.rows, result.ratios));
  }
  if (result.ratios.length)
    out.push(
      '',
      `ratios: median (p90); below 1.00× means tsrun is faster; tsrun-<engine> is bin/tsrun with TSRUN_ENGINE=<engine>${m.jsOnly ? ' TSRUN_FAST=0' : ''}`,
    );
  for (const [suite, msg] of Object.entries(result.suiteErrors)) out.push(`suite ${suite} failed: ${msg}`);
  if (result.errors.length) {
    out.push('', `${result.errors.length} failed call(s):`);
    for (const e of result.errors.slice(0, 10)) out.push(`  ${e.impl} ${e.op} #${e.iteration}: ${e.message}`);
  }
  for (const p of result.cleanupProblems) out.push(`cleanup: ${p}`);
  return out.join('\n');
}
