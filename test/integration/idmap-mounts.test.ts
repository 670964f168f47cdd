// Idmapped bind mounts (runtime-spec config.md "Mounts": uidMappings, gidMappings, "idmap",
// "ridmap"), seen from inside real containers. A mapping {containerID: C, hostID: H} shows an id
// stored on the source as C as H at the mount (runc tests/integration/idmap.bats): a host file
// owned by 1000 appears as root with {1000 → 0} in a container without a user namespace, and with
// {1000 → 100000} in one whose root is host uid 100000.
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LinuxIDMapping, Mount, Spec } from '../../src/spec/types.js';
import { idmapRefusal, idmapSupported } from '../../src/sys/idmap-support.js';
import { Runtime } from '../../src/index.js';
import { makeBundle, type Bundle } from '../helpers/bundle.js';
import { need, needs, ROOT } from '../helpers/skip.js';

const supported = idmapSupported();
const rootTest = needs(ROOT, need(supported, `kernel ${os.release()} or the host / cannot make idmapped mounts`));

const OWNER = 1000;
const one = (containerID: number, hostID: number): LinuxIDMapping[] => [{ containerID, hostID, size: 1 }];

interface Source {
  dir: string;
  /** A bind mount on <dir>/sub: the submount "ridmap" covers and "idmap" does not. */
  sub: string;
}

/** Host mounts on or of anything under dir (mountinfo fields 4, root, and 5, mount point). */
function mountsUnder(dir: string): string[] {
  const under = (p: string | undefined) => p !== undefined && (p === dir || p.startsWith(dir + '/'));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => under(l.split(' ')[3]) || under(l.split(' ')[4]));
}

/**
 * A host directory owned by uid/gid 1000 holding a file f, and a submount sub (a bind mount of a
 * sibling directory) holding g, both owned by 1000. The teardown unmounts and removes it, and fails
 * the test if anything else (an idmapped mount left behind) still refers to it.
 * It lives where the filesystem can be idmapped: /tmp is a tmpfs in the test VM, and tmpfs takes
 * idmapped mounts only since Linux 6.3 (the VM runs 6.1); /var/tmp is its ext4 root there.
 */
function makeSource(t: ExecutionContext): Source {
  const base = idmapRefusal(os.tmpdir()) === undefined ? os.tmpdir() : '/var/tmp';
  const dir = fs.mkdtempSync(path.join(base, 'tsrun-idmap-src-'));
  const subSource = `${dir}-sub`;
  // The container root of a user namespace (host uid 100000) must be able to reach it.
  fs.chmodSync(dir, 0o755);
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub);
  fs.writeFileSync(path.join(dir, 'f'), 'f\n');
  fs.mkdirSync(subSource, { mode: 0o755 });
  execFileSync('mount', ['--bind', subSource, sub]);
  fs.writeFileSync(path.join(sub, 'g'), 'g\n');
  for (const p of [dir, path.join(dir, 'f'), sub, path.join(sub, 'g')]) fs.chownSync(p, OWNER, OWNER);
  t.teardown(() => {
    const before = mountsUnder(dir);
    try {
      execFileSync('umount', [sub]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(subSource, { recursive: true, force: true });
    }
    // Only our own bind mount may have been there: the containers' idmapped mounts died with them.
    if (before.length !== 1) throw new Error(`mounts left under ${dir}: ${before.join(' | ')}`);
  });
  return { dir, sub };
}

function idmapMount(destination: string, source: string, options: string[], uid?: LinuxIDMapping[], gid = uid): Mount {
  return { destination, type: 'bind', source, options, ...(uid ? { uidMappings: uid, gidMappings: gid } : {}) };
}

/** A bundle whose rootfs has the mount points already (a remapped root may not create them). */
async function bundleWith(t: ExecutionContext, mounts: Mount[], script: string, mutate?: (s: Spec) => void): Promise<Bundle> {
  return makeBundle(t, (s, { dir, rootfs }) => {
    fs.chmodSync(dir, 0o755);
    for (const m of mounts) fs.mkdirSync(path.join(rootfs, m.destination), { recursive: true });
    s.mounts!.push(...mounts);
    s.process!.args = ['sh', '-c', script];
    mutate?.(s);
  });
}

function useUserns(s: Spec): void {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
}

/** `stat -c %u:%g` of each path inside the container, and the mountinfo lines of the mounts. */
const STAT = (paths: string[]) => `stat -c %u:%g ${paths.join(' ')}`;

