// The plan ABI has one source of truth, native/plan.h: this test parses its enums and constants
// and compares every name and value with src/plan/opcodes.ts, both ways, so a value that differs
// or exists on one side only fails here instead of as a wrong op in a container's set-up.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as opcodes from '../../src/plan/opcodes.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// TSRUN_TEST_PLAN_H: another copy of the header (to see this test fail on an edited one).
const header = readFileSync(process.env.TSRUN_TEST_PLAN_H || path.join(REPO_ROOT, 'native/plan.h'), 'utf8').replace(/\/\/[^\n]*/g, '');

function num(text: string): number {
  const v = Number(text.trim().replace(/u$/i, ''));
  if (!Number.isInteger(v)) throw new Error(`plan.h: cannot read the value ${text}`);
  return v;
}

/** `enum Name : uint32_t { A = 1, B = 2 };` → {A: 1, B: 2} */
function parseEnum(name: string): Record<string, number> {
  const m = new RegExp(`enum\\s+${name}\\s*:\\s*\\w+\\s*\\{([^}]*)\\}`).exec(header);
  if (!m) throw new Error(`plan.h has no enum ${name}`);
  const out: Record<string, number> = {};
  for (const item of m[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const e = /^(\w+)\s*=\s*(\w+)$/.exec(item);
    if (!e) throw new Error(`plan.h enum ${name}: every entry needs an explicit value: ${item}`);
    out[e[1]] = num(e[2]);
  }
  return out;
}

/** `constexpr <type> NAME = VALUE;` */
const constants: Record<string, number> = {};
for (const m of header.matchAll(/constexpr\s+[\w:]+\s+(\w+)\s*=\s*([^;]+);/g)) constants[m[1]] = num(m[2]);

/** Entries of a C enum or constant group with their prefix dropped, as the TS object names them. */
function strip(entries: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(
    Object.entries(entries).map(([k, v]) => {
      if (!k.startsWith(prefix)) throw new Error(`plan.h: ${k} does not start with ${prefix}`);
      return [k.slice(prefix.length), v];
    }),
  );
}

function pick(prefix: string, except: string[] = []): Record<string, number> {
  return Object.fromEntries(Object.entries(constants).filter(([k]) => k.startsWith(prefix) && !except.includes(k)));
}

const groups: [string, Record<string, number>, Record<string, number>][] = [
  ['Op (enum Op)', strip(parseEnum('Op'), 'OP_'), opcodes.Op],
  ['Msg (enum MsgType)', strip(parseEnum('MsgType'), 'MSG_'), opcodes.Msg],
  ['Detail (enum ErrDetail)', strip(parseEnum('ErrDetail'), 'DETAIL_'), opcodes.Detail],
  ['HelperStep (enum HelperStep)', strip(parseEnum('HelperStep'), 'HELPER_'), opcodes.HelperStep],
  ['Sync (enum SyncToken)', strip(parseEnum('SyncToken'), 'SYNC_'), opcodes.Sync],
  [
    'Resolve (enum ResolveMode, RESOLVE_NOFOLLOW_FLAG)',
    { ...strip(parseEnum('ResolveMode'), 'RESOLVE_'), NOFOLLOW: constants.RESOLVE_NOFOLLOW_FLAG },
    opcodes.Resolve,
  ],
  ['Idmap (IDMAP_* constants)', strip(pick('IDMAP_'), 'IDMAP_'), opcodes.Idmap],
  ['MountHow (MOUNT_* constants)', strip(pick('MOUNT_'), 'MOUNT_'), opcodes.MountHow],
];

for (const [name, native, ts] of groups) {
  test(`plan ABI: ${name} is the same in native/plan.h and src/plan/opcodes.ts`, (t) => {
    t.true(Object.keys(native).length > 0, `plan.h defines ${name}`);
    const onlyNative = Object.keys(native).filter((k) => !(k in ts));
    const onlyTs = Object.keys(ts).filter((k) => !(k in native));
    t.deepEqual(onlyNative, [], 'in plan.h, missing from opcodes.ts');
    t.deepEqual(onlyTs, [], 'in opcodes.ts, missing from plan.h');
    for (const [k, v] of Object.entries(native)) if (k in ts) t.is(ts[k], v, `${name}.${k}`);
  });
}

test('plan ABI: the op size and the absent-argument marker', (t) => {
  t.is(opcodes.OP_WORDS, constants.OP_WORDS);
  t.is(opcodes.NONE, constants.NONE);
});

test('plan ABI: Msg is 16 bytes of four 32-bit fields (the parent reads them at 0, 4, 8, 12)', (t) => {
  const m = /struct\s+Msg\s*\{([^}]*)\}/.exec(header);
  t.truthy(m, 'plan.h has struct Msg');
  const fields = m![1]
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((f) => f.split(/\s+/));
  t.deepEqual(fields, [
    ['uint32_t', 'type'],
    ['uint32_t', 'op'],
    ['int32_t', 'value'],
    ['uint32_t', 'extra'],
  ]);
  t.regex(header, /static_assert\(sizeof\(Msg\) == 16/);
});

const SCHED_H = '/usr/include/linux/sched.h';
const haveSched = existsSync(SCHED_H);
if (!haveSched) console.log(`plan-abi: the CLONE flags check is skipped: ${SCHED_H} is not installed (linux-libc-dev)`);

(haveSched ? test : test.skip)('plan ABI: CLONE flags match linux/sched.h', (t) => {
  const sched = readFileSync(SCHED_H, 'utf8');
  for (const [k, v] of Object.entries(opcodes.CLONE)) {
    const m = new RegExp(`#define\\s+CLONE_${k}\\s+(0x[0-9a-fA-F]+|\\d+)`).exec(sched);
    t.truthy(m, `linux/sched.h defines CLONE_${k}`);
    if (m) t.is(v as number, Number(m[1]), `CLONE.${k}`);
  }
});
