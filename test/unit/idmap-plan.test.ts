// Idmapped mounts without root: which mounts are idmapped and with which maps (src/plan/idmap.ts),
// where the compiler puts OP_IDMAP_MOUNT (prepare before any namespace, attach in the rootfs),
// the validation of mappings (src/spec/validate*.ts), and the kernel/filesystem check.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidSpecError } from '../../src/errors.js';
import { idmapRefusal, idmapSupported, kernelVersion } from '../../src/sys/idmap-support.js';
import { mapText, planIdmapMounts } from '../../src/plan/idmap.js';
import { compilePlan } from '../../src/plan/compile.js';
import { Idmap, NONE, Op, OP_WORDS } from '../../src/plan/opcodes.js';
import type { CompiledPlan } from '../../src/plan/plan-builder.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import type { Mount, Spec } from '../../src/spec/types.js';
import { validateSpec } from '../../src/spec/validate.js';
import { needs, root } from '../helpers/skip.js';

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-idmap-unit-'));
const SRC = path.join(DIR, 'src');
const ROOTFS = path.join(DIR, 'rootfs');
fs.mkdirSync(SRC);
fs.mkdirSync(ROOTFS);
test.after.always(() => fs.rmSync(DIR, { recursive: true, force: true }));

const MAP = [{ containerID: 1000, hostID: 0, size: 1 }];

function spec(mounts: Mount[], mutate?: (s: Spec) => void): Spec {
  const s = defaultSpec();
  s.process!.terminal = false;
  s.mounts!.push(...mounts);
  mutate?.(s);
  return s;
}

function userns(s: Spec): void {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
}

function problems(s: unknown): string[] {
  try {
    validateSpec(s);
    return [];
  } catch (err) {
    if (err instanceof InvalidSpecError) return err.problems;
    throw err;
  }
}

function ops(plan: CompiledPlan): { code: number; args: number[]; description: string }[] {
  return plan.descriptions.map((description, i) => {
    const w = Array.from(plan.ops.subarray(i * OP_WORDS, (i + 1) * OP_WORDS));
    return { code: w[0], args: w.slice(1), description };
  });
}

function str(plan: CompiledPlan, off: number): string {
  return plan.strings.subarray(off, plan.strings.indexOf(0, off)).toString('utf8');
}

test('mapText writes user_namespaces(7) lines', (t) => {
  t.is(
    mapText([
      { containerID: 0, hostID: 100000, size: 65536 },
      { containerID: 70000, hostID: 5, size: 1 },
    ]),
    '0 100000 65536\n70000 5 1\n',
  );
});

test('planIdmapMounts: explicit maps, the container maps for a bare "idmap", the joined namespace fd, flags', (t) => {
  const explicit: Mount = { destination: '/a', type: 'bind', source: 'src', options: ['rbind', 'ridmap'], uidMappings: MAP, gidMappings: MAP };
  const bare: Mount = { destination: '/b', type: 'bind', source: SRC, options: ['bind', 'idmap'] };
  const plain: Mount = { destination: '/c', type: 'bind', source: SRC, options: ['rbind'] };
  const made = planIdmapMounts(spec([explicit, bare, plain], userns), { bundle: DIR, euid: 0 });
  t.is(made.size, 2, 'a plain bind is not idmapped');
  t.like(made.get(explicit), {
    source: SRC,
    destination: '/a',
    slot: 16,
    flags: Idmap.TREE_RECURSIVE | Idmap.RECURSIVE,
    uidMap: '1000 0 1\n',
    gidMap: '1000 0 1\n',
  });
  t.like(made.get(bare), { slot: 17, flags: 0, uidMap: '0 100000 65536\n', gidMap: '0 200000 65536\n' });
  t.is(made.get(bare)!.usernsFd, undefined);

  const joined = planIdmapMounts(
    spec([bare], (s) => s.linux!.namespaces!.push({ type: 'user', path: '/proc/1/ns/user' })),
    { bundle: DIR, joinedUsernsFd: 7, euid: 0 },
  );
  t.like(joined.get(bare), { usernsFd: 7, uidMap: undefined, gidMap: undefined });
  // "rbind" + "idmap": the submounts come along, only the top is idmapped.
  const top = { ...explicit, options: ['rbind', 'idmap'] };
  t.is(planIdmapMounts(spec([top]), { bundle: DIR, euid: 0 }).get(top)!.flags, Idmap.TREE_RECURSIVE);
});

test('planIdmapMounts refuses with runc words: not a bind, no maps without a user namespace, rootless', (t) => {
  const err = t.throws(
    () =>
      planIdmapMounts(
        spec([
          { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['idmap'], uidMappings: MAP, gidMappings: MAP },
          { destination: '/n', type: 'bind', source: SRC, options: ['bind', 'idmap'] },
        ]),
        { bundle: DIR, euid: 0 },
      ),
    { instanceOf: InvalidSpecError },
  ) as InvalidSpecError;
  t.deepEqual(err.problems, [
    'mounts[7] (/t): id-mapped mounts are only supported for bind-mounts',
    'mounts[8] (/n): id-mapped mounts must have both uid and gid mappings specified',
  ]);
  const rootless = t.throws(
    () =>
      planIdmapMounts(spec([{ destination: '/a', type: 'bind', source: SRC, options: ['bind'], uidMappings: MAP, gidMappings: MAP }]), {
        bundle: DIR,
        euid: 1000,
      }),
    {
      instanceOf: InvalidSpecError,
    },
  ) as InvalidSpecError;
  t.deepEqual(rootless.problems, ['mounts[7] (/a): id-mapped mounts are not supported for rootless containers']);
});

