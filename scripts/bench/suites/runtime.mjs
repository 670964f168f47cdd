// Suite "runtime" (issue 3, Speed; issue 15, per engine): the OCI lifecycle of tsrun, on each JS
// engine its launcher can use, against runc and crun, interleaved, on one busybox rootfs with one
// config, plus the process floors that explain the numbers.
//
// Every verb an engine calls is its own op, so each gets wall, CPU and peak RSS: the "cycle" ops
// create → start → exec → kill → delete follow one container (cyc-<i>, running `sleep`) through its
// life within each iteration (the harness runs an iteration's ops in this order).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeRootfs, which } from '../env.mjs';
import { StepError } from '../harness.mjs';

const BUN_BUILDS = ['bun-linux-x64-baseline', 'bun-linux-x64'];

/** A Bun of this checkout that runs (for the floors when the launcher cannot be asked), or null. */
function bunOf(repo) {
  for (const b of BUN_BUILDS) {
    const p = path.join(repo, 'node_modules/@oven', b, 'bin/bun');
    if (existsSync(p) && spawnSync(p, ['--version']).status === 0) return p;
  }
  return null;
}

/**
 * What the launcher at `launcher` (package top `top`) execs on Bun for `--version`: which Bun, its
 * arguments and the whole environment, asked of the launcher itself. The floor then measures
 * exactly that call without the sh shim, and follows the launcher when its Bun options change
 * (which it sets per verb and per install: the JIT, GC markers, transpiler cache), instead of
 * repeating them here. A `bin/tsrun --version` row alone would not do: the floor is there to
 * show what the shim costs on top. A copy of the launcher runs in a scratch package whose Bun
 * builds (those `top` has) are stand-ins that write their argv and environment; the one it chose
 * names the real Bun. Null when the launcher does not choose Bun.
 * @returns {{bun:string, args:string[], env:Record<string,string>} | null}
 */
function launcherBunCall(launcher, top, dir, env) {
  const pkg = path.join(dir, 'launcher-probe');
  const main = path.join(pkg, 'dist/bun/tsrun.mjs');
  mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  mkdirSync(path.dirname(main), { recursive: true });
  copyFileSync(realpathSync(launcher), path.join(pkg, 'bin/tsrun'));
  chmodSync(path.join(pkg, 'bin/tsrun'), 0o755);
  writeFileSync(main, '');
  const argvFile = path.join(pkg, 'argv');
  const envFile = path.join(pkg, 'environ');
  for (const b of BUN_BUILDS.filter((x) => existsSync(path.join(top, 'node_modules/@oven', x, 'bin/bun')))) {
    const stand = path.join(pkg, 'node_modules/@oven', b, 'bin/bun');
    mkdirSync(path.dirname(stand), { recursive: true });
    writeFileSync(stand, `#!/bin/sh\nprintf '%s\\0' "$0" "$@" >'${argvFile}'\ncat /proc/$$/environ >'${envFile}'\n`, { mode: 0o755 });
  }
  const r = spawnSync(path.join(pkg, 'bin/tsrun'), ['--version'], { encoding: 'utf8', timeout: 20000, env: { ...env, TSRUN_ENGINE: 'bun' } });
  if (r.status !== 0 || !existsSync(argvFile)) return null;
  const nul = (file) => readFileSync(file, 'utf8').split('\0').slice(0, -1);
  const [chosen, ...args] = nul(argvFile);
  const i = args.findIndex((a) => path.resolve(a) === main);
  if (i < 0) return null;
  args[i] = path.join(top, 'dist/bun/tsrun.mjs');
  const called = Object.fromEntries(nul(envFile).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { bun: path.join(top, path.relative(pkg, path.resolve(chosen))), args, env: called };
}

const OPS = [
  ['run', 'run /bin/true'],
  ['create', 'create (sleep)'],
  ['start', 'start'],
  ['exec', 'exec /bin/true (running)'],
  ['kill', 'kill KILL (running)'],
  ['delete', 'delete (stopped)'],
  ['lifecycle', 'create + start + delete -f'],
  ['state', 'state (created container)'],
  ['version', '--version (process floor)'],
];

/** Waits (untimed, bounded) until pid is gone or a zombie: a killed init before `delete`. */
function waitGone(pid, ms = 5000) {
  const until = Date.now() + ms;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < until) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return true;
    }
    if (/\) Z /.test(stat)) return true;
    Atomics.wait(nap, 0, 0, 2);
  }
  return false;
}

