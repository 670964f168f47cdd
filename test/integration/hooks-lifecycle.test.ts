// Every hook kind of runtime-spec config.md "POSIX-platform Hooks", through the CLI: when it runs,
// in which namespaces, with the state JSON on stdin, its own args and env, its timeout, and what
// its failure does. tsrun follows runtime-spec v1.3 where runc and crun differ: a failing
// poststart hook kills the container and fails `start` (crun only logs it).
//
// Each hook is a shell script that appends one JSON-ish record to a log: its name, the state it
// read, its argv and env, and the namespaces it ran in. Host-side hooks (prestart, createRuntime,
// createContainer, poststart, poststop) write to the bundle directory; startContainer, whose path
// resolves inside the container after pivot_root, writes into the (writable) rootfs.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Hook, Spec } from '../../src/spec/types.js';
import { makeBundle, procStat, waitFor, type Bundle } from '../helpers/bundle.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root());

interface Entry {
  hook: string;
  state: { id: string; status: string; pid?: number; bundle: string; annotations?: Record<string, string> };
  argv: string[];
  env: string[];
  mnt: string;
  net: string;
  /** what the hook saw about the init: its exe and whether <rootfs>/proc is a proc mount here */
  exe: string;
  rootfsProc: boolean;
}

/** A script recording one Entry as one line (fields separated by \x1f) into log. */
function recorder(log: string, rootfs: string): string {
  return `#!/bin/sh
state=$(cat)
pid=$(printf '%s' "$state" | sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')
exe=$(readlink /proc/$pid/exe 2>/dev/null)
grep -q " ${rootfs}/proc .* - proc " /proc/self/mountinfo && rp=1 || rp=0
printf '%s\\037%s\\037%s\\037%s\\037%s\\037%s\\037%s\\037%s\\n' "$HOOK_NAME" "$state" "$*" "$(env | grep -v '^PWD=\\|^SHLVL=\\|^_=' | sort | tr '\\n' ' ')" "$(readlink /proc/self/ns/mnt)" "$(readlink /proc/self/ns/net)" "$exe" "$rp" >> ${log}
exit \${HOOK_EXIT:-0}
`;
}

function readLog(log: string): Entry[] {
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [hook, state, argv, env, mnt, net, exe, rp] = l.split('\x1f');
      return { hook, state: JSON.parse(state), argv: argv.split(' '), env: env.trim().split(' ').filter(Boolean), mnt, net, exe, rootfsProc: rp === '1' };
    });
}

function hook(script: string, name: string, extra: Partial<Hook> = {}, env: string[] = []): Hook {
  return { path: script, args: [`argv0-${name}`, 'one', 'two'], env: [`HOOK_NAME=${name}`, ...env], ...extra };
}

async function hooked(
  t: ExecutionContext,
  hooks: (host: string, inside: string) => Spec['hooks'],
  args = ['sh', '-c', 'echo program-ran > /program-ran'],
): Promise<{ b: Bundle; log: string; insideLog: string }> {
  let log = '';
  let insideLog = '';
  const b = await makeBundle(t, (s, { dir, rootfs }) => {
    log = path.join(dir, 'hooks.log');
    insideLog = path.join(rootfs, 'hooks.log');
    s.root!.readonly = false;
    s.annotations = { 'org.tsrun.hooks': 'yes' };
    fs.writeFileSync(path.join(dir, 'hook.sh'), recorder(log, rootfs), { mode: 0o755 });
    fs.writeFileSync(path.join(rootfs, 'hook.sh'), recorder('/hooks.log', '/nonexistent'), { mode: 0o755 });
    s.hooks = hooks(path.join(dir, 'hook.sh'), '/hook.sh');
    s.process!.args = args;
  });
  return { b, log, insideLog };
}

const ns = (pid: number | string, n: string) => fs.readlinkSync(`/proc/${pid}/ns/${n}`);

