// What each CLI verb loads when it starts (issue 15): engines start the CLI for every container
// operation, so a verb evaluates only the modules it needs. Those are the modules reachable from
// the verb's source through static imports; a dynamic import() is loaded when it runs (in the CJS
// bundles of scripts/build.mjs it stays a lazily evaluated module). The graph is esbuild's
// metafile, built here from the sources with the bundle's own resolution.
import test from 'ava';
import { build, type Metafile } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/rootfs.js';

const LIGHT = ['state', 'kill', 'start', 'delete', 'list'];
const CREATING = ['create', 'run'];

/** The modules each verb's source reaches through static imports and require() calls. */
async function staticClosures(verbs: string[]): Promise<Map<string, Set<string>>> {
  const entries = verbs.map((v) => `src/cli/verbs/${v}.ts`);
  const r = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: entries,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // koffi and dbus-next are never bundled: named here, so that an import of either shows.
    external: ['koffi', 'dbus-next'],
    write: false,
    outdir: 'out',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs: Metafile['inputs'] = r.metafile.inputs;
  const closures = new Map<string, Set<string>>();
  for (const [i, entry] of entries.entries()) {
    const seen = new Set<string>();
    const todo = [entry];
    while (todo.length) {
      const p = todo.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      for (const imp of inputs[p]?.imports ?? []) {
        if (imp.kind === 'dynamic-import') continue;
        todo.push(imp.path);
      }
    }
    closures.set(verbs[i], seen);
  }
  return closures;
}

/**
 * What a verb must not load, and why. koffi is loaded at the first call of src/sys/libc.ts, not
 * with it (start reaches libc.ts for NOTIFY_SOCKET): the built CLI's test below checks koffi.
 */
const HEAVY: [RegExp, string][] = [
  [/^src\/image\//, 'the image and registry code'],
  [/^src\/plan\/compile\.ts$/, 'the plan compiler'],
  [/^src\/seccomp\//, 'the seccomp compiler'],
  [/^koffi$/, 'koffi'],
  [/^src\/cgroups\/dbus\.ts$/, 'dbus-next (loaded by src/cgroups/dbus.ts)'],
  [/^dbus-next$/, 'dbus-next'],
  [/^src\/cgroups\/(controllers|devices|device-bpf|device-rules)\.ts$/, 'the cgroup limits and device filter code'],
];

function offending(modules: Set<string>, rules: [RegExp, string][]): string[] {
  return [...modules].flatMap((m) => rules.filter(([re]) => re.test(m)).map(([, why]) => `${m} (${why})`));
}

test('state, kill, start, delete and list load neither the image, plan, seccomp, koffi, D-Bus nor cgroup-limit code', async (t) => {
  const closures = await staticClosures(LIGHT);
  for (const verb of LIGHT) t.true(closures.get(verb)!.has('src/state/store.ts'), `${verb}: the graph was read (it reaches the state store)`);
  const found = Object.fromEntries(LIGHT.map((verb) => [verb, offending(closures.get(verb)!, HEAVY)]));
  t.deepEqual(found, Object.fromEntries(LIGHT.map((verb) => [verb, []])), 'what each verb loads at start');
});

test('create and run load the plan compiler but not the image, registry, koffi or D-Bus code', async (t) => {
  const closures = await staticClosures(CREATING);
  // create sets limits and may compile a seccomp filter.
  const notForCreate = HEAVY.filter(([re]) => !['src/plan/compile.ts', 'src/seccomp/x.ts', 'src/cgroups/controllers.ts'].some((m) => re.test(m)));
  for (const verb of CREATING) t.true(closures.get(verb)!.has('src/plan/compile.ts'), `${verb} reaches the compiler`);
  const found = Object.fromEntries(CREATING.map((verb) => [verb, offending(closures.get(verb)!, notForCreate)]));
  t.deepEqual(found, Object.fromEntries(CREATING.map((verb) => [verb, []])), 'what each verb loads at start');
});

test('the closure follows static imports only: a module reached only by import() is not in it', async (t) => {
  // run hands `run --image` to run-image.ts with import(): run-image reaches the image code.
  const closures = await staticClosures(['run', 'run-image']);
  t.false(closures.get('run')!.has('src/cli/verbs/run-image.ts'));
  t.true(
    [...closures.get('run-image')!].some((m) => m.startsWith('src/image/')),
    'run-image reaches src/image/',
  );
  t.true(path.isAbsolute(REPO_ROOT));
});

// The built CLI, run on Node with a hook that records every require() and
// process.getBuiltinModule(): what a light verb's bundle loads, built-ins included.
const cli = path.join(REPO_ROOT, 'dist/tsrun.cjs');
const needsBuild = existsSync(cli) ? test : test.skip;
const HOOK = `
const Module = require('node:module');
const seen = new Set();
const load = Module._load;
Module._load = function (request, ...rest) { seen.add(request); return load.call(this, request, ...rest); };
const builtin = process.getBuiltinModule;
process.getBuiltinModule = (id) => { seen.add(id); return builtin(id); };
process.on('exit', () => require('node:fs').writeFileSync(process.env.TSRUN_TEST_LOADED, JSON.stringify([...seen])));
`;
const NOT_LOADED = [
  /^koffi$/,
  /dbus-next/,
  /^node:(child_process|crypto|util|net|http|https|stream|zlib|url)$/,
  /^(child_process|crypto|util|net|http|https|stream|zlib|url)$/,
  /tsrun\.node$/,
];

needsBuild(
  `the built state, kill, start, delete and list load no koffi, dbus-next, addon or costly built-in${existsSync(cli) ? '' : ' (skipped: dist/tsrun.cjs is not built)'}`,
  (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tsrun-verb-modules-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const hook = path.join(dir, 'hook.cjs');
    writeFileSync(hook, HOOK);
    const found: Record<string, string[]> = {};
    for (const verb of LIGHT) {
      const out = path.join(dir, `${verb}.json`);
      const args = verb === 'list' ? ['list'] : [verb, 'no-such-container'];
      const r = spawnSync(process.execPath, ['-r', hook, cli, '--root', path.join(dir, 'root'), ...args], {
        env: { ...process.env, TSRUN_TEST_LOADED: out },
        encoding: 'utf8',
        timeout: 60_000,
      });
      t.is(r.status, verb === 'list' ? 0 : 1, `${verb}: ${r.stderr}`);
      const loaded: string[] = JSON.parse(readFileSync(out, 'utf8'));
      t.true(loaded.includes(`./verbs/${verb}.cjs`), `${verb}: its verb bundle was loaded (${loaded.join(' ')})`);
      found[verb] = loaded.filter((m) => NOT_LOADED.some((re) => re.test(m)));
    }
    t.deepEqual(found, Object.fromEntries(LIGHT.map((verb) => [verb, []])));
  },
);
