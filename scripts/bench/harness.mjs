// The measuring loop shared by every bench suite: a timed, bounded spawn and an interleaved
// iteration scheduler that records samples, failures and when it stopped early.
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { summarize } from './stats.mjs';

export class StepError extends Error {}

export class Harness {
  /**
   * @param {{opTimeout:number, deadlineAt:number, logPath:string, progress:(msg:string)=>void,
   *   childCpu?: (() => number) | null, meter?: string | null}} o
   * deadlineAt is a Date.now() value; opTimeout is in seconds; childCpu reads the cumulative CPU
   * ms of waited-for children (cpu.mjs); meter is the compiled meter.c (meter.mjs): when given,
   * every timed call runs under it, which reports the call's own wall, CPU and peak RSS.
   */
  constructor(o) {
    this.childCpu = o.childCpu ?? null;
    this.meter = o.meter ?? null;
    /** CPU ms of the timed calls of the task in progress. */
    this.taskCpu = 0;
    /** The largest peak RSS (KiB) of the timed calls of the task in progress (meter only). */
    this.taskRss = 0;
    this.opTimeoutMs = o.opTimeout * 1000;
    this.deadlineAt = o.deadlineAt;
    this.progress = o.progress;
    // Runtime output goes to a file, never a pipe: the init of a created container inherits its
    // stdio and would hold a pipe open until it exits, which makes spawnSync wait for `start`.
    this.logPath = o.logPath;
    this.logFd = openSync(o.logPath, 'a');
    this.stopReason = null;
    /** @type {{suite:string, op:string, impl:string, iteration:number, message:string}[]} */
    this.errors = [];
  }

  close() {
    closeSync(this.logFd);
  }

  /** Set by a signal handler: the loop ends after the call in progress and the suite cleans up. */
  stop(reason) {
    this.stopReason ??= reason;
  }

  shouldStop() {
    if (!this.stopReason && Date.now() > this.deadlineAt) this.stopReason = 'deadline reached (--deadline)';
    return this.stopReason !== null;
  }

  /**
   * Runs cmd with stdin closed and stdout+stderr into the log file; returns the wall time in ms
   * (including this process's fork/exec cost, which the "/bin/true" floor measures). Throws a
   * StepError naming the command, its exit status and the tail of its output when it fails.
   */
  timed(cmd, args, { env = process.env, cwd } = {}) {
    ftruncateSync(this.logFd, 0);
    const c0 = this.meter ? 0 : this.childCpu?.();
    const t0 = process.hrtime.bigint();
    const r = this.meter ? this.#spawn(this.meter, [cmd, ...args], env, cwd, true) : this.#spawn(cmd, args, env, cwd);
    let ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const report = this.meter && r.output?.[3]?.toString().trim().split(/\s+/).map(Number);
    if (report?.length === 4) {
      // The meter's own numbers: fork to reaping of the runtime call, without this process's
      // spawnSync overhead; CPU and peak RSS of that call alone.
      const [ns, userUs, sysUs, rssKiB] = report;
      ms = ns / 1e6;
      this.taskCpu += (userUs + sysUs) / 1000;
      this.taskRss = Math.max(this.taskRss, rssKiB);
    } else if (this.childCpu && !this.meter) this.taskCpu += this.childCpu() - c0;
    if (r.error || r.status !== 0) {
      let why;
      if (r.error?.code === 'ETIMEDOUT') why = `timed out after ${this.opTimeoutMs / 1000} s (--op-timeout)`;
      else if (r.error) why = r.error.message;
      else if (r.signal) why = `killed by ${r.signal}`;
      else why = `exit status ${r.status}`;
      const out = readFileSync(this.logPath, 'utf8').trim().slice(-600);
      throw new StepError(`${[cmd, ...args].join(' ')}: ${why}${out ? `: ${out}` : ''}`);
    }
    return ms;
  }

  /** Runs cmd untimed, ignoring failure (cleanup); returns whether it exited 0. */
  quiet(cmd, args, { env = process.env, cwd } = {}) {
    const r = this.#spawn(cmd, args, env, cwd);
    return !r.error && r.status === 0;
  }

