// The argv real engines pass, verbatim (reference/runtime-contract.md §1.2), against real
// containers: containerd's shim (go-runc), conmon, CRI-O, BuildKit; runc's `state` JSON shape;
// `features`; and `spec` producing a config that runs.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { makeBundle, procStat, runTsrun, waitFor, type TsrunResult } from '../helpers/bundle.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('containers'));

const STATE_KEYS = ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner'];

function ok(t: ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} exited ${r.code}: ${r.stderr}`);
}

function signalsBundle(t: ExecutionContext, annotations?: Record<string, string>) {
  return makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
    if (annotations) s.annotations = annotations;
  });
}

rootTest('containerd: create/start/state/kill --all/delete with the shim argv and a JSON log', async (t) => {
  const b = await signalsBundle(t);
  const log = path.join(b.dir, 'log.json');
  const g = ['--root', b.root, '--log', log, '--log-format', 'json'];
  const pidFile = path.join(b.dir, 'init.pid');
  const create = await runTsrun([...g, 'create', '--bundle', b.dir, '--pid-file', pidFile, b.id], { cwd: '/' });
  ok(t, create, 'create');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.true(pid > 0);
  ok(t, await runTsrun([...g, 'start', b.id]), 'start');

  const st = await runTsrun([...g, 'state', b.id]);
  ok(t, st, 'state');
  const state = JSON.parse(st.stdout) as Record<string, unknown>;
  t.deepEqual(Object.keys(state), STATE_KEYS, 'runc key order');
  t.like(state, { ociVersion: b.spec.ociVersion, id: b.id, pid, status: 'running', bundle: b.dir, rootfs: path.join(b.dir, 'rootfs'), owner: 'root' });
  t.regex(state.created as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  t.true(Math.abs(Date.parse(state.created as string) - Date.now()) < 120_000, 'created is now-ish');

  ok(t, await runTsrun([...g, 'kill', '--all', b.id, '9']), 'kill --all ID 9');
  await waitFor(
    () => {
      const s = procStat(pid);
      return !s || s.state === 'Z';
    },
    10_000,
    () => `init ${pid} to die`,
  );
  const stopped = await runTsrun([...g, 'state', b.id]);
  t.is(JSON.parse(stopped.stdout).status, 'stopped');
  // containerd's Delete: plain, then --force; "does not exist" on the second counts as success.
  ok(t, await runTsrun([...g, 'delete', b.id]), 'delete');
  ok(t, await runTsrun([...g, 'delete', '--force', b.id]), 'delete --force of the deleted id');
  const missing = await runTsrun([...g, 'kill', b.id, '9']);
  t.not(missing.code, 0);
  const lines = fs
    .readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: string; msg: string });
  t.is(lines.at(-1)?.level, 'error');
  t.true(lines.at(-1)!.msg.includes('does not exist'), 'checkKillError matches "does not exist"');
});

rootTest('conmon: --root= form, -bundle single dash, --no-pivot --no-new-keyring --preserve-fds 0; kill ID KILL; delete --force', async (t) => {
  const b = await signalsBundle(t);
  const pidFile = path.join(b.dir, 'conmon.pid');
  const create = await runTsrun(
    [`--root=${b.root}`, 'create', '-bundle', b.dir, '-pid-file', pidFile, '--no-pivot', '--no-new-keyring', '--preserve-fds', '0', b.id],
    { ioDir: b.ioDir },
  );
  ok(t, create, 'create');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  ok(t, await runTsrun([`--root=${b.root}`, 'start', b.id]), 'start');
  await waitFor(
    () => b.output(create).includes('"ready"'),
    10_000,
    () => 'the probe to run',
  );
  ok(t, await runTsrun([`--root=${b.root}`, 'kill', b.id, 'KILL']), 'kill ID KILL (CRI-O)');
  await waitFor(
    () => {
      const s = procStat(pid);
      return !s || s.state === 'Z';
    },
    10_000,
    () => `init ${pid} to die`,
  );
  ok(t, await runTsrun([`--root=${b.root}`, 'delete', '--force', b.id]), 'delete --force');
  t.false(fs.existsSync(path.join(b.root, b.id)));
});

rootTest('flag forms: --bundle=B, -b B, bool --force=true, flags after the id', async (t) => {
  const b = await signalsBundle(t);
  const ids = [b.newId('eq'), b.newId('short'), b.newId('after')];
  ok(t, await b.tsrun(['create', `--bundle=${b.dir}`, ids[0]]), '--bundle=B');
  ok(t, await b.tsrun(['create', '-b', b.dir, ids[1]]), '-b B');
  ok(t, await b.tsrun(['create', ids[2], '--bundle', b.dir]), 'flags after the id');
  for (const id of ids) t.is((await b.state(id)).status, 'created');
  // Global flags engines add on every call are accepted (and ignored where they do not apply).
  for (const g of [['--rootless=false'], ['--rootless', 'auto'], ['--systemd-cgroup'], ['--debug'], ['--log-format=text']]) {
    const r = await b.tsrun([...g, 'state', ids[0]]);
    ok(t, r, `${g.join(' ')} state`);
    t.is(JSON.parse(r.stdout).id, ids[0]);
  }
  ok(t, await b.tsrun(['delete', '--force=true', ids[0]]), '--force=true');
  ok(t, await b.tsrun(['delete', '-f', ids[1]]), '-f');
  ok(t, await b.tsrun(['-root', b.root, 'delete', '-force', ids[2]]), 'single-dash global and command flags');
  for (const id of ids) t.false(fs.existsSync(path.join(b.root, id)));
  const bad = await b.tsrun(['create', '--bogus', b.id]);
  t.not(bad.code, 0);
  t.true(bad.stderr.includes('flag provided but not defined: -bogus'), bad.stderr);
});

rootTest('state JSON carries annotations between created and owner, as runc', async (t) => {
  const b = await signalsBundle(t, { 'org.example.key': 'value', 'io.kubernetes.cri.sandbox-id': 'abc' });
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create');
  const st = await b.tsrun(['state', b.id]);
  ok(t, st, 'state');
  const state = JSON.parse(st.stdout) as Record<string, unknown>;
  t.deepEqual(Object.keys(state), ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'annotations', 'owner']);
  t.deepEqual(state.annotations, { 'org.example.key': 'value', 'io.kubernetes.cri.sandbox-id': 'abc' });
  t.is(state.status, 'created');
});

rootTest('BuildKit: foreground run --bundle B --pid-file P ID', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'echo', 'built'];
  });
  const pidFile = path.join(b.dir, 'run.pid');
  const r = await b.tsrun(['run', '--bundle', b.dir, '--pid-file', pidFile, b.id]);
  ok(t, r, 'run');
  t.is(r.stdout, 'built\n');
  t.true(Number(fs.readFileSync(pidFile, 'utf8')) > 0, 'the pid file was written');
  t.false(fs.existsSync(path.join(b.root, b.id)), 'run without --keep removes the container');
});

rootTest('run --keep leaves a stopped container to delete', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'exit', '0'];
  });
  ok(t, await b.tsrun(['run', '--keep', '--bundle', b.dir, b.id]), 'run --keep');
  t.is((await b.state()).status, 'stopped');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');
});

test('features: JSON with the runc keys', async (t) => {
  const r = await runTsrun(['features']);
  ok(t, r, 'features');
  const f = JSON.parse(r.stdout) as Record<string, any>;
  for (const key of ['ociVersionMin', 'ociVersionMax', 'mountOptions', 'linux', 'annotations']) t.true(key in f, `has ${key}`);
  if ('hooks' in f) t.true(Array.isArray(f.hooks));
  t.regex(f.ociVersionMin, /^1\.\d+\.\d+$/);
  t.regex(f.ociVersionMax, /^1\.\d+\.\d+/);
  for (const key of ['namespaces', 'capabilities', 'cgroup', 'seccomp', 'apparmor', 'selinux']) t.true(key in f.linux, `linux.${key}`);
  t.deepEqual([...f.linux.namespaces].sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
  t.true(f.linux.capabilities.includes('CAP_SYS_ADMIN'));
  for (const o of ['rro', 'rbind', 'nosuid', 'rprivate']) t.true(f.mountOptions.includes(o), `mountOptions has ${o} (CRI checks rro)`);
  t.is(typeof f.linux.mountExtensions?.idmap?.enabled, 'boolean', 'idmap support is stated (CRI-O RuntimeSupportsIDMap)');
});

test('--version and -v', async (t) => {
  for (const flag of ['--version', '-v']) {
    const r = await runTsrun([flag]);
    ok(t, r, flag);
    t.regex(r.stdout, /^tsrun version \d+\.\d+\.\d+\n/);
    t.regex(r.stdout, /\nspec: 1\.\d+\.\d+\n/);
  }
});

rootTest('spec writes a config.json that runs (once terminal is off), and refuses to overwrite it', async (t) => {
  const b = await makeBundle(t);
  fs.rmSync(path.join(b.dir, 'config.json'));
  ok(t, await b.tsrun(['spec', '--bundle', b.dir], { cwd: '/' }), 'spec --bundle');
  const spec = JSON.parse(fs.readFileSync(path.join(b.dir, 'config.json'), 'utf8'));
  t.is(spec.root.path, 'rootfs');
  t.deepEqual(spec.process.args, ['sh']);
  const again = await b.tsrun(['spec', '-b', b.dir]);
  t.not(again.code, 0);
  t.true(again.stderr.includes('File config.json exists. Remove it first'), again.stderr);
  // Without a console socket a terminal cannot be handed over; engines always set this.
  spec.process.terminal = false;
  spec.process.args = ['sh', '-c', 'hostname; exit 7'];
  fs.writeFileSync(path.join(b.dir, 'config.json'), JSON.stringify(spec));
  const r = await b.tsrun(['run', b.id]); // cwd is the bundle: runc's default --bundle
  t.is(r.code, 7, r.stderr);
  t.is(r.stdout, 'tsrun\n');
});

rootTest('spec --rootless writes a config with a user namespace that runs', async (t) => {
  const b = await makeBundle(t);
  fs.chmodSync(b.dir, 0o755);
  fs.rmSync(path.join(b.dir, 'config.json'));
  ok(t, await b.tsrun(['spec', '--rootless']), 'spec --rootless');
  const spec = JSON.parse(fs.readFileSync(path.join(b.dir, 'config.json'), 'utf8'));
  t.true(spec.linux.namespaces.some((n: { type: string }) => n.type === 'user'));
  spec.process.terminal = false;
  spec.process.args = ['probe', 'ids'];
  fs.writeFileSync(path.join(b.dir, 'config.json'), JSON.stringify(spec));
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  ok(t, r, 'run');
  t.like(JSON.parse(r.stdout).ids, { uid: 0, gid: 0 });
});

rootTest('relative --bundle and --pid-file are taken from the caller’s cwd; state shows absolute paths', async (t) => {
  const b = await signalsBundle(t);
  const parent = path.dirname(b.dir);
  const rel = path.basename(b.dir);
  ok(t, await b.tsrun(['create', '--bundle', rel, '--pid-file', `${rel}/rel.pid`, b.id], { cwd: parent }), 'create with relative paths');
  const state = await b.state();
  t.is(state.bundle, b.dir);
  t.is(state.rootfs, path.join(b.dir, 'rootfs'));
  t.is(fs.readFileSync(path.join(b.dir, 'rel.pid'), 'utf8').trim(), String(state.pid));
  const noFlag = b.newId('cwd');
  ok(t, await b.tsrun(['create', noFlag], { cwd: b.dir }), 'create without --bundle uses the cwd');
  t.is((await b.state(noFlag)).bundle, b.dir);
});
