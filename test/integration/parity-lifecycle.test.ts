// runc parity (issue 14, items 1, 3, 5, 15, 16, 17 and 11 for run/create): the lifecycle where
// tsrun hung, leaked or answered otherwise than runc. A frozen or occupied cgroup is refused with
// runc's words, and no wait of the set-up is unbounded; a container without a PID namespace of its
// own loses every process on `kill KILL` and `delete`; a failed create closes the console socket;
// a failing poststart hook removes the container; `kill` of a created container ends it and
// `kill 0` probes; exec failures exit 255 with runc's words.
//
// Where Debian's runc (1.1.5) behaves the same, it runs the same bundle and the answers are
// compared. It runs in a mount namespace of its own whose /sys/fs/cgroup is the host's cgroup v2
// tree (on a hybrid host runc would otherwise use, and write, the v1 hierarchies), and with a
// cgroup namespace (runc 1.1.5 mounts a fresh cgroup2 without one, which would clear the host
// hierarchy's nsdelegate).
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { createContainer } from '../../src/container/create.js';
import { silentLogger } from '../../src/logger.js';
import type { Spec } from '../../src/spec/types.js';
import { defaultCgroupDir, makeBundle, procStat, type Bundle } from '../helpers/bundle.js';
import { forRunc, hasRunc, runc, type RuncResult } from '../helpers/runc-parity.js';
import { need, needs, root } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

const unified = unifiedMount();
const hostTest = needs(root('namespaces and cgroups'), need(unified, 'needs a cgroup v2 hierarchy (cgroup.freeze, cgroup.procs)'));
/** runc's ids in its root are force-deleted (and so their cgroups removed) at the end of the test. */
function cleanRunc(t: ExecutionContext, b: Bundle, ids: string[]): void {
  t.teardown(async () => {
    for (const id of ids) await runc(b, ['delete', '--force', id]);
  });
}

/**
 * A cgroup of the test's own where tsrun places containers (below the caller's cgroup, or its
 * parent for a scope), removed at the end with anything still in it.
 */
function ownCgroup(t: ExecutionContext, tag: string): string {
  const dir = defaultCgroupDir(`tsrun-lc-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`)!;
  fs.mkdirSync(dir);
  t.teardown(async () => {
    if (!fs.existsSync(dir)) return;
    const all = [
      dir,
      ...fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => path.join(dir, e.name)),
    ];
    for (const d of all.reverse()) {
      try {
        fs.writeFileSync(path.join(d, 'cgroup.freeze'), '0');
        fs.writeFileSync(path.join(d, 'cgroup.kill'), '1');
      } catch {
        /* gone */
      }
      await waitFor(() => {
        try {
          fs.rmdirSync(d);
          return true;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code === 'ENOENT';
        }
      }, 10_000);
    }
  });
  return dir;
}

function procs(dir: string): number[] {
  return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

function alive(pid: number): boolean {
  const st = procStat(pid);
  return !!st && st.state !== 'Z' && st.state !== 'X';
}

/** A `sleep` of the test's own, killed at the end. */
function bystander(t: ExecutionContext): number {
  const p = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => {
    p.kill('SIGKILL');
  });
  return p.pid!;
}

function noPidNamespace(s: Spec): void {
  s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
}

// ---- item 1: a frozen or occupied cgroup, and bounded waits ----

hostTest("run and create into a frozen cgroup are refused with runc's words instead of hanging", async (t) => {
  const frozen = ownCgroup(t, 'frozen');
  fs.writeFileSync(path.join(frozen, 'cgroup.freeze'), '1');
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
    s.linux!.cgroupsPath = frozen.slice(unified!.length);
  });
  for (const verb of [['run', '-d'], ['create']]) {
    const r = await b.tsrun([...verb, '--bundle', b.dir, b.id], { timeoutMs: 20_000 });
    t.is(r.code, 1, `${verb[0]}: ${r.stderr} (killed by ${r.signal})`);
    t.regex(r.stderr, /container's cgroup unexpectedly frozen/, verb[0]);
    t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
    t.deepEqual(procs(frozen), [], 'no process left in the cgroup');
  }
  t.true(fs.existsSync(frozen), 'a cgroup tsrun did not make stays');
  if (hasRunc) {
    forRunc(b);
    const ids = [b.newId('runc'), b.newId('runc')];
    cleanRunc(t, b, ids);
    const r1 = await runc(b, ['run', '-d', ids[0]]);
    const r2 = await runc(b, ['create', ids[1]]);
    t.is(r1.code, 1);
    t.is(r2.code, 1);
    t.regex(r1.stderr + r2.stderr, /container's cgroup unexpectedly frozen[^]*container's cgroup unexpectedly frozen/, 'runc 1.1.5 refuses both alike');
  }
});

