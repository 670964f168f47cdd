// A bundle is hostile input (runtime-spec config.md "Mounts"; CVE-2021-30465, CVE-2019-19921):
// symlinks in the rootfs and "../" in mount destinations must not make tsrun mount or write
// anything on the host. Each case runs the container, then checks the host: no new mount on a
// sensitive path or carrying the test's marker, /, /etc and /dev/null unchanged, nothing created
// next to the bundle. Whether the create fails or succeeds, the host must be untouched.
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle, type Bundle, type BundleContext, type TsrunResult } from '../helpers/bundle.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('mounts'));

const SENSITIVE = ['/', '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/null', '/sys', '/etc', '/etc/hostname', '/etc/passwd', '/tmp'];

interface HostSnapshot {
  mounts: Set<string>;
  rootEntries: string[];
  etcEntries: string[];
  devNull: string;
  hostname: string;
}

function snapshot(): HostSnapshot {
  const st = fs.statSync('/dev/null');
  return {
    mounts: new Set(fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)),
    rootEntries: fs.readdirSync('/').sort(),
    etcEntries: fs.readdirSync('/etc').sort(),
    devNull: `${st.ino}:${st.rdev}:${st.mode.toString(8)}:${st.uid}:${st.gid}`,
    hostname: fs.readFileSync('/etc/hostname', 'utf8'),
  };
}

