// The Docker-style front's `-e NAME` and `--env-file` bare NAME lines take the value the user has:
// the environment bin/tsrun's caller gave it, not what the launcher set for its JS engine
// (TSRUN_NOFILE, BUN_RUNTIME_TRANSPILER_CACHE_PATH, BUN_JSC_*: listed in TSRUN_ADDED) — in
// `container run` and in `container exec`.
import fs from 'node:fs';
import path from 'node:path';
import { needs, root } from '../helpers/skip.js';
import { frontEnv, NONE, SHIPPED } from './front-fixtures.js';

const rootTest = needs(root('namespaces, overlay mounts'));

/** The launcher sets these for its engine (TSRUN_NOFILE always, the others for Bun or the runtime verbs). */
const ENGINE = ['TSRUN_NOFILE', 'BUN_RUNTIME_TRANSPILER_CACHE_PATH', 'BUN_JSC_useJIT', 'BUN_JSC_numberOfGCMarkers'];
/** Every name the test asks for; NODE_EXTRA_CA_CERTS is one the launcher drops for runtime verbs. */
const NAMES = [...ENGINE, 'NODE_EXTRA_CA_CERTS'];

/** The test runner's environment without any of NAMES nor the launcher's bookkeeping. */
function bareCaller(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const n of [...NAMES, 'TSRUN_ADDED', 'TSRUN_CALLER_CA_CERTS']) delete env[n];
  return env;
}

/**
 * Values a caller may set without changing how tsrun itself runs (JIT on and two GC markers are
 * Bun's defaults on this machine's kind; no transpiler cache; a CA file that is not there, which
 * Node warns about and Bun ignores). TSRUN_NOFILE is not among them: the launcher always writes
 * its own (the caller's limits) and lists it as added, so a caller's value of it does not reach
 * the container.
 */
const CALLER: Record<string, string> = {
  BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0',
  BUN_JSC_useJIT: '1',
  BUN_JSC_numberOfGCMarkers: '2',
  NODE_EXTRA_CA_CERTS: '/nonexistent/caller-ca.pem',
};

/** NAME=VALUE lines of `env` for the names asked for. */
function picked(out: string): Record<string, string> {
  const seen: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && NAMES.includes(line.slice(0, eq))) seen[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return seen;
}

const eFlags = NAMES.flatMap((n) => ['-e', n]);

for (const how of ['-e NAME', '--env-file with bare NAME lines'] as const) {
  rootTest.serial(`container run ${how} takes the caller’s value, not the launcher’s`, async (t) => {
    const env = await frontEnv(t);
    const envFile = path.join(env.dir, 'names.env');
    fs.writeFileSync(envFile, `# bare names: the value is the caller's\n${NAMES.join('\n')}\n`);
    const flags = how === '-e NAME' ? eFlags : ['--env-file', envFile];
    const unset = await env.container(['run', ...NONE, '--rm', ...flags, SHIPPED, 'env'], { env: bareCaller() });
    t.is(unset.code, 0, unset.stderr);
    t.regex(unset.stdout, /^PATH=/m, 'env ran in the container');
    t.deepEqual(picked(unset.stdout), {}, "names the caller did not set are absent (the launcher's values are not passed)");
    const set = await env.container(['run', ...NONE, '--rm', ...flags, SHIPPED, 'env'], { env: { ...bareCaller(), ...CALLER } });
    t.is(set.code, 0, set.stderr);
    t.deepEqual(picked(set.stdout), CALLER, "names the caller set have the caller's values");
  });
}

rootTest.serial('container exec -e NAME takes the caller’s value, not the launcher’s', async (t) => {
  const env = await frontEnv(t);
  const run = await env.container(['run', ...NONE, '-d', '--name', 'envs', SHIPPED, 'sleep', '600']);
  t.is(run.code, 0, run.stderr);
  try {
    const unset = await env.container(['exec', ...eFlags, 'envs', 'env'], { env: bareCaller() });
    t.is(unset.code, 0, unset.stderr);
    t.regex(unset.stdout, /^PATH=/m, 'env ran in the container');
    t.deepEqual(picked(unset.stdout), {}, 'names the caller did not set are absent');
    const set = await env.container(['exec', ...eFlags, 'envs', 'env'], { env: { ...bareCaller(), ...CALLER } });
    t.is(set.code, 0, set.stderr);
    t.deepEqual(picked(set.stdout), CALLER, "names the caller set have the caller's values");
  } finally {
    const rm = await env.container(['rm', '-f', 'envs']);
    t.is(rm.code, 0, rm.stderr);
  }
});