  /**
   * Each call leads its own process group (detached: setsid), so that on a timeout the whole
   * group goes, not only the direct child (spawnSync kills just that one).
   */
  #spawn(cmd, args, env, cwd, report = false) {
    const stdio = ['ignore', this.logFd, this.logFd, ...(report ? ['pipe'] : [])];
    const r = spawnSync(cmd, args, { stdio, env, cwd, timeout: this.opTimeoutMs, killSignal: 'SIGKILL', detached: true });
    if (r.error?.code === 'ETIMEDOUT' && r.pid) {
      try {
        process.kill(-r.pid, 'SIGKILL');
      } catch {
        /* the group is already gone */
      }
    }
    return r;
  }

  /**
   * Interleaves tasks: every iteration runs each task once, in declaration order, except that
   * tasks of one op take turns going first (iteration i starts at the (i mod k)-th), so neither a
   * runtime's position nor slow drift of the machine favours one of them. A task returns its wall
   * time in ms, or an object of named part times whose sum is the sample (the parts are kept as
   * rows "op:part"). The CPU time of the task's timed calls is kept as `cpu`, and with the meter the
   * largest peak RSS of its calls as `rssMiB`. After `maxFailures` failures (default 3) a task is dropped.
   *
   * @param {{suite:string, iterations:number, warmup:number,
   *   tasks:{op:string, impl:string, label?:string, maxFailures?:number,
   *     run:(i:number)=>number|Record<string,number>}[]}} o
   * @returns {Promise<object[]>} one row per (op, impl) and per (op:part, impl): samples and summary
   */
  async interleave({ suite, iterations, warmup, tasks }) {
    const groups = [];
    for (const t of tasks) {
      const g = groups.find((x) => x.op === t.op);
      if (g) g.tasks.push(t);
      else groups.push({ op: t.op, tasks: [t] });
    }
    const state = new Map(tasks.map((t) => [t, { samples: [], cpu: [], rss: [], parts: {}, failures: 0, dropped: false }]));
    const total = warmup + iterations;
    let lastProgress = 0;
    for (let it = 0; it < total && !this.shouldStop(); it++) {
      const measured = it >= warmup;
      for (const g of groups) {
        const k = g.tasks.length;
        for (let j = 0; j < k && !this.shouldStop(); j++) {
          const t = g.tasks[(it + j) % k];
          const st = state.get(t);
          if (st.dropped) continue;
          // Let signal handlers run (they only set stopReason): a synchronous loop would defer
          // them until the end.
          await new Promise(setImmediate);
          if (this.shouldStop()) break;
          try {
            this.taskCpu = 0;
            this.taskRss = 0;
            const r = t.run(it);
            if (!measured) continue;
            if (this.childCpu || this.meter) st.cpu.push(this.taskCpu);
            if (this.meter && this.taskRss) st.rss.push(this.taskRss / 1024);
            if (typeof r === 'number') st.samples.push(r);
            else {
              st.samples.push(Object.values(r).reduce((a, b) => a + b, 0));
              for (const [part, ms] of Object.entries(r)) (st.parts[part] ??= []).push(ms);
            }
          } catch (err) {
            if (!(err instanceof StepError)) throw err;
            st.failures++;
            this.errors.push({ suite, op: t.op, impl: t.impl, iteration: it, message: err.message });
            this.progress(`  ${t.impl} ${t.op} failed: ${err.message}`);
            if (st.failures >= (t.maxFailures ?? 3)) {
              st.dropped = true;
              this.progress(`  dropping ${t.impl} ${t.op} after ${st.failures} failures`);
            }
          }
        }
      }
      if (Date.now() - lastProgress > 5000 || it === total - 1) {
        lastProgress = Date.now();
        this.progress(`  ${suite}: iteration ${it + 1}/${total}${measured ? '' : ' (warm-up)'}`);
      }
    }
    const rows = [];
    for (const t of tasks) {
      const st = state.get(t);
      const base = { suite, impl: t.impl, failures: st.failures };
      const cpu = st.cpu.length ? { cpu: summarize(st.cpu), cpuSamples: st.cpu.map(r2) } : {};
      const rss = st.rss.length ? { rssMiB: summarize(st.rss) } : {};
      rows.push({ ...base, op: t.op, label: t.label ?? t.op, ...summarize(st.samples), samples: st.samples.map(r2), ...cpu, ...rss });
      for (const [part, ms] of Object.entries(st.parts)) {
        rows.push({ ...base, op: `${t.op}:${part}`, label: `  ${part}`, ...summarize(ms), samples: ms.map(r2) });
      }
    }
    return rows;
  }
}

const r2 = (x) => Math.round(x * 100) / 100;