hostTest('a cgroup frozen by an ancestor is refused too, and the cgroup tsrun made for it removed', async (t) => {
  const parent = ownCgroup(t, 'frozen-parent');
  fs.writeFileSync(path.join(parent, 'cgroup.freeze'), '1');
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
    s.linux!.cgroupsPath = `${parent.slice(unified!.length)}/ctr`;
  });
  const r = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id], { timeoutMs: 20_000 });
  t.is(r.code, 1, `${r.stderr} (killed by ${r.signal})`);
  t.regex(r.stderr, /container's cgroup unexpectedly frozen/);
  t.false(fs.existsSync(path.join(parent, 'ctr')), 'the cgroup made for the container is removed');
});

hostTest("a container's own cgroup that already holds processes is refused (runc HEAD); a shared one named by absolute path warns (runc 1.1.5)", async (t) => {
  const busy = ownCgroup(t, 'busy');
  const other = bystander(t);
  fs.writeFileSync(path.join(busy, 'cgroup.procs'), String(other));
  // Relative: the container's own place below the caller's cgroup, where a process is a leftover.
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
    s.linux!.cgroupsPath = path.basename(busy);
  });
  const r = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /container's cgroup is not empty: 1 process\(es\) found/);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
  t.deepEqual(procs(busy), [other], 'the process there is untouched');
  // Absolute: shared by design (issue 13): it runs, with runc 1.1.5's warning.
  b.spec.linux!.cgroupsPath = busy.slice(unified!.length);
  b.writeSpec();
  const shared = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  t.is(shared.code, 0, shared.stderr);
  t.regex(shared.stderr, /level=warning msg="container's cgroup is not empty: 1 process\(es\) found"/);
  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
  t.true(alive(other), 'delete of a shared cgroup leaves the other process alone');
});

hostTest('a set-up that stops answering is bounded: the init is killed and the create undone', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
    // Run by the init itself, between two set-up messages, and never ends.
    s.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '1000'] }] };
  });
  const began = Date.now();
  const created = createContainer({ id: b.id, bundle: b.dir, root: b.root, mode: 'create', logger: silentLogger, setupStepTimeoutMs: 500 });
  // The bound under test is the create's own; this one only keeps a hang from taking the suite.
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the create is still waiting after 30 s')), 30_000)));
  const err = await t.throwsAsync(Promise.race([created, hung]).finally(() => clearTimeout(timer)));
  t.regex(err?.message ?? '', /container init \d+ did not answer within 0\.5 s of set-up: killed/);
  t.true(Date.now() - began < 20_000);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
  const cg = defaultCgroupDir(b.id);
  t.false(!!cg && fs.existsSync(cg), 'no cgroup left');
});

hostTest('a cgroup frozen while the init sets up: the bounded wait ends with runc’s words, and nothing is left', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
    s.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '1000'] }] };
  });
  const cg = defaultCgroupDir(b.id)!;
  const created = createContainer({ id: b.id, bundle: b.dir, root: b.root, mode: 'create', logger: silentLogger, setupStepTimeoutMs: 3000 });
  const outcome = created.then(
    () => new Error('the create succeeded'),
    (e: Error) => e,
  );
  // The init and its hook are in the cgroup: freeze it under them.
  await waitFor(() => fs.existsSync(cg) && procs(cg).length >= 2, {
    timeoutMs: 10_000,
    what: () => `the hook to run in the cgroup (${fs.existsSync(cg) ? procs(cg).join(' ') : 'no cgroup'})`,
  });
  fs.writeFileSync(path.join(cg, 'cgroup.freeze'), '1');
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Error>((resolve) => (timer = setTimeout(() => resolve(new Error('the create is still waiting after 30 s')), 30_000)));
  const err = await Promise.race([outcome, hung]).finally(() => clearTimeout(timer));
  t.is(err.message, "container's cgroup unexpectedly frozen");
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
  t.false(fs.existsSync(cg), 'no cgroup left');
});

// ---- item 3: no PID namespace of its own ----

hostTest('no PID namespace: kill KILL ends every process of the container, exec’d ones too (runc HEAD)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '300'];
    noPidNamespace(s);
  });
  t.is((await b.tsrun(['run', '-d', '--bundle', b.dir, b.id])).code, 0);
  const e = await b.tsrun(['exec', '-d', b.id, 'sleep', '301']);
  t.is(e.code, 0, e.stderr);
  const cg = defaultCgroupDir(b.id)!;
  const pids = procs(cg);
  t.is(pids.length, 2, 'the init and the exec’d process');
  const k = await b.tsrun(['kill', b.id, 'KILL']);
  t.is(k.code, 0, k.stderr);
  await waitFor(() => !pids.some(alive), { timeoutMs: 10_000, what: () => `${pids.filter(alive).join(' ')} to be gone` });
  await b.waitStatus(b.id, 'stopped');
  t.is((await b.tsrun(['delete', b.id])).code, 0);
  t.false(fs.existsSync(cg));
});