/** `<runtime> spec` in a scratch directory, parsed. */
function specOf(ctx, name) {
  const dir = path.join(ctx.tmp, `spec-${name}`);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(ctx.runtimes[name].path, ['spec'], { cwd: dir, encoding: 'utf8', timeout: 20000, env: { ...withoutCa(), ...ctx.runtimes[name].env } });
  if (r.status !== 0) throw new Error(`bench: ${name} spec: ${(r.stderr || r.error?.message || '').trim()}`);
  return JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
}

/**
 * The same adjustment for every runtime: no terminal, /bin/true, no linux.resources (crun 1.8.1
 * needs CAP_SYS_RESOURCE for them here, runtime-contract.md §4.2), one absolute rootfs shared
 * read-only, and an absolute cgroupsPath under the bench's parent cgroup (runtime-spec
 * config-linux.md "Cgroups path": absolute is relative to the cgroup mount point).
 */
function adjust(spec, rootfs, cgroupsPath, args = ['/bin/true']) {
  const c = structuredClone(spec);
  c.process.terminal = false;
  c.process.args = args;
  c.hostname = 'bench';
  c.root = { path: rootfs, readonly: true };
  c.linux ??= {};
  delete c.linux.resources;
  c.linux.cgroupsPath = cgroupsPath;
  return c;
}