/** The mount point (field 5) of a mountinfo line, octal escapes decoded. */
function mountPoint(line: string): string {
  return line.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function assertHostUntouched(t: ExecutionContext, before: HostSnapshot, marker: string, outside: string[]): void {
  const after = snapshot();
  const added = [...after.mounts].filter((l) => !before.mounts.has(l));
  const removed = [...before.mounts].filter((l) => !after.mounts.has(l));
  if (added.length || removed.length) t.log(`host mount table changed meanwhile (other tests?): +${added.join(' | ')} -${removed.join(' | ')}`);
  const ours = added.filter((l) => l.includes(marker) || SENSITIVE.includes(mountPoint(l)));
  t.deepEqual(ours, [], 'no mount landed on the host');
  t.deepEqual(
    removed.filter((l) => SENSITIVE.includes(mountPoint(l))),
    [],
    'no host mount was detached',
  );
  t.deepEqual(after.rootEntries, before.rootEntries, 'nothing created in the host /');
  t.deepEqual(after.etcEntries, before.etcEntries, 'nothing created in the host /etc');
  t.is(after.devNull, before.devNull, 'the host /dev/null is the same node, mode and owner');
  t.is(after.hostname, before.hostname, 'the host /etc/hostname is unchanged');
  for (const p of outside) t.false(fs.existsSync(p), `${p} was not created on the host`);
}

async function hostile(
  t: ExecutionContext,
  mutate: (spec: Spec, ctx: BundleContext, marker: string) => void,
): Promise<{ b: Bundle; r: TsrunResult; marker: string; before: HostSnapshot }> {
  const marker = `tsrun-escape-${randomBytes(4).toString('hex')}`;
  const b = await makeBundle(t, (s, ctx) => {
    s.root!.readonly = false;
    // Every mount the runtime makes carries the marker as its source, so a leak is recognisable.
    for (const m of s.mounts ?? []) if (m.type === 'tmpfs' || m.type === 'proc') m.source = marker;
    mutate(s, ctx, marker);
  });
  const before = snapshot();
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.log(`run exited ${r.code}: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
  return { b, r, marker, before };
}

function replaceWithSymlink(p: string, target: string): void {
  fs.rmSync(p, { recursive: true, force: true });
  fs.symlinkSync(target, p);
}

rootTest('rootfs/proc -> / cannot mount proc over the host /', async (t) => {
  const { r, marker, before } = await hostile(t, (s, { rootfs }) => {
    replaceWithSymlink(path.join(rootfs, 'proc'), '/');
    s.process!.args = ['probe', 'mounts'];
  });
  t.not(r.code, 0, 'runc refuses a /proc that is a symlink, and so does tsrun');
  t.true(/proc/.test(r.stderr), `the error names /proc: ${r.stderr}`);
  assertHostUntouched(t, before, marker, []);
});

rootTest('rootfs/proc -> ../../.. (relative) cannot reach the host either', async (t) => {
  const { r, marker, before } = await hostile(t, (s, { rootfs }) => {
    replaceWithSymlink(path.join(rootfs, 'proc'), '../../../../../..');
    s.process!.args = ['probe', 'mounts'];
  });
  t.not(r.code, 0);
  assertHostUntouched(t, before, marker, []);
});

rootTest('rootfs/dev -> / keeps /dev mounts and device nodes inside the rootfs', async (t) => {
  const { r, marker, before, b } = await hostile(t, (s, { rootfs }) => {
    replaceWithSymlink(path.join(rootfs, 'dev'), '/');
    s.process!.args = ['probe', 'mounts'];
  });
  assertHostUntouched(t, before, marker, ['/pts', '/shm', '/mqueue', '/null', '/zero']);
  if (r.code === 0) t.pass('the container ran with /dev resolved inside its rootfs');
  else t.log(`refused: ${r.stderr}`);
  t.true(fs.lstatSync(path.join(b.rootfs, 'dev')).isSymbolicLink(), 'the planted link itself is left alone');
});

rootTest('rootfs/sys -> /sys and rootfs/sys/fs/cgroup tricks stay inside', async (t) => {
  const { r, marker, before } = await hostile(t, (s, { rootfs }) => {
    replaceWithSymlink(path.join(rootfs, 'sys'), '/sys');
    s.process!.args = ['probe', 'mounts'];
  });
  t.not(r.code, 0, 'sysfs is not mounted through a symlink');
  assertHostUntouched(t, before, marker, []);
});

rootTest('mount destinations with ../ resolve inside the rootfs', async (t) => {
  let name = '';
  const { r, marker, before, b } = await hostile(t, (s, _ctx, m) => {
    name = m;
    s.mounts!.push(
      { destination: `/../../${m}-tmp`, type: 'tmpfs', source: m, options: ['size=64k'] },
      { destination: `/dev/../../../${m}-bind`, type: 'bind', source: 'config.json', options: ['bind', 'ro'] },
    );
    s.process!.args = ['probe', 'mounts'];
  });
  const outside = [
    path.resolve(b.rootfs, `../../${name}-tmp`),
    path.resolve(b.rootfs, `../../../${name}-bind`),
    path.resolve(b.rootfs, `../${name}-tmp`),
    `/${name}-tmp`,
    `/${name}-bind`,
  ];
  assertHostUntouched(t, before, marker, outside);
  t.is(r.code, 0, `the mounts are made inside the rootfs: ${r.stderr}`);
  const mounts = (JSON.parse(r.stdout).mounts as { mountPoint: string; fstype: string }[]).map((m) => m.mountPoint);
  t.true(mounts.includes(`/${name}-tmp`), `tmpfs at /${name}-tmp inside: ${mounts.join(' ')}`);
  t.true(mounts.includes(`/${name}-bind`), `bind at /${name}-bind inside`);
  t.true(fs.existsSync(path.join(b.rootfs, `${name}-tmp`)), 'the mount point was made inside the rootfs');
});

rootTest('a bind destination through an absolute symlink to /etc lands in the rootfs /etc', async (t) => {
  let name = '';
  const { r, marker, before, b } = await hostile(t, (s, { rootfs, dir }, m) => {
    name = m;
    fs.symlinkSync('/etc', path.join(rootfs, 'etc-link'));
    fs.writeFileSync(path.join(dir, 'payload'), `payload ${m}\n`);
    s.mounts!.push(
      { destination: '/etc-link/hostname', type: 'bind', source: 'payload', options: ['bind', 'ro'] },
      { destination: `/etc-link/${m}`, type: 'bind', source: 'payload', options: ['bind'] },
    );
    s.process!.args = ['sh', '-c', `probe cat /etc/hostname; probe cat /etc/${m}`];
  });
  assertHostUntouched(t, before, marker, [`/etc/${name}`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `payload ${name}\n`.repeat(2), 'the container sees the binds at its own /etc');
  t.true(fs.existsSync(path.join(b.rootfs, 'etc', name)), 'the new mount point was created in the rootfs /etc');
});

for (const existsInRootfs of [true, false]) {
  rootTest(`a missing cwd behind a symlink to a host path (${existsInRootfs ? 'present' : 'absent'} in the rootfs) is never made on the host`, async (t) => {
    let hostDir = '';
    const { r, marker, before, b } = await hostile(t, (s, { rootfs, dir }, m) => {
      hostDir = path.join(path.dirname(dir), `${m}-cwd`);
      fs.symlinkSync(hostDir, path.join(rootfs, 'w'));
      if (existsInRootfs) fs.mkdirSync(path.join(rootfs, hostDir), { recursive: true });
      s.process!.cwd = '/w/sub';
      s.process!.args = ['probe', 'cwd'];
    });
    assertHostUntouched(t, before, marker, [hostDir]);
    if (existsInRootfs) {
      t.is(r.code, 0, r.stderr);
      t.is(JSON.parse(r.stdout).cwd, path.join(hostDir, 'sub'), 'getcwd inside shows the resolved path');
      t.true(fs.statSync(path.join(b.rootfs, hostDir, 'sub')).isDirectory(), 'the link was followed inside the rootfs');
    } else if (r.code === 0) {
      t.true(fs.statSync(path.join(b.rootfs, hostDir, 'sub')).isDirectory(), 'created inside the rootfs');
    } else {
      // A dangling link is refused (as securejoin's MkdirAll does); the error names the cwd.
      t.true(r.stderr.includes('/w/sub'), r.stderr);
    }
  });
}

rootTest('a bind destination that is a symlink to the host /root covers the rootfs /root instead', async (t) => {
  const { r, marker, before } = await hostile(t, (s, { rootfs, dir }) => {
    fs.symlinkSync('/root', path.join(rootfs, 'hostroot'));
    fs.mkdirSync(path.join(dir, 'empty'));
    fs.writeFileSync(path.join(rootfs, 'root', 'only-in-rootfs'), '');
    s.mounts!.push({ destination: '/hostroot', type: 'bind', source: 'empty', options: ['rbind', 'ro'] });
    s.process!.args = ['probe', 'stat', '/root'];
  });
  assertHostUntouched(t, before, marker, []);
  t.false(
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l && mountPoint(l) === '/root'),
    'no mount on the host /root',
  );
  t.is(r.code, 0, r.stderr);
  const root = JSON.parse(r.stdout).paths['/root'] as { entries: number; readOnly: boolean };
  t.is(root.entries, 0, 'the empty bundle dir covers the rootfs /root');
  t.true(root.readOnly);
});

rootTest('device nodes with ../ or a symlinked parent are made inside the rootfs', async (t) => {
  let name = '';
  const { r, marker, before, b } = await hostile(t, (s, { rootfs }, m) => {
    name = m;
    fs.symlinkSync('/tmp', path.join(rootfs, 'devlink'));
    s.linux!.devices = [
      { path: `/dev/../../../${m}-a`, type: 'c', major: 1, minor: 3, fileMode: 0o666 },
      { path: `/devlink/${m}-b`, type: 'c', major: 1, minor: 3, fileMode: 0o666 },
    ];
    s.process!.args = ['probe', 'stat', `/${m}-a`, `/tmp/${m}-b`];
  });
  assertHostUntouched(t, before, marker, [`/${name}-a`, `/tmp/${name}-a`, `/tmp/${name}-b`, path.resolve(b.rootfs, `../../../${name}-a`)]);
  t.is(r.code, 0, r.stderr);
  const paths = JSON.parse(r.stdout).paths as Record<string, { stat: { type: string; major: number; minor: number } | null }>;
  t.like(paths[`/${name}-a`].stat, { type: 'char', major: 1, minor: 3 });
  t.like(paths[`/tmp/${name}-b`].stat, { type: 'char', major: 1, minor: 3 });
  t.true(fs.lstatSync(path.join(b.rootfs, 'tmp', `${name}-b`)).isCharacterDevice(), 'the node is in the rootfs /tmp');
});

rootTest('a mount point swapped between a dir and a symlink to the host during create never lands outside (CVE-2021-30465)', async (t) => {
  const marker = `tsrun-race-${randomBytes(4).toString('hex')}`;
  const hostTarget = path.join(os.tmpdir(), `${marker}-target`);
  fs.mkdirSync(hostTarget);
  t.teardown(() => fs.rmSync(hostTarget, { recursive: true, force: true }));
  const b = await makeBundle(t, (s, { rootfs }) => {
    s.root!.readonly = false;
    fs.mkdirSync(path.join(rootfs, 'mnt/race'), { recursive: true });
    s.mounts!.push({ destination: `/mnt/race/${marker}`, type: 'tmpfs', source: marker, options: ['size=64k'] });
    s.process!.args = ['probe', 'exit', '0'];
  });
  // A host process flips rootfs/mnt/race between a directory and a symlink to hostTarget.
  const flip = path.join(b.rootfs, 'mnt/race');
  const flipper = spawn(
    process.execPath,
    [
      '-e',
      `
    const fs = require('fs'); const p = ${JSON.stringify(flip)}, to = ${JSON.stringify(hostTarget)};
    for (;;) {
      try { fs.rmSync(p, { recursive: true, force: true }); fs.symlinkSync(to, p); } catch {}
      try { fs.rmSync(p, { recursive: true, force: true }); fs.mkdirSync(p); } catch {}
    }`,
    ],
    { stdio: 'ignore' },
  );
  t.teardown(() => {
    flipper.kill('SIGKILL');
  });
  const before = snapshot();
  const outcomes: (number | null)[] = [];
  for (let i = 0; i < 12; i++) {
    const r = await b.tsrun(['run', '--bundle', b.dir, b.newId(`race${i}`)]);
    outcomes.push(r.code);
  }
  flipper.kill('SIGKILL');
  await new Promise((r) => flipper.once('exit', r));
  t.log(`exit codes under the race: ${outcomes.join(' ')}`);
  t.deepEqual(fs.readdirSync(hostTarget), [], 'nothing was created in the host directory the symlink points to');
  assertHostUntouched(t, before, marker, [path.join(hostTarget, marker)]);
});
