// Command-line options of `npm run bench` (scripts/bench.mjs). Both `--flag v` and `--flag=v`.
import { SUITES } from './suites/index.mjs';

export const USAGE = `usage: npm run bench -- [options]
  --iterations N     measured iterations per op and implementation (default 50)
  --warmup N         unmeasured iterations first (default 3)
  --runtimes LIST    comma list of tsrun,tsrun-bun,tsrun-node,runc,crun (default all; tsrun is
                     tsrun on every engine its launcher finds; missing ones are skipped)
  --suites LIST      comma list of ${SUITES.map((s) => s.name).join(',')} (default all)
  --spec-from NAME   whose \`spec\` makes the one shared config: runc|crun|tsrun (default: runc,
                     else the first available), or "own" for each runtime's own \`spec\`
  --state-dir KIND   where each runtime's --root lives: tmpfs (default, as /run on a real host)
                     or disk (a directory under the system temp dir, here ext4)
  --tsrun PATH       the tsrun executable (default: this checkout's bin/tsrun)
  --js-only          run every tsrun row with TSRUN_FAST=0: state, kill, start and delete on the JS
                     engine, not through the static front build/Release/tsrun-fast (native/README.md,
                     "The fast front"); by default the launcher uses the front where it is built
  --op-timeout S     seconds before one runtime call is killed and counted as a failure (default 20)
  --deadline S       stop iterating after S seconds and report what was measured (default 900)
  --json             machine-readable results on stdout (progress goes to stderr)
  --quiet            no progress on stderr
  -h, --help`;

/** tsrun-<engine>: bin/tsrun with TSRUN_ENGINE=<engine>; tsrun: each engine found. */
export const TSRUN_ENGINES = ['bun', 'node'];
const RUNTIMES = ['tsrun', ...TSRUN_ENGINES.map((e) => `tsrun-${e}`), 'runc', 'crun'];

const NUMERIC = { iterations: 'iterations', warmup: 'warmup', 'op-timeout': 'opTimeout', deadline: 'deadline' };
const STRINGS = { runtimes: 'runtimes', suites: 'suites', 'spec-from': 'specFrom', tsrun: 'tsrun', 'state-dir': 'stateDir' };
const BOOLS = { json: 'json', quiet: 'quiet', help: 'help', h: 'help', 'js-only': 'jsOnly' };

/** @returns {{iterations:number, warmup:number, runtimes:string[], suites:string[], specFrom:string,
 *   stateDir:'tmpfs'|'disk', tsrun:string|undefined, opTimeout:number, deadline:number, jsOnly:boolean, json:boolean, quiet:boolean, help:boolean}} */
export function parseArgs(argv) {
  const o = {
    iterations: 50,
    warmup: 3,
    runtimes: ['tsrun', 'runc', 'crun'],
    suites: SUITES.map((s) => s.name),
    specFrom: 'runc',
    stateDir: 'tmpfs',
    tsrun: undefined,
    opTimeout: 20,
    deadline: 900,
    jsOnly: false,
    json: false,
    quiet: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`bench: unexpected argument ${JSON.stringify(arg)}\n${USAGE}`);
    const [, name, inline] = m;
    if (name in BOOLS) {
      o[BOOLS[name]] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    if (!(name in NUMERIC) && !(name in STRINGS)) throw new Error(`bench: unknown option ${arg}\n${USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`bench: --${name} needs a value`);
    if (name in NUMERIC) {
      const n = Number(value);
      const min = name === 'iterations' || name === 'op-timeout' || name === 'deadline' ? 1 : 0;
      if (!Number.isInteger(n) || n < min) throw new Error(`bench: --${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
      o[NUMERIC[name]] = n;
    } else {
      o[STRINGS[name]] =
        name === 'runtimes' || name === 'suites'
          ? value
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : value;
    }
  }
  for (const r of o.runtimes) {
    if (!RUNTIMES.includes(r)) throw new Error(`bench: unknown runtime ${JSON.stringify(r)} (${RUNTIMES.join(', ')})`);
  }
  for (const s of o.suites) {
    if (!SUITES.some((x) => x.name === s)) throw new Error(`bench: unknown suite ${JSON.stringify(s)} (${SUITES.map((x) => x.name).join(', ')})`);
  }
  o.runtimes = [...new Set(o.runtimes.flatMap((r) => (r === 'tsrun' ? TSRUN_ENGINES.map((e) => `tsrun-${e}`) : [r])))];
  if (!['runc', 'crun', 'tsrun', 'own'].includes(o.specFrom))
    throw new Error(`bench: --spec-from must be runc, crun, tsrun or own, got ${JSON.stringify(o.specFrom)}`);
  if (!['tmpfs', 'disk'].includes(o.stateDir)) throw new Error(`bench: --state-dir must be tmpfs or disk, got ${JSON.stringify(o.stateDir)}`);
  return o;
}