function withoutCa() {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

export default {
  name: 'runtime',
  title: 'runtime lifecycle (issues 3, 15): tsrun on each engine vs runc vs crun, interleaved',

  /** @param {import('./index.mjs').SuiteContext} ctx */
  async run(ctx) {
    const names = Object.keys(ctx.runtimes);
    if (names.length === 0) throw new Error('bench: no runtime to measure');
    const rootfs = path.join(ctx.tmp, 'rootfs');
    makeRootfs(rootfs, ctx.busybox);

    let specFrom = ctx.opts.specFrom;
    if (specFrom === 'tsrun') specFrom = names.find((n) => n.startsWith('tsrun')) ?? 'tsrun';
    if (specFrom !== 'own' && !ctx.runtimes[specFrom]) specFrom = ['runc', 'crun', ...names].find((n) => ctx.runtimes[n]);
    const shared = specFrom === 'own' ? null : specOf(ctx, specFrom);

    const h = ctx.harness;
    // State dirs on a tmpfs, as /run is where engines keep them (runtime-spec runtime.md, "State":
    // "stored in a temporary filesystem"); this host's /tmp and /run are disk-backed, where
    // tsrun's fsyncs cost and runc's and crun's (none) do not. Private to the bench's namespace.
    // --state-dir disk measures the other case.
    const roots = path.join(ctx.tmp, 'roots');
    mkdirSync(roots);
    if (ctx.opts.stateDir === 'tmpfs') {
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0700,size=64m', 'bench-roots', roots], { encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`bench: mount tmpfs on ${roots}: ${(m.stderr || m.error?.message || '').trim()}`);
      ctx.onCleanup(() => {
        const u = spawnSync('umount', [roots], { encoding: 'utf8' });
        if (u.status !== 0) throw new Error(`umount ${roots}: ${(u.stderr || '').trim()}`);
      });
    }
    const rt = {};
    for (const name of names) {
      const spec = shared ?? specOf(ctx, name);
      const root = path.join(roots, name);
      const bundle = path.join(ctx.tmp, 'bundles', name);
      const stateBundle = path.join(ctx.tmp, 'bundles', `${name}-state`);
      const sleepBundle = path.join(ctx.tmp, 'bundles', `${name}-sleep`);
      for (const [dir, leaf, args] of [
        [bundle, name],
        [stateBundle, `${name}-state`],
        [sleepBundle, `${name}-sleep`, ['/bin/sleep', '3600']],
      ]) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'config.json'), JSON.stringify(adjust(spec, rootfs, `${ctx.cgroupParent}/${leaf}`, args), null, 2));
      }
      mkdirSync(root, { recursive: true });
      const env = { ...process.env, ...ctx.runtimes[name].env };
      rt[name] = { exe: ctx.runtimes[name].path, root, bundle, stateBundle, sleepBundle, env };
      ctx.onCleanup(() => {
        const r = spawnSync(rt[name].exe, ['--root', root, 'list', '-q'], { encoding: 'utf8', timeout: 20000, env });
        const ids = new Set([
          'bench-state',
          ...(r.stdout ?? '')
            .split('\n')
            .map((s) => s.trim())
            .filter(Boolean),
        ]);
        for (const id of ids) h.quiet(rt[name].exe, ['--root', root, 'delete', '-f', id], { env });
      });
    }

    // The container `state` reads: created once, parked before execve for the whole run.
    const stateReady = {};
    for (const name of names) {
      const { exe, root, stateBundle, env } = rt[name];
      try {
        h.timed(exe, ['--root', root, 'create', '--bundle', stateBundle, 'bench-state'], { env });
        stateReady[name] = true;
      } catch (err) {
        h.errors.push({ suite: 'runtime', op: 'state', impl: name, iteration: -1, message: err.message });
        ctx.progress(`  ${name}: cannot create the container for \`state\`: ${err.message}`);
      }
    }

    const tasks = [];
    for (const [op, label] of OPS) {
      for (const name of names) {
        const { exe, root, bundle, sleepBundle, env } = rt[name];
        const g = ['--root', root];
        const o = { env };
        const cyc = (i) => `cyc-${i}`;
        // A failed step of the cycle removes its container, so the next steps fail fast and the
        // next iteration starts clean.
        const step = (i, args) => {
          try {
            return h.timed(exe, [...g, ...args], o);
          } catch (err) {
            h.quiet(exe, [...g, 'delete', '-f', cyc(i)], o);
            throw err;
          }
        };
        let run;
        if (op === 'run') {
          run = (i) => {
            const id = `run-${i}`;
            try {
              return h.timed(exe, [...g, 'run', '--bundle', bundle, id], o);
            } catch (err) {
              h.quiet(exe, [...g, 'delete', '-f', id], o);
              throw err;
            }
          };
        } else if (op === 'create') {
          run = (i) => step(i, ['create', '--bundle', sleepBundle, cyc(i)]);
        } else if (op === 'start') {
          run = (i) => step(i, ['start', cyc(i)]);
        } else if (op === 'exec') {
          run = (i) => step(i, ['exec', cyc(i), '/bin/true']);
        } else if (op === 'kill') {
          run = (i) => {
            // The init's pid, untimed, to wait for its end before `delete`.
            const st = spawnSync(exe, [...g, 'state', cyc(i)], { encoding: 'utf8', env, timeout: 20000 });
            let pid = 0;
            try {
              pid = JSON.parse(st.stdout).pid;
            } catch {
              /* the step below fails and says why */
            }
            const ms = step(i, ['kill', cyc(i), 'KILL']);
            if (pid && !waitGone(pid)) throw new StepError(`${name}: the init ${pid} of ${cyc(i)} outlived kill KILL by 5 s`);
            return ms;
          };
        } else if (op === 'delete') {
          run = (i) => step(i, ['delete', cyc(i)]);
        } else if (op === 'lifecycle') {
          // The youki README recipe (`create && start && delete -f`): /bin/true may or may not
          // have exited when delete -f comes, as an engine's stop-and-remove would find it.
          run = (i) => {
            const id = `cl-${i}`;
            try {
              const create = h.timed(exe, [...g, 'create', '--bundle', bundle, id], o);
              const start = h.timed(exe, [...g, 'start', id], o);
              const del = h.timed(exe, [...g, 'delete', '-f', id], o);
              return { create, start, 'delete -f': del };
            } catch (err) {
              h.quiet(exe, [...g, 'delete', '-f', id], o);
              throw err;
            }
          };
        } else if (op === 'state') {
          if (!stateReady[name]) continue;
          run = () => h.timed(exe, [...g, 'state', 'bench-state'], o);
        } else {
          run = () => h.timed(exe, ['--version'], o);
        }
        tasks.push({ op, label, impl: name, run });
      }
    }

    // Floors, interleaved with the rest so that they see the same machine load.
    const node = which('node') ?? process.execPath;
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    const floor = (op, label, cmd, args, env) => tasks.push({ op, label, impl: 'host', run: () => h.timed(cmd, args, { env }) });
    floor('floor:true', '/bin/true (fork+exec+wait: the floor of the measuring)', '/bin/true', []);
    floor('floor:node', `node -e 0 (NODE_EXTRA_CA_CERTS ${ca ? 'set' : 'unset'})`, node, ['-e', '0']);
    if (ca) floor('floor:node-noca', 'node -e 0 (NODE_EXTRA_CA_CERTS unset)', node, ['-e', '0'], withoutCa());
    const withCjs = Object.values(ctx.runtimes).find((r) => r.cjs);
    const cjs = withCjs?.cjs;
    // What bin/tsrun runs on Bun: Bun's copy of the bundles (bytecode), as the launcher calls it.
    const top = cjs && path.dirname(path.dirname(cjs));
    const onBun =
      top && existsSync(path.join(top, 'dist/bun/tsrun.mjs')) ? launcherBunCall(withCjs.path, top, ctx.tmp, { ...process.env, ...withCjs.env }) : null;
    const bun = onBun?.bun ?? bunOf(ctx.repo);
    if (bun) floor('floor:bun', 'bun -e 0', bun, ['-e', '0'], withoutCa());
    if (cjs) floor('floor:tsrun-cjs', 'node dist/tsrun.cjs --version (no sh shim)', node, [cjs, '--version'], withoutCa());
    if (onBun) floor('floor:tsrun-cjs-bun', 'bun dist/bun/tsrun.mjs --version, as bin/tsrun calls it (no sh shim)', onBun.bun, onBun.args, onBun.env);

    const rows = await h.interleave({ suite: 'runtime', iterations: ctx.opts.iterations, warmup: ctx.opts.warmup, tasks });
    const ratioPairs = [];
    for (const base of ['runc', 'crun']) {
      if (!ctx.runtimes[base]) continue;
      for (const impl of names.filter((n) => n.startsWith('tsrun'))) {
        for (const op of new Set(rows.filter((r) => r.impl === impl && !r.op.startsWith('floor:')).map((r) => r.op))) {
          ratioPairs.push({ op, impl, base });
        }
      }
    }
    const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8', env: withoutCa() }).stdout.trim();
    const bunVersion = bun && spawnSync(bun, ['--version'], { encoding: 'utf8', env: withoutCa() }).stdout.trim();
    return {
      rows,
      ratioPairs,
      meta: {
        stateDir: ctx.opts.stateDir,
        specFrom,
        node: `${node} ${nodeVersion}`,
        ...(bun && { bun: `${bun} ${bunVersion}` }),
        ...(onBun && { launcherBun: { args: onBun.args, added: onBun.env.TSRUN_ADDED ?? '' } }),
        NODE_EXTRA_CA_CERTS: ca ? 'set' : 'unset',
      },
    };
  },
};