rootTest('all six hooks run in order, at their moment and in their namespaces, with the state on stdin, their args and env only', async (t) => {
  const { b, log, insideLog } = await hooked(
    t,
    (h, inside) => ({
      prestart: [hook(h, 'prestart')],
      createRuntime: [hook(h, 'createRuntime', {}, ['EXTRA=1'])],
      createContainer: [hook(h, 'createContainer')],
      startContainer: [hook(inside, 'startContainer')],
      poststart: [hook(h, 'poststart')],
      poststop: [hook(h, 'poststop')],
    }),
    ['sh', '-c', 'echo program-ran > /program-ran; sleep 60'],
  );
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  const { pid } = (await b.state()) as { pid: number };
  const afterCreate = readLog(log);
  t.deepEqual(
    afterCreate.map((e) => e.hook),
    ['prestart', 'createRuntime', 'createContainer'],
    'create ran these, in this order',
  );
  t.false(fs.existsSync(insideLog), 'startContainer has not run yet');
  const [pre, cr, cc] = afterCreate;
  for (const e of [pre, cr]) {
    t.is(e.mnt, ns('self', 'mnt'), `${e.hook} runs in the runtime's mount namespace`);
    t.is(e.net, ns('self', 'net'), `${e.hook} runs in the runtime's network namespace`);
    t.is(e.state.status, 'creating');
    t.regex(e.exe, /\/(node|bun)[^/]*$/, `${e.hook}: the init has not exec'd its program yet (still a copy of the runtime, node or bun)`);
  }
  t.is(cc.mnt, ns(pid, 'mnt'), 'createContainer runs in the container mount namespace');
  t.is(cc.net, ns(pid, 'net'), 'and its network namespace');
  t.true(cc.rootfsProc, 'createContainer sees the container mounts (proc on <rootfs>/proc), i.e. before pivot_root');
  for (const e of afterCreate) {
    t.is(e.state.id, b.id);
    t.is(e.state.pid, pid, `${e.hook}: state.pid is the init`);
    t.is(e.state.bundle, b.dir);
    t.deepEqual(e.state.annotations, { 'org.tsrun.hooks': 'yes' });
    // (args[0] is argv[0]; a #! script cannot see it, the kernel puts the script path there.)
    t.deepEqual(e.argv, ['one', 'two'], `${e.hook}: args[1..] are the arguments`);
  }
  t.deepEqual(cr.env, ['EXTRA=1', 'HOOK_NAME=createRuntime'], 'a hook gets its own env only (no PATH from the runtime)');

  t.is((await b.tsrun(['start', b.id])).code, 0);
  await waitFor(
    () => fs.existsSync(path.join(b.rootfs, 'program-ran')),
    5000,
    () => 'the program to run',
  );
  const [sc] = readLog(insideLog);
  t.is(sc?.hook, 'startContainer', 'startContainer ran, from the path inside the container');
  t.is(sc.mnt, ns(pid, 'mnt'), 'in the container mount namespace');
  t.is(sc.state.status, 'created');
  const afterStart = readLog(log);
  t.deepEqual(
    afterStart.map((e) => e.hook),
    ['prestart', 'createRuntime', 'createContainer', 'poststart'],
  );
  const ps = afterStart[3];
  t.is(ps.state.status, 'running');
  t.is(ps.mnt, ns('self', 'mnt'), 'poststart runs in the runtime namespace');
  t.is(ps.exe, '/bin/busybox', "poststart: the program (sh, i.e. busybox) has been exec'd");

  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
  const all = readLog(log);
  t.deepEqual(
    all.map((e) => e.hook),
    ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'],
  );
  t.is(all[4].state.status, 'stopped');
  t.false(fs.existsSync(path.join(b.root, b.id)), 'poststop ran after the state was removed');
});

for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) {
  rootTest(`a failing ${kind} hook fails create, names the hook and leaves nothing behind`, async (t) => {
    const { b, log } = await hooked(t, (h) => ({ [kind]: [hook(h, kind, {}, ['HOOK_EXIT=3'])], poststop: [hook(h, 'poststop')] }));
    const r = await b.tsrun(['create', '--bundle', b.dir, b.id]);
    t.not(r.code, 0);
    // runc's words (configs.Hooks.Run + Command.Run) wherever the hook ran, the plan interpreter
    // (createContainer) included.
    const words = new RegExp(`error running ${kind} hook #0: error running hook: exit status 3, stdout: , stderr: `);
    t.regex(r.stderr, words, r.stderr);
    t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
    t.deepEqual(
      readLog(log).map((e) => e.hook),
      [kind],
      'the hook ran once; poststop does not run for a container that never was',
    );
  });
}

