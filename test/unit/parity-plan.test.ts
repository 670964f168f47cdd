// runc parity in the compiled plan (issue 14, items 4 and 6-11): HOME's env slot, the two chdirs
// around the user switch, setsid, lo up in a new network namespace, the stdio chown, the no-pivot
// rootfs path for hiding the host's procfs, and runc's ambient-capability warnings.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ambientWarnings } from '../../src/cli/verbs/exec.js';
import { compileExecPlan, compilePlan, withHome } from '../../src/plan/compile.js';
import { ChdirMode, Op, OP_WORDS } from '../../src/plan/opcodes.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import type { Spec } from '../../src/spec/types.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function ops(spec: Spec, noPivot = false): number[][] {
  const { plan } = compilePlan({ spec, bundle: '/b', rootfs: '/b/rootfs', mode: 'run', preserveFds: 0, noPivot, nsFds: new Map() });
  return opList(plan.ops);
}

function opList(buf: Uint32Array): number[][] {
  const words = Array.from(buf);
  const out: number[][] = [];
  for (let i = 0; i < words.length; i += OP_WORDS) out.push(words.slice(i, i + OP_WORDS));
  return out;
}

const index = (list: number[][], op: number) => list.findIndex((o) => o[0] === op);

test('withHome: runc sets HOME when absent or empty (the last entry counts), keeps a set one', (t) => {
  t.deepEqual(withHome(['PATH=/bin']), { env: ['PATH=/bin', 'HOME=/'], homeIndex: 1 });
  t.deepEqual(withHome(['HOME=', 'A=1']), { env: ['HOME=/', 'A=1'], homeIndex: 0 });
  t.deepEqual(withHome(['HOME=/x']), { env: ['HOME=/x'] });
  t.deepEqual(withHome(['HOME=/x', 'HOME=']), { env: ['HOME=/x', 'HOME=/'], homeIndex: 1 });
  t.deepEqual(withHome(['HOME=', 'HOME=/y']), { env: ['HOME=', 'HOME=/y'] });
});

test('the init plan: setsid, lo up (new netns only), chdir before and after the user switch, stdio chown, HOME', (t) => {
  const spec = defaultSpec();
  spec.process!.user = { uid: 1000, gid: 1000 };
  spec.process!.env = ['PATH=/bin'];
  if (!spec.linux!.namespaces!.some((n) => n.type === 'network')) spec.linux!.namespaces!.push({ type: 'network' });
  const list = ops(spec);
  t.true(index(list, Op.SETSID) >= 0);
  t.true(index(list, Op.LOOPBACK_UP) >= 0);
  const home = list.find((o) => o[0] === Op.SET_HOME)!;
  t.is(home[1], 1000);
  const chdirs = list.filter((o) => o[0] === Op.CHDIR).map((o) => o[2]);
  t.deepEqual(chdirs, [ChdirMode.FIRST, ChdirMode.RETRY]);
  const first = list.findIndex((o) => o[0] === Op.CHDIR);
  const retry = list.findLastIndex((o) => o[0] === Op.CHDIR);
  const setuid = list.findLastIndex((o) => o[0] === Op.SETRESUID);
  t.true(first < setuid && setuid < retry, 'first chdir as root, the retry as the user');
  const fix = list.findIndex((o) => o[0] === Op.FIX_STDIO);
  t.true(fix >= 0 && fix < setuid);
  t.is(list[fix][1], 1000);

  spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network');
  t.is(index(ops(spec), Op.LOOPBACK_UP), -1, 'the host network namespace is left alone');
});

test('the exec plan: setsid after the fork, HOME and the chdirs too', (t) => {
  const spec = defaultSpec();
  const plan = compileExecPlan({ process: { ...spec.process!, env: [] }, nsFds: new Map(), preserveFds: 0 });
  const list = opList(plan.ops);
  t.true(index(list, Op.SETSID) > index(list, Op.FORK));
  t.true(index(list, Op.SET_HOME) >= 0);
  t.is(list.filter((o) => o[0] === Op.CHDIR).length, 2);
});

test('--no-pivot: MOVE_CHROOT carries the rootfs path (the host proc/sysfs outside it are hidden)', (t) => {
  const list = ops(defaultSpec(), true);
  const move = list.find((o) => o[0] === Op.MOVE_CHROOT)!;
  t.not(move[2], 0xffffffff);
});

test('ambientWarnings: runc HEAD words for an ambient capability it cannot raise', (t) => {
  t.deepEqual(ambientWarnings({ ambient: ['CAP_NET_RAW'], permitted: ['CAP_NET_RAW'], inheritable: ['CAP_NET_RAW'] }), []);
  t.deepEqual(ambientWarnings({ ambient: ['CAP_NET_RAW', 'CAP_SYS_NICE'], permitted: ['CAP_NET_RAW', 'CAP_SYS_NICE'], inheritable: ['CAP_NET_RAW'] }), [
    "can't raise ambient capability sys_nice: operation not permitted",
  ]);
});

test('plan ABI: ChdirMode matches native/plan.h', (t) => {
  const header = readFileSync(path.join(REPO_ROOT, 'native/plan.h'), 'utf8');
  for (const [k, v] of Object.entries(ChdirMode)) t.regex(header, new RegExp(`CHDIR_${k} = ${v},`));
});