rootTest(
  'no user namespace: {1000 → 0} shows the 1000-owned file as root, a root write lands as 1000; ridmap covers the submount, idmap does not; ro applies',
  async (t) => {
    const src = makeSource(t);
    const b = await bundleWith(
      t,
      [
        idmapMount('/r', src.dir, ['rbind', 'ridmap'], one(OWNER, 0)),
        idmapMount('/i', src.dir, ['rbind', 'idmap'], one(OWNER, 0)),
        idmapMount('/ro', src.dir, ['bind', 'ro'], one(OWNER, 0)),
      ],
      `${STAT(['/r/f', '/r/sub/g', '/i/f', '/i/sub/g', '/ro/f'])}; touch /r/written; echo x > /r/sub/written; ` +
        'touch /ro/nope 2>/dev/null && echo ro-writable || echo ro-refused; grep -E " /(r|i|ro)(/sub)? " /proc/self/mountinfo',
    );
    const f = await b.tsrun(['features']);
    t.true(JSON.parse(f.stdout).linux.mountExtensions.idmap.enabled, 'features: idmap enabled');
    const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
    t.is(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    t.deepEqual(lines.slice(0, 5), ['0:0', '0:0', '0:0', `${OWNER}:${OWNER}`, '0:0'], 'f and g under /r, f under /i and /ro are root; g under /i keeps 1000');
    t.is(lines[5], 'ro-refused');
    const info = lines.slice(6);
    const opts = (mp: string) => info.find((l) => l.split(' ')[4] === mp)?.split(' ')[5] ?? '';
    t.regex(opts('/r'), /idmapped/, r.stdout);
    t.regex(opts('/r/sub'), /idmapped/, 'ridmap: the submount is idmapped too');
    t.regex(opts('/i'), /idmapped/);
    t.notRegex(opts('/i/sub'), /idmapped/, 'idmap: only the top mount');
    t.regex(opts('/ro'), /^ro,.*idmapped/);
    t.is(info.filter((l) => l.split(' ')[4] === '/ro/sub').length, 0, 'bind (not rbind) leaves the submount out');
    for (const f of [path.join(src.dir, 'written'), path.join(src.sub, 'written')]) {
      const st = fs.statSync(f);
      t.deepEqual([st.uid, st.gid], [OWNER, OWNER], `${f}: written as root inside, owned by 1000 on the host`);
    }
    t.false(fs.existsSync(path.join(src.dir, 'nope')));
  },
);

rootTest('container user namespace (root = host 100000): {1000 → 100000} shows root; "idmap" without mappings takes the container maps', async (t) => {
  const src = makeSource(t);
  const b = await bundleWith(
    t,
    [idmapMount('/m', src.dir, ['bind', 'idmap'], one(OWNER, 100000)), idmapMount('/c', src.dir, ['rbind', 'ridmap'])],
    `id -u; ${STAT(['/m/f', '/c/f', '/c/sub/g'])}; touch /m/by-root; grep -E " /(m|c) " /proc/self/mountinfo`,
    useUserns,
  );
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines[0], '0', 'root in the user namespace');
  t.is(lines[1], '0:0', '/m: stored 1000, seen as host 100000 = container root');
  // The container's own maps (0 → 100000, 65536 ids): stored 1000 is seen as host 101000, container 1000.
  t.deepEqual(lines.slice(2, 4), [`${OWNER}:${OWNER}`, `${OWNER}:${OWNER}`]);
  t.is(lines.slice(4).filter((l) => l.split(' ')[5]?.split(',').includes('idmapped')).length, 2, r.stdout);
  const st = fs.statSync(path.join(src.dir, 'by-root'));
  t.deepEqual([st.uid, st.gid], [OWNER, OWNER], 'written by the container root, stored as 1000');
});

