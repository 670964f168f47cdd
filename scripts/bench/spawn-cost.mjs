#!/usr/bin/env node
// Spawn cost against the caller's size (issue 8): how long `Runtime.run()` takes to start a
// container (create → the process has exec'd) from a Node process of ~40 MiB RSS and of ~2 GiB
// RSS, for each spawn path: 'direct' (clone3 of the caller: the kernel copies its page tables, so
// the cost grows with RSS) and 'helper' (posix_spawn of the static tsrun-init: vfork-like, flat).
//
// Each (size, path) runs in its own child process (a fresh heap of exactly that size, touched so
// the pages are really mapped), using the built library (dist/index.js) and a busybox rootfs.
//
//   node scripts/bench/spawn-cost.mjs [--iterations 20] [--big-mib 2048] [--json]
//
// As a bench suite (scripts/bench/suites): the default export is { name, title, run(ctx) } and
// returns rows with op "start", impl "<path>@<size>", and the ratios big/small per path.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { summarize } from './stats.mjs';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(import.meta.url);
const REPO = path.resolve(path.dirname(SCRIPT), '../..');
const MiB = 1 << 20;

function makeRootfs(dir, busybox = '/bin/busybox') {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(path.join(rootfs, d), { recursive: true });
  copyFileSync(busybox, path.join(rootfs, 'bin/busybox'));
  for (const a of ['sh', 'true']) symlinkSync('busybox', path.join(rootfs, 'bin', a));
  return rootfs;
}

/** In the child: grow to rssMiB, then time `iterations` container starts. */
async function measure({ rssMiB, mode, iterations, warmup, rootfs, root }) {
  const { Runtime } = await import(pathToFileURL(path.join(REPO, 'dist/index.js')).href);
  const rt = new Runtime({ root, spawn: mode });
  const have = process.memoryUsage().rss;
  let ballast = null;
  if (rssMiB * MiB > have) {
    ballast = Buffer.allocUnsafeSlow(rssMiB * MiB - have);
    ballast.fill(1); // touch every page: untouched pages have no page-table entries to copy
  }
  const samples = [];
  // How long the event loop was blocked at worst meanwhile (the spawn's synchronous part).
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const loop = monitorEventLoopDelay({ resolution: 1 });
  for (let i = 0; i < warmup + iterations; i++) {
    if (i === warmup) loop.enable();
    const id = `spawn-cost-${process.pid}-${i}`;
    const t0 = performance.now();
    const c = await rt.run(id, { rootfs, args: ['/bin/true'], stdio: 'ignore', network: 'host' });
    const ms = performance.now() - t0;
    await c.wait();
    await c.delete();
    if (i >= warmup) samples.push(ms);
  }
  loop.disable();
  return { rssMiB: Math.round(process.memoryUsage().rss / MiB), ballast: ballast?.length ?? 0, samples, loopMaxMs: Math.round(loop.max / 1e4) / 100 };
}

/** Runs every (size, path) in its own process; returns rows for the bench report. */
export async function spawnCost({
  iterations = 20,
  warmup = 3,
  bigMiB = 2048,
  smallMiB = 40,
  modes = ['direct', 'helper'],
  busybox,
  progress = () => {},
} = {}) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsrun-spawn-cost-'));
  try {
    const rootfs = makeRootfs(tmp, busybox);
    const rows = [];
    for (const mode of modes) {
      for (const [size, mib] of [
        ['small', smallMiB],
        ['big', bigMiB],
      ]) {
        progress(`  spawn-cost: ${mode} at ${mib} MiB`);
        const root = path.join(tmp, `state-${mode}-${size}`);
        const arg = JSON.stringify({ rssMiB: mib, mode, iterations, warmup, rootfs, root });
        const { stdout } = await run(process.execPath, [SCRIPT, '--child', arg], { maxBuffer: 16 * MiB, timeout: 600_000 });
        const r = JSON.parse(stdout);
        rows.push({
          suite: 'spawn-cost',
          op: 'start',
          impl: `${mode}@${size}`,
          label: `run() at ${r.rssMiB} MiB RSS (${mode})`,
          rssMiB: r.rssMiB,
          loopMaxMs: r.loopMaxMs,
          failures: 0,
          ...summarize(r.samples),
          samples: r.samples.map((x) => Math.round(x * 100) / 100),
        });
      }
    }
    const ratioPairs = modes.map((m) => ({ op: 'start', impl: `${m}@big`, base: `${m}@small` }));
    return { rows, ratioPairs };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export default {
  name: 'spawn-cost',
  title: 'Container start from the library at ~40 MiB and ~2 GiB caller RSS (direct clone vs static helper)',
  async run(ctx) {
    return spawnCost({ iterations: ctx.opts.iterations, warmup: ctx.opts.warmup, busybox: ctx.busybox, progress: ctx.progress });
  },
};

if (process.argv[1] === SCRIPT) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    process.stdout.write(JSON.stringify(await measure(JSON.parse(args[1]))));
  } else {
    if (process.getuid?.() !== 0) {
      process.stderr.write('spawn-cost: skipped: needs root\n');
      process.exit(0);
    }
    const opt = (name, def) => {
      const i = args.indexOf(`--${name}`);
      return i >= 0 ? Number(args[i + 1]) : def;
    };
    const { rows, ratioPairs } = await spawnCost({
      iterations: opt('iterations', 20),
      bigMiB: opt('big-mib', 2048),
      progress: (m) => process.stderr.write(`${m}\n`),
    });
    const ratios = ratioPairs.map((p) => {
      const a = rows.find((r) => r.impl === p.impl);
      const b = rows.find((r) => r.impl === p.base);
      return { path: p.impl.split('@')[0], medianRatio: Math.round((a.median / b.median) * 100) / 100 };
    });
    if (args.includes('--json')) process.stdout.write(`${JSON.stringify({ rows, ratios })}\n`);
    else {
      for (const r of rows)
        process.stdout.write(`${r.label.padEnd(40)} median ${r.median} ms  p90 ${r.p90} ms  (n=${r.n})  event loop blocked up to ${r.loopMaxMs} ms\n`);
      for (const r of ratios) process.stdout.write(`${r.path}: 2 GiB / 40 MiB = ${r.medianRatio}×\n`);
    }
  }
}
