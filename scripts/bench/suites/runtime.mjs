// Suite "runtime" (issue 3, Speed): the OCI lifecycle of tsrun against runc and crun, interleaved,
// on one busybox rootfs with one config, plus the process floors that explain the numbers.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeRootfs, which } from '../env.mjs';

const OPS = [
  ['run', 'run /bin/true'],
  ['lifecycle', 'create + start + delete -f'],
  ['state', 'state (created container)'],
  ['version', '--version (process floor)'],
];

/** `<runtime> spec` in a scratch directory, parsed. */
function specOf(ctx, name) {
  const dir = path.join(ctx.tmp, `spec-${name}`);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(ctx.runtimes[name].path, ['spec'], { cwd: dir, encoding: 'utf8', timeout: 20000, env: withoutCa() });
  if (r.status !== 0) throw new Error(`bench: ${name} spec: ${(r.stderr || r.error?.message || '').trim()}`);
  return JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
}

/**
 * The same adjustment for every runtime: no terminal, /bin/true, no linux.resources (crun 1.8.1
 * needs CAP_SYS_RESOURCE for them here, runtime-contract.md §4.2), one absolute rootfs shared
 * read-only, and an absolute cgroupsPath under the bench's parent cgroup (runtime-spec
 * config-linux.md "Cgroups path": absolute is relative to the cgroup mount point).
 */
function adjust(spec, rootfs, cgroupsPath) {
  const c = structuredClone(spec);
  c.process.terminal = false;
  c.process.args = ['/bin/true'];
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
  title: 'runtime lifecycle (issue 3): tsrun vs runc vs crun, interleaved',

  /** @param {import('./index.mjs').SuiteContext} ctx */
  async run(ctx) {
    const names = Object.keys(ctx.runtimes);
    if (names.length === 0) throw new Error('bench: no runtime to measure');
    const rootfs = path.join(ctx.tmp, 'rootfs');
    makeRootfs(rootfs, ctx.busybox);

    let specFrom = ctx.opts.specFrom;
    if (specFrom !== 'own' && !ctx.runtimes[specFrom]) specFrom = ['runc', 'crun', 'tsrun'].find((n) => ctx.runtimes[n]);
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
      for (const [dir, leaf] of [
        [bundle, name],
        [stateBundle, `${name}-state`],
      ]) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'config.json'), JSON.stringify(adjust(spec, rootfs, `${ctx.cgroupParent}/${leaf}`), null, 2));
      }
      mkdirSync(root, { recursive: true });
      rt[name] = { exe: ctx.runtimes[name].path, root, bundle, stateBundle };
      ctx.onCleanup(() => {
        const r = spawnSync(rt[name].exe, ['--root', root, 'list', '-q'], { encoding: 'utf8', timeout: 20000 });
        const ids = new Set([
          'bench-state',
          ...(r.stdout ?? '')
            .split('\n')
            .map((s) => s.trim())
            .filter(Boolean),
        ]);
        for (const id of ids) h.quiet(rt[name].exe, ['--root', root, 'delete', '-f', id]);
      });
    }

    // The container `state` reads: created once, parked before execve for the whole run.
    const stateReady = {};
    for (const name of names) {
      const { exe, root, stateBundle } = rt[name];
      try {
        h.timed(exe, ['--root', root, 'create', '--bundle', stateBundle, 'bench-state']);
        stateReady[name] = true;
      } catch (err) {
        h.errors.push({ suite: 'runtime', op: 'state', impl: name, iteration: -1, message: err.message });
        ctx.progress(`  ${name}: cannot create the container for \`state\`: ${err.message}`);
      }
    }

    const tasks = [];
    for (const [op, label] of OPS) {
      for (const name of names) {
        const { exe, root, bundle } = rt[name];
        const g = ['--root', root];
        let run;
        if (op === 'run') {
          run = (i) => {
            const id = `run-${i}`;
            try {
              return h.timed(exe, [...g, 'run', '--bundle', bundle, id]);
            } catch (err) {
              h.quiet(exe, [...g, 'delete', '-f', id]);
              throw err;
            }
          };
        } else if (op === 'lifecycle') {
          // The youki README recipe (`create && start && delete -f`): /bin/true may or may not
          // have exited when delete -f comes, as an engine's stop-and-remove would find it.
          run = (i) => {
            const id = `cl-${i}`;
            try {
              const create = h.timed(exe, [...g, 'create', '--bundle', bundle, id]);
              const start = h.timed(exe, [...g, 'start', id]);
              const del = h.timed(exe, [...g, 'delete', '-f', id]);
              return { create, start, 'delete -f': del };
            } catch (err) {
              h.quiet(exe, [...g, 'delete', '-f', id]);
              throw err;
            }
          };
        } else if (op === 'state') {
          if (!stateReady[name]) continue;
          run = () => h.timed(exe, [...g, 'state', 'bench-state']);
        } else {
          run = () => h.timed(exe, ['--version']);
        }
        tasks.push({ op, label, impl: name, run });
      }
    }

    // Floors, interleaved with the rest so that they see the same machine load.
    const node = which('node') ?? process.execPath;
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    const floor = (op, label, cmd, args, env) => tasks.push({ op, label, impl: 'host', run: () => h.timed(cmd, args, { env }) });
    floor('floor:true', '/bin/true (this harness: spawnSync fork+exec+wait)', '/bin/true', []);
    floor('floor:node', `node -e 0 (NODE_EXTRA_CA_CERTS ${ca ? 'set' : 'unset'})`, node, ['-e', '0']);
    if (ca) floor('floor:node-noca', 'node -e 0 (NODE_EXTRA_CA_CERTS unset)', node, ['-e', '0'], withoutCa());
    const cjs = ctx.runtimes.tsrun?.cjs;
    if (cjs) {
      floor('floor:tsrun-cjs', 'node dist/tsrun.cjs --version (no sh shim)', node, [cjs, '--version'], withoutCa());
    }

    const rows = await h.interleave({ suite: 'runtime', iterations: ctx.opts.iterations, warmup: ctx.opts.warmup, tasks });
    const ratioPairs = [];
    for (const base of ['runc', 'crun']) {
      if (!ctx.runtimes.tsrun || !ctx.runtimes[base]) continue;
      for (const op of new Set(rows.filter((r) => r.impl === 'tsrun' && !r.op.startsWith('floor:')).map((r) => r.op))) {
        ratioPairs.push({ op, impl: 'tsrun', base });
      }
    }
    const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8', env: withoutCa() }).stdout.trim();
    return { rows, ratioPairs, meta: { stateDir: ctx.opts.stateDir, specFrom, node: `${node} ${nodeVersion}`, NODE_EXTRA_CA_CERTS: ca ? 'set' : 'unset' } };
  },
};