needs(root('as another user compilePlan plans a rootless container, which refuses id-mapped mounts'))(
  'compilePlan: prepare ops come first, namespaces by unshare, attach onto the resolved mount point',
  (t) => {
    const m: Mount = { destination: '/data', type: 'bind', source: SRC, options: ['rbind', 'ridmap'], uidMappings: MAP, gidMappings: MAP };
    const { plan, cloneFlags } = compilePlan({
      spec: spec([m], userns),
      bundle: DIR,
      rootfs: ROOTFS,
      mode: 'run',
      preserveFds: 0,
      noPivot: false,
      nsFds: new Map(),
    });
    t.is(cloneFlags, 0, 'namespaces are unshared after the prepare');
    const list = ops(plan);
    const idm = list.flatMap((o, i) => (o.code === Op.IDMAP_MOUNT ? [i] : []));
    t.is(idm.length, 2);
    const [prep, attach] = idm.map((i) => list[i]);
    t.is(idm[0], 1, 'right after PDEATHSIG');
    t.true(list.findIndex((o) => o.code === Op.UNSHARE) > idm[0]);
    t.is(prep.description, `idmap mount of ${SRC} on /data`);
    t.is(str(plan, prep.args[1]), SRC);
    t.is(str(plan, prep.args[2]), '1000 0 1\n');
    t.is(prep.args[4], Idmap.TREE_RECURSIVE | Idmap.RECURSIVE);
    t.is(prep.args[6], NONE, 'no target yet');
    t.is(attach.description, `idmap mount of ${SRC} on /data (move_mount)`);
    t.is(attach.args[0], prep.args[0], 'the same slot');
    t.is(attach.args[1], NONE, 'no source: attach only');
    t.is(list[idm[1] - 1].code, Op.RESOLVE, 'the mount point is resolved in the rootfs first');
    t.is(attach.args[6], list[idm[1] - 1].args[0], 'onto the resolved slot');
    t.false(
      list.some((o) => o.code === Op.MOUNT && o.description.startsWith(`bind ${SRC}`)),
      'no plain bind of the source',
    );
  },
);

test('validation: a bare "idmap" is fine with a user namespace; bad mappings are named', (t) => {
  const bare: Mount = { destination: '/b', type: 'bind', source: SRC, options: ['bind', 'idmap'] };
  t.deepEqual(problems(spec([bare], userns)), []);
  t.deepEqual(problems(spec([bare])), ['mounts[7]: id-mapped mounts must have both uid and gid mappings specified']);
  t.deepEqual(problems(spec([{ ...bare, uidMappings: MAP, gidMappings: [] }], userns)), [
    'mounts[7]: id-mapped mounts must have both uid and gid mappings specified',
  ]);
  const overlap = [
    { containerID: 0, hostID: 1000, size: 10 },
    { containerID: 100, hostID: 1005, size: 10 },
  ];
  t.deepEqual(problems(spec([{ ...bare, uidMappings: overlap, gidMappings: MAP }])), [
    'mounts[7].uidMappings: mappings 0 and 1 overlap (hostID ranges); the kernel refuses overlapping ranges (user_namespaces(7))',
  ]);
  const wrap = [{ containerID: 4294967290, hostID: 0, size: 10 }];
  t.deepEqual(problems(spec([{ ...bare, uidMappings: MAP, gidMappings: wrap }])), [
    'mounts[7].gidMappings[0]: range of 10 ids from 4294967290 (container) / 0 (host) goes past 4294967295',
  ]);
  const many = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: i, size: 1 }));
  t.deepEqual(problems(spec([{ ...bare, uidMappings: many, gidMappings: MAP }])), [
    'mounts[7].uidMappings: 341 mappings; the kernel takes at most 340 (user_namespaces(7))',
  ]);
  t.deepEqual(
    problems(
      spec([], (s) => {
        userns(s);
        s.linux!.uidMappings!.push({ containerID: 10, hostID: 0, size: 1 });
      }),
    ),
    ['linux.uidMappings: mappings 0 and 1 overlap (containerID ranges); the kernel refuses overlapping ranges (user_namespaces(7))'],
    'the container maps are checked the same way',
  );
});

test('kernel and filesystem support: mount_setattr since 5.12, tmpfs since 6.3', (t) => {
  t.deepEqual(kernelVersion('6.18.0-1-amd64'), [6, 18]);
  t.deepEqual(kernelVersion('garbage'), [0, 0]);
  t.regex(idmapRefusal(DIR, '5.10.0')!, /no mount_setattr\(2\) \(idmapped mounts need 5\.12 or later\)/);
  t.is(idmapRefusal('/no/such/path', '6.18.0'), undefined, 'unknown: the kernel decides');
  t.false(idmapSupported('5.11.0'), 'features: no idmap before 5.12');
  const tmpfs = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.includes(' - tmpfs '))
    ?.split(' ')[4];
  if (tmpfs) t.regex(idmapRefusal(tmpfs, '6.1.0')!, /tmpfs supports idmapped mounts only since Linux 6\.3/);
  else t.log('no tmpfs mounted here: the tmpfs case is not exercised');
});