hostTest('no PID namespace: delete of a stopped container kills what its init left behind, and removes the cgroup', async (t) => {
  const b = await makeBundle(t, (s) => {
    // The init exits at once; its child stays in the container's cgroup.
    s.process!.args = ['sh', '-c', 'sleep 302 >/dev/null 2>&1 & echo $!'];
    noPidNamespace(s);
  });
  const r = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  await b.waitStatus(b.id, 'stopped');
  const cg = defaultCgroupDir(b.id)!;
  const left = procs(cg);
  t.is(left.length, 1, 'the sleep outlived the init');
  const d = await b.tsrun(['delete', b.id]);
  t.is(d.code, 0, d.stderr);
  await waitFor(() => !alive(left[0]), { timeoutMs: 10_000, what: `${left[0]} to be gone` });
  t.false(fs.existsSync(cg), 'the cgroup is removed');
});

hostTest('no PID namespace in a shared cgroup: delete --force kills the container, not the other processes there', async (t) => {
  const shared = ownCgroup(t, 'shared');
  const other = bystander(t);
  fs.writeFileSync(path.join(shared, 'cgroup.procs'), String(other));
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '300'];
    s.linux!.cgroupsPath = shared.slice(unified!.length);
    noPidNamespace(s);
  });
  t.is((await b.tsrun(['run', '-d', '--bundle', b.dir, b.id])).code, 0);
  const init = (await b.state()).pid as number;
  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
  await waitFor(() => !alive(init), { timeoutMs: 10_000, what: 'the init to be gone' });
  t.true(alive(other), 'the other process in the cgroup lives');
});

// ---- item 5: --console-socket ----

/** A console-socket receiver that counts connections, the bytes and the EOFs it sees. */
async function consoleReceiver(t: ExecutionContext, sockPath: string) {
  const seen = { connections: 0, ended: 0, bytes: 0 };
  const server = net.createServer((c) => {
    seen.connections++;
    c.on('data', (d) => (seen.bytes += d.length));
    c.on('end', () => seen.ended++);
    c.on('error', () => seen.ended++);
  });
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return seen;
}

hostTest('a create or exec that fails after --console-socket was given closes the connection: the receiver sees EOF', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.terminal = true;
    s.process!.cwd = 'relative'; // refused by validation, before anything is made
  });
  const sockPath = path.join(b.dir, 'console.sock');
  const seen = await consoleReceiver(t, sockPath);
  const r = await b.tsrun(['create', '--console-socket', sockPath, '--bundle', b.dir, b.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /cwd/);
  await waitFor(() => seen.ended === 1, { timeoutMs: 5000, what: () => `EOF on the console socket (${JSON.stringify(seen)})` });
  const proc = path.join(b.dir, 'process.json');
  fs.writeFileSync(proc, JSON.stringify({ terminal: true, args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } }));
  const e = await b.tsrun(['exec', '--process', proc, '--console-socket', sockPath, `${b.id}-none`]);
  t.is(e.code, 255);
  t.regex(e.stderr, /container does not exist/);
  await waitFor(() => seen.ended === 2, { timeoutMs: 5000, what: () => `EOF on the console socket after exec (${JSON.stringify(seen)})` });
  t.is(seen.bytes, 0, 'no master was sent');
});

// ---- item 15: a failing poststart hook ----