for (const kind of ['createRuntime', 'createContainer'] as const) {
  rootTest(`a ${kind} hook that runs past its timeout is killed and create fails`, async (t) => {
    let pidFile = '';
    const { b } = await hooked(t, (h) => {
      pidFile = path.join(path.dirname(h), 'slow.pid');
      // The shell reads its own host pid from the host procfs (mounted in every hook's view), then
      // becomes the sleep: that pid must be gone once create has given up.
      fs.writeFileSync(path.join(path.dirname(h), 'slow.sh'), `#!/bin/sh\nread -r pid rest < /proc/self/stat\necho $pid > ${pidFile}\nexec sleep 30\n`, {
        mode: 0o755,
      });
      return { [kind]: [{ path: path.join(path.dirname(h), 'slow.sh'), timeout: 1 }] };
    });
    const started = Date.now();
    const r = await b.tsrun(['create', '--bundle', b.dir, b.id]);
    const took = Date.now() - started;
    t.not(r.code, 0);
    t.regex(r.stderr, new RegExp(`error running ${kind} hook #0: hook ran past specified timeout of 1\\.0s`), r.stderr);
    t.true(took < 15_000, `create gave up after the 1 s timeout, not the hook's 30 s (${took} ms)`);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    t.true(pid > 1);
    await waitFor(
      () => {
        const st = procStat(pid);
        return !st || st.state === 'Z';
      },
      5000,
      () => `hook ${pid} to be killed`,
    );
    t.pass();
  });
}

rootTest('a failing startContainer hook stops the container before its program runs', async (t) => {
  const { b } = await hooked(t, (_h, inside) => ({ startContainer: [hook(inside, 'startContainer', {}, ['HOOK_EXIT=4'])] }));
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  await b.tsrun(['start', b.id]);
  await b.waitStatus(b.id, 'stopped');
  t.false(fs.existsSync(path.join(b.rootfs, 'program-ran')), 'the program never ran');
  t.true(fs.existsSync(path.join(b.rootfs, 'hooks.log')), 'the hook did run');
  t.is((await b.tsrun(['delete', b.id])).code, 0);
});