rootTest('joined user namespace: "idmap" without mappings uses the namespace joined by path', async (t) => {
  const src = makeSource(t);
  // Seen as owned by 1000 here, and the default capabilities have no CAP_DAC_OVERRIDE.
  fs.chmodSync(src.dir, 0o777);
  const first = await makeBundle(t, (s, { dir }) => {
    fs.chmodSync(dir, 0o755);
    useUserns(s);
    s.process!.args = ['sleep', '600'];
  });
  const up = await first.tsrun(['run', '-d', '--bundle', first.dir, first.id]);
  t.is(up.code, 0, up.stderr);
  const { pid } = (await first.state()) as { pid: number };
  const b = await bundleWith(t, [idmapMount('/j', src.dir, ['bind', 'idmap'])], `id -u; ${STAT(['/j/f'])}; touch /j/joined`, (s) => {
    s.linux!.namespaces!.push({ type: 'user', path: `/proc/${pid}/ns/user` });
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['0', `${OWNER}:${OWNER}`], 'the joined namespace maps 1000 to 1000 as the first container does');
  // Its root is host 100000, which the mount maps back to stored 0.
  t.is(fs.statSync(path.join(src.dir, 'joined')).uid, 0);
  t.is((await first.tsrun(['delete', '--force', first.id])).code, 0);
});

rootTest('the library with the static helper (tsrun-init): a file bind, idmapped, in a user namespace', async (t) => {
  const src = makeSource(t);
  const file = path.join(src.dir, 'f');
  const b = await bundleWith(t, [], 'stat -c %u:%g /file; cat /file', (s) => {
    useUserns(s);
    s.mounts!.push(idmapMount('/file', file, ['bind', 'idmap'], one(OWNER, 100000)));
  });
  fs.writeFileSync(path.join(b.rootfs, 'file'), '');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-idmap-api-'));
  const rt = new Runtime({ root, spawn: 'helper' });
  t.teardown(async () => {
    for (const st of await rt.list()) await rt.delete(st.id, { force: true, missingOk: true }).catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  });
  const c = await rt.run(b.id, { bundle: b.dir });
  const out = await c.output();
  t.is(out.exitCode, 0, out.stderr);
  t.is(out.stdout, '0:0\nf\n');
  await c.delete();
});

rootTest('bad mappings and non-bind idmap mounts are refused before anything runs, naming the mount', async (t) => {
  const src = makeSource(t);
  const cases: { name: string; mount: Mount; want: RegExp; userns?: boolean }[] = [
    {
      name: 'size 0',
      mount: idmapMount('/x', src.dir, ['bind'], [{ containerID: 0, hostID: 1000, size: 0 }]),
      want: /uidMappings\[0\]\.size: 0 is out of range/,
    },
    {
      name: 'overlap',
      mount: idmapMount(
        '/x',
        src.dir,
        ['bind'],
        [
          { containerID: 0, hostID: 1000, size: 10 },
          { containerID: 5, hostID: 5000, size: 10 },
        ],
      ),
      want: /mappings 0 and 1 overlap \(containerID ranges\)/,
    },
    {
      name: '341 lines',
      mount: idmapMount(
        '/x',
        src.dir,
        ['bind'],
        Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 10000 + i, size: 1 })),
      ),
      want: /341 mappings; the kernel takes at most 340/,
    },
    {
      name: 'tmpfs',
      mount: { destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['idmap'], uidMappings: one(0, 1), gidMappings: one(0, 1) },
      want: /id-mapped mounts are only supported for bind-mounts/,
    },
    {
      name: 'uid only',
      mount: { ...idmapMount('/x', src.dir, ['bind'], one(0, 1)), gidMappings: undefined },
      want: /id-mapped mounts must have both uid and gid mappings specified/,
    },
    {
      name: 'idmap, no maps, no userns',
      mount: idmapMount('/x', src.dir, ['bind', 'idmap']),
      want: /id-mapped mounts must have both uid and gid mappings specified/,
    },
  ];
  for (const c of cases) {
    const b = await bundleWith(t, [c.mount], 'touch /x/ran');
    const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
    t.not(r.code, 0, `${c.name}: refused`);
    t.regex(r.stderr, c.want, c.name);
    t.regex(r.stderr, /mounts\[\d+\]/, `${c.name}: the error names the mount`);
    t.false(fs.existsSync(path.join(src.dir, 'ran')), `${c.name}: nothing ran`);
  }
});

rootTest('a filesystem that cannot be idmapped: the kernel error names the mount ("idmap mount of X on Y: ...")', async (t) => {
  // procfs has no FS_ALLOW_IDMAP: mount_setattr(2) says EINVAL.
  const b = await bundleWith(t, [idmapMount('/p', '/proc/sys', ['bind'], one(0, 1000))], 'true');
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /idmap mount of \/proc\/sys on \/p: invalid argument/i, r.stderr);
});