hostTest('start (and run) with a failing poststart hook removes the container (runc), running the poststop hooks', async (t) => {
  const b = await makeBundle(t, (s, { dir }) => {
    s.process!.args = ['sleep', '100'];
    s.hooks = {
      poststart: [{ path: '/bin/false' }],
      poststop: [{ path: '/bin/sh', args: ['sh', '-c', `echo ran > ${path.join(dir, 'poststop')}`] }],
    };
  });
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  const init = (await b.state()).pid as number;
  const cg = defaultCgroupDir(b.id)!;
  const s = await b.tsrun(['start', b.id]);
  t.is(s.code, 1);
  t.regex(s.stderr, /error running poststart hook #0: error running hook: exit status 1/);
  const st = await b.tsrun(['state', b.id]);
  t.is(st.code, 1);
  t.regex(st.stderr, /container does not exist/);
  t.false(alive(init), 'the init is gone');
  t.false(fs.existsSync(cg), 'the cgroup is gone');
  t.is(fs.readFileSync(path.join(b.dir, 'poststop'), 'utf8'), 'ran\n');
  // run: the same (runContainer removes it).
  const run = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  t.is(run.code, 1);
  t.regex((await b.tsrun(['state', b.id])).stderr, /container does not exist/);
  if (hasRunc) {
    // runc 1.1.5 runs poststart hooks at create: it fails there, and leaves nothing either.
    forRunc(b);
    const id = b.newId('runc');
    cleanRunc(t, b, [id]);
    const c = await runc(b, ['create', id]);
    await runc(b, ['start', id]);
    t.is(c.code, 1);
    t.regex(c.stderr, /error running hook #0: error running hook: exit status 1/);
    t.regex((await runc(b, ['state', id])).stderr, /container does not exist/, 'runc leaves no container either');
    const rr = await runc(b, ['run', '-d', id]);
    t.is(rr.code, 1);
    t.regex((await runc(b, ['state', id])).stderr, /container does not exist/, 'nor after run');
  }
});

// ---- item 16: kill of a created container, kill 0 ----

hostTest('kill <created> TERM (with or without --all) stops it, USR1 does not, and `kill <id> 0` probes the init (as runc 1.1.5)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
  });
  const answers = async (tool: (args: string[]) => Promise<RuncResult>, state: (id: string) => Promise<string>, ids: string[]) => {
    const out: string[] = [];
    for (const id of ids) {
      t.is((await tool(['create', '--bundle', b.dir, id])).code, 0);
    }
    const [term, usr1, all] = ids;
    out.push(`probe created: ${(await tool(['kill', term, '0'])).code}`);
    out.push(`TERM: ${(await tool(['kill', term, 'TERM'])).code}`);
    out.push(`USR1: ${(await tool(['kill', usr1, 'USR1'])).code}`);
    out.push(`--all TERM: ${(await tool(['kill', '--all', all, 'TERM'])).code}`);
    await waitFor(async () => (await state(term)) === 'stopped', { timeoutMs: 10_000, what: `${term} to stop on TERM` });
    await waitFor(async () => (await state(all)) === 'stopped', { timeoutMs: 10_000, what: `${all} to stop on --all TERM` });
    const dead = await tool(['kill', term, '0']);
    out.push(`probe stopped: ${dead.code} ${/container not running/.test(dead.stderr)}`);
    // USR1 is ignored by the parked init; a probe later still finds it created.
    out.push(`after USR1: ${await state(usr1)}`);
    for (const id of ids) await tool(['delete', '--force', id]);
    return out;
  };
  const tsrunState = async (id: string) => (await b.state(id)).status as string;
  const mine = await answers((a) => b.tsrun(a), tsrunState, [b.id, b.newId('usr1'), b.newId('all')]);
  t.deepEqual(mine, ['probe created: 0', 'TERM: 0', 'USR1: 0', '--all TERM: 0', 'probe stopped: 1 true', 'after USR1: created']);
  if (hasRunc) {
    forRunc(b);
    const ids = [b.newId('runc'), b.newId('runc'), b.newId('runc')];
    cleanRunc(t, b, ids);
    const runcState = async (id: string) => (JSON.parse((await runc(b, ['state', id])).stdout || '{}') as { status?: string }).status ?? '';
    t.deepEqual(await answers((a) => runc(b, a), runcState, ids), mine, 'runc 1.1.5 answers the same');
  }
});

// ---- item 17: exec failures ----

hostTest('exec failures exit 255 with runc’s words; a failed execve reads "exec /run.sh: …"', async (t) => {
  const b = await makeBundle(t, (s, { rootfs }) => {
    s.process!.args = ['sleep', '100'];
    fs.writeFileSync(path.join(rootfs, 'run.sh'), '#!/nonexistent\n', { mode: 0o755 });
  });
  const answers = async (tool: (args: string[]) => Promise<RuncResult>, id: string) => {
    const out: string[] = [];
    t.is((await tool(['run', '-d', '--bundle', b.dir, id])).code, 0);
    const say = (what: string, r: RuncResult, words: RegExp) => out.push(`${what}: ${r.code} ${words.test(r.stderr) || r.stderr}`);
    say('no container', await tool(['exec', `${id}-none`, 'true']), /exec failed: container does not exist/);
    say('pid-file', await tool(['exec', '--pid-file', path.join(b.dir, 'no/such/dir/pid'), id, 'true']), /exec failed: .*no such file or directory/);
    say('missing', await tool(['exec', id, '/missing']), /exec failed: .*exec: \\?"\/missing\\?": stat \/missing: no such file or directory/);
    say('execve', await tool(['exec', id, '/run.sh']), /exec \/run\.sh: no such file or directory/);
    t.is((await tool(['pause', id])).code, 0);
    say('paused', await tool(['exec', id, 'true']), /exec failed: cannot exec in a paused container \(use --ignore-paused to override\)/);
    t.is((await tool(['resume', id])).code, 0);
    await tool(['delete', '--force', id]);
    return out;
  };
  const mine = await answers((a) => b.tsrun(a), b.id);
  t.deepEqual(mine, ['no container: 255 true', 'pid-file: 255 true', 'missing: 255 true', 'execve: 1 true', 'paused: 255 true']);
  if (hasRunc) {
    forRunc(b);
    const id = b.newId('runc');
    cleanRunc(t, b, [id]);
    t.deepEqual(await answers((a) => runc(b, a), id), mine, 'runc 1.1.5 answers the same');
  }
});