rootTest('a failing poststart hook kills the container and fails start (runtime-spec v1.3; crun only logs)', async (t) => {
  const { b, log } = await hooked(t, (h) => ({ poststart: [hook(h, 'poststart', {}, ['HOOK_EXIT=5'])] }), ['sleep', '60']);
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  const { pid } = (await b.state()) as { pid: number };
  const r = await b.tsrun(['start', b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /error running poststart hook #0: error running hook: exit status 5/, r.stderr);
  await waitFor(
    () => {
      const s = procStat(pid);
      return !s || s.state === 'Z';
    },
    5000,
    () => `init ${pid} to die`,
  );
  // runc removes the container (1.1.5 fails its create there); tsrun's start removes it too.
  t.regex((await b.tsrun(['state', b.id])).stderr, /container does not exist/);
  t.deepEqual(
    readLog(log).map((e) => e.hook),
    ['poststart'],
  );
});

rootTest('a failing poststop hook is a warning: delete succeeds', async (t) => {
  const { b, log } = await hooked(t, (h) => ({ poststop: [hook(h, 'poststop', {}, ['HOOK_EXIT=6'])] }), ['true']);
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  t.is((await b.tsrun(['start', b.id])).code, 0);
  await b.waitStatus(b.id, 'stopped');
  const r = await b.tsrun(['delete', b.id]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /warn.*error running poststop hook #0: error running hook: exit status 6/i, `a warning is printed: ${r.stderr}`);
  t.false(fs.existsSync(path.join(b.root, b.id)));
  t.deepEqual(
    readLog(log).map((e) => e.hook),
    ['poststop'],
  );
});

rootTest("hooks without env get the runtime's environment (runc's nil exec.Cmd Env, crun); an empty env stays empty", async (t) => {
  let out = '';
  const b = await makeBundle(t, (s, { dir }) => {
    out = path.join(dir, 'env');
    const script = path.join(dir, 'env.sh');
    // What bin/tsrun set for its engine is not the caller's: a hook does not see it, and it sees
    // the caller's NODE_EXTRA_CA_CERTS, which the launcher drops for its engine.
    const seen = 'mark=${TSRUN_HOOK_MARK:-unset} ca=${NODE_EXTRA_CA_CERTS:-unset} engine=${TSRUN_NOFILE:-}${BUN_JSC_useJIT:-}${TSRUN_ADDED:-}';
    fs.writeFileSync(script, `#!/bin/sh\necho "$1 ${seen}" >> ${out}\n`, { mode: 0o755 });
    s.process!.args = ['true'];
    s.hooks = {
      prestart: [{ path: script, args: [script, 'prestart'] }],
      createRuntime: [{ path: script, args: [script, 'createRuntime'], env: [] }],
      poststart: [{ path: script, args: [script, 'poststart'] }],
      poststop: [{ path: script, args: [script, 'poststop'] }],
    };
  });
  const env = { ...process.env, TSRUN_HOOK_MARK: 'from-runtime', NODE_EXTRA_CA_CERTS: '/nonexistent/proxy-ca.pem' };
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id], { env });
  t.is(r.code, 0, r.stderr);
  const caller = 'mark=from-runtime ca=/nonexistent/proxy-ca.pem engine=';
  t.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n').sort(), [
    'createRuntime mark=unset ca=unset engine=',
    `poststart ${caller}`,
    `poststop ${caller}`,
    `prestart ${caller}`,
  ]);
});

rootTest("a failing hook's stdout and stderr are in runc's error words", async (t) => {
  const b = await makeBundle(t, (s, { dir }) => {
    const script = path.join(dir, 'loud.sh');
    fs.writeFileSync(script, '#!/bin/sh\necho to-stdout\necho to-stderr >&2\nexit 2\n', { mode: 0o755 });
    s.process!.args = ['true'];
    s.hooks = { prestart: [{ path: '/bin/true' }, { path: script }] };
  });
  const r = await b.tsrun(['create', '--bundle', b.dir, b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /error running prestart hook #1: error running hook: exit status 2, stdout: to-stdout(?:\\n|\n)?, stderr: to-stderr/, r.stderr);
  const missing = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
    s.hooks = { createRuntime: [{ path: '/nonexistent/hook' }] };
  });
  const m = await missing.tsrun(['create', '--bundle', missing.dir, missing.id]);
  t.not(m.code, 0);
  t.regex(m.stderr, /error running createRuntime hook #0: fork\/exec \/nonexistent\/hook: no such file or directory/, m.stderr);
});

rootTest('every poststop hook runs when one fails (runtime-spec), each failure logged as a warning', async (t) => {
  let out = '';
  const b = await makeBundle(t, (s, { dir }) => {
    out = path.join(dir, 'ran');
    const script = path.join(dir, 'ps.sh');
    fs.writeFileSync(script, `#!/bin/sh\necho "$1" >> ${out}\nexit "$2"\n`, { mode: 0o755 });
    s.process!.args = ['true'];
    s.hooks = {
      poststop: [
        { path: script, args: [script, 'a', '7'] },
        { path: script, args: [script, 'b', '0'] },
        { path: script, args: [script, 'c', '8'] },
      ],
    };
  });
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  const r = await b.tsrun(['delete', '--force', b.id]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n'), ['a', 'b', 'c'], 'all three ran, in order');
  t.regex(r.stderr, /warn.*error running poststop hook #0: error running hook: exit status 7/i, r.stderr);
  t.regex(r.stderr, /warn.*error running poststop hook #2: error running hook: exit status 8/i, r.stderr);
});
