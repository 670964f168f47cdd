// The code-runner example (examples/code-runner/server.mjs, written against the published package:
// `import { Runtime } from '@tsrun-oci/tsrun'` → dist/index.js) under load: 100 requests, 20 at a time, each
// a fresh container. All must be answered correctly; afterwards this process holds no more fds
// than before, has no zombie children, and the state root is empty; and the event loop never
// stalled over 50 ms while containers were being made (perf_hooks.monitorEventLoopDelay; on a real
// CPU: under qemu TCG the bound is reported, not asserted).
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CodeRunnerAnswer } from '../../examples/code-runner/server.mjs';
import { emulatedCpu } from '../helpers/emulated-cpu.js';
import { ensureTestRootfs, REPO_ROOT } from '../helpers/rootfs.js';
import { needs, root } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

const DIST = path.join(REPO_ROOT, 'dist/index.js');

type Answer = CodeRunnerAnswer;

function post(port: number, body: string, json = false): Promise<{ status: number; body: Answer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { port, method: 'POST', path: '/run', agent: false, headers: { 'content-type': json ? 'application/json' : 'text/plain' } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Answer });
          } catch (err) {
            reject(new Error(`bad JSON from the service (${res.statusCode}): ${data}`, { cause: err }));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function childZombies(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === process.pid && rest[0] === 'Z') out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

const fdCount = () => readdirSync('/proc/self/fd').length;

function fdTargets(): Map<string, string> {
  const m = new Map<string, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      m.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      /* the readdir fd itself */
    }
  }
  return m;
}

function newFds(before: Map<string, string>): string[] {
  return [...fdTargets()].filter(([fd, target]) => before.get(fd) !== target).map(([fd, target]) => `${fd} → ${target}`);
}

interface Case {
  body: string;
  json: boolean;
  check(a: Answer): boolean;
}

function makeCase(i: number): Case {
  if (i % 25 === 7) {
    // Runs past its timeout: killed, reported as such.
    return {
      body: JSON.stringify({ code: `echo started ${i}; sleep 30`, timeoutMs: 300 }),
      json: true,
      check: (a) => a.timedOut && a.signal === 9 && a.stdout === `started ${i}\n`,
    };
  }
  if (i % 10 === 3) {
    return {
      body: JSON.stringify({ code: 'tr a-z A-Z; echo to-err >&2', stdin: `input ${i}\n` }),
      json: true,
      check: (a) => a.exitCode === 0 && a.stdout === `INPUT ${i}\n` && a.stderr === 'to-err\n',
    };
  }
  return {
    body: `echo $((${i} * ${i})); hostname; id -u; exit $((${i} % 7))`,
    json: false,
    check: (a) => a.exitCode === i % 7 && a.stdout === `${i * i}\nsandbox\n65534\n` && !a.timedOut,
  };
}

needs(root('containers'))('code runner: 100 requests, 20 at a time, no leaks, no event-loop stall', async (t) => {
  if (!existsSync(DIST)) {
    t.fail(`${DIST} is missing: the example imports the built package (npm run build:ts)`);
    return;
  }
  const rootfs = await ensureTestRootfs();
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsrun-coderunner-'));
  const { createCodeRunner } = await import('../../examples/code-runner/server.mjs');
  const { server, runtime } = createCodeRunner({ rootfs, root, timeoutMs: 10_000 });
  t.teardown(() => {
    server.close();
    rmSync(root, { recursive: true, force: true });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  // Warm-up: the first container loads the addon, seccomp and the rest once.
  const warm = await post(port, 'echo warm');
  t.is(warm.body.stdout, 'warm\n', JSON.stringify(warm.body));
  t.log(`limits applied: ${warm.body.limits} (cgroup limits need cgroup v2 controllers; hybrid hosts get rlimits + the timeout)`);
  const fdsBefore = fdCount();
  const fdMap = fdTargets();

  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // The same stalls seen from a 5 ms timer, with the CPU time this process used meanwhile: a
  // stall with little CPU is the scheduler's (other processes ran), not work on the loop.
  let busiest = { wallMs: 0, cpuMs: 0 };
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  const sampler = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (cpuMs > busiest.cpuMs) busiest = { wallMs: now - last, cpuMs };
    last = now;
    lastCpu = process.cpuUsage();
  }, 5);
  const t0 = performance.now();
  const cases = Array.from({ length: 100 }, (_, i) => makeCase(i));
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i];
      const r = await post(port, c.body, c.json);
      if (r.status !== 200 || !c.check(r.body)) failures.push(`#${i}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  const wall = performance.now() - t0;
  h.disable();
  clearInterval(sampler);

  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  t.log(
    `100 requests in ${wall.toFixed(0)} ms; event-loop delay: max ${ms(h.max)} ms, p99 ${ms(h.percentile(99))} ms, p50 ${ms(h.percentile(50))} ms, mean ${ms(h.mean)} ms`,
  );
  t.log(`busiest gap between two 5 ms ticks: ${busiest.cpuMs.toFixed(1)} ms of this process's CPU in ${busiest.wallMs.toFixed(1)} ms`);
  t.deepEqual(failures, []);
  // Under qemu TCG (the test VM) every instruction is emulated, about 14 times slower, and a
  // vCPU is a host thread among the host's load: a bound in milliseconds there measures the
  // emulator (the loop was seen busy 1.1 s at once, stalled 1.8 s), so the two 50 ms bounds are
  // only reported (above); every functional assertion is made all the same.
  const emulated = emulatedCpu();
  if (emulated) t.log(`${emulated}: the 50 ms loop-busy and event-loop-stall bounds are not asserted`);
  else {
    t.true(busiest.cpuMs < 50, `the loop was busy ${busiest.cpuMs.toFixed(1)} ms at once`);
    // On a host with more runnable threads than CPUs, the scheduler alone delays the loop by tens
    // of ms (a 2-CPU CI box running the other suites in parallel): the 50 ms bound is asserted
    // when the load average during the run was below the CPU count, and reported either way.
    const load = os.loadavg()[0];
    const cpus = os.cpus().length;
    if (load < cpus) {
      t.true(h.max < 50e6, `event loop stalled ${ms(h.max)} ms`);
    } else {
      t.log(`host overloaded (load ${load.toFixed(1)} on ${cpus} CPUs): 50 ms max-stall bound not asserted; p50 bound asserted`);
      t.true(h.percentile(50) < 50e6, `median event-loop delay ${ms(h.percentile(50))} ms`);
    }
  }

  // The server's callback runs once every connection has ended; the client ends of the sockets of
  // finished requests close asynchronously too: wait for the count to come back, bounded.
  await new Promise((resolve) => server.close(resolve));
  await t.notThrowsAsync(
    waitFor(() => fdCount() <= fdsBefore, {
      timeoutMs: 2000,
      what: () => `the fd count to return to ${fdsBefore} (leaked: ${fdsBefore} → ${fdCount()}: ${newFds(fdMap).join(', ')})`,
    }),
  );
  t.log(`fds before ${fdsBefore}, after ${fdCount()}`);
  t.deepEqual(childZombies(), []);
  t.deepEqual(await runtime.list(), []);
  t.deepEqual(readdirSync(root), []);
});