hostTest('exec --cgroup leaving the container’s cgroup: 255, "bad sub cgroup path" (runc HEAD)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
  });
  t.is((await b.tsrun(['run', '-d', '--bundle', b.dir, b.id])).code, 0);
  const r = await b.tsrun(['exec', '--cgroup', '..', b.id, 'true']);
  t.is(r.code, 255);
  t.regex(r.stderr, /exec failed: bad sub cgroup path: \.\./);
  await b.tsrun(['delete', '--force', b.id]);
});

hostTest('run: a failed execve reads "exec /run.sh: no such file or directory"', async (t) => {
  const b = await makeBundle(t, (s, { rootfs }) => {
    s.process!.args = ['/run.sh'];
    fs.writeFileSync(path.join(rootfs, 'run.sh'), '#!/nonexistent\n', { mode: 0o755 });
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /exec \/run\.sh: no such file or directory/);
  if (hasRunc) {
    forRunc(b);
    const id = b.newId('runc');
    cleanRunc(t, b, [id]);
    const rr = await runc(b, ['run', id]);
    t.is(rr.code, 1);
    t.regex(rr.stderr, /exec \/run\.sh: no such file or directory/, 'runc 1.1.5 words it the same');
  }
});

hostTest("start: an execve that fails after start writes runc's words to the container's stderr (nobody reads the sync socket any more)", async (t) => {
  // A file that execve refuses (no #! and not ELF: ENOEXEC) but that create's lookup accepts.
  const b = await makeBundle(t, (s, { rootfs }) => {
    s.process!.args = ['/bad.bin'];
    fs.writeFileSync(path.join(rootfs, 'bad.bin'), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]), { mode: 0o755 });
  });
  const c = await b.tsrun(['create', '--bundle', b.dir, b.id]);
  t.is(c.code, 0, c.stderr);
  t.teardown(() => b.tsrun(['delete', '--force', b.id]).then(() => undefined));
  const s = await b.tsrun(['start', b.id]);
  t.is(s.code, 0, s.stderr);
  // The container's stderr is the file create's stderr was.
  await waitFor(() => fs.readFileSync(c.stderrFile, 'utf8').includes('exec '), { what: () => `create's stderr: ${fs.readFileSync(c.stderrFile, 'utf8')}` });
  t.regex(fs.readFileSync(c.stderrFile, 'utf8'), /^exec \/bad\.bin: exec format error$/m);
  if (hasRunc) {
    forRunc(b);
    const id = b.newId('runc');
    cleanRunc(t, b, [id]);
    const rc = await runc(b, ['create', id]);
    t.is(rc.code, 0, rc.stderr);
    const rs = await runc(b, ['start', id]);
    t.is(rs.code, 0, rs.stderr);
    const err = rc.stderrFile;
    await waitFor(() => fs.readFileSync(err, 'utf8').includes('exec '), { what: () => `runc create's stderr: ${fs.readFileSync(err, 'utf8')}` });
    t.regex(fs.readFileSync(err, 'utf8'), /exec \/bad\.bin: exec format error/, 'runc 1.1.5 writes the same words');
  }
});

// ---- item 11 for run and create ----

hostTest('run and create warn about an ambient capability that cannot be raised, as exec does (runc HEAD)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
    s.process!.capabilities!.ambient = ['CAP_SYS_NICE'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /level=warning msg="can't raise ambient capability sys_nice: operation not permitted"/);
  const id = b.newId('create');
  const c = await b.tsrun(['create', '--bundle', b.dir, id]);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stderr, /can't raise ambient capability sys_nice: operation not permitted/);
  t.is((await b.tsrun(['delete', '--force', id])).code, 0);
});
