// runc parity (issue 14 items 13 and 14) for the hooks the plan interpreter runs in the container
// (native/child.cc OP_RUN_HOOK): createContainer hooks run with the container's rootfs as their
// cwd (runc prepareRootfs chdirs there before them); with noNewPrivileges the seccomp filter is
// loaded before the startContainer hooks (runc standard_init_linux.go loads it before it reports
// ready), so they run under it; a failing hook's stdout and stderr are in the error, as runc's
// Command.Run words it. Where Debian's runc (1.1.5) is installed, the same bundle runs under it too.
import fs from 'node:fs';
import path from 'node:path';
import { makeBundle } from '../helpers/bundle.js';
import { hasRunc, runcRun } from '../helpers/runc-parity.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('namespaces and mounts'));

rootTest('createContainer hooks run with the container rootfs as cwd (runc)', async (t) => {
  let out = '';
  const b = await makeBundle(t, (s, { dir }) => {
    out = path.join(dir, 'hook-cwd');
    s.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `pwd > ${out}`] }] };
    s.process!.args = ['true'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  const cwd = fs.readFileSync(out, 'utf8');
  t.is(cwd, `${fs.realpathSync(b.rootfs)}\n`);
  if (hasRunc) {
    fs.rmSync(out);
    const rr = await runcRun(b);
    t.is(rr.code, 0, rr.stderr);
    t.is(fs.readFileSync(out, 'utf8'), cwd, 'runc 1.1.5 gives the hook the same cwd');
  }
});

rootTest('noNewPrivileges: startContainer hooks run under the seccomp filter (runc loads it before they run)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.root!.readonly = false;
    s.process!.noNewPrivileges = true;
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    s.hooks = {
      startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'if mkdir /hook-dir 2>/dev/null; then echo allowed; else echo denied; fi > /hook-saw'] }],
    };
    s.process!.args = ['cat', '/hook-saw'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(b.output(r), 'denied\n');
  if (hasRunc) {
    const rr = await runcRun(b);
    t.is(rr.code, 0, rr.stderr);
    t.is(rr.stdout, 'denied\n', 'runc 1.1.5: the hook ran under the filter');
  }
});

for (const kind of ['createContainer', 'startContainer'] as const) {
  rootTest(`a failing ${kind} hook's stdout and stderr are in the error (runc's words)`, async (t) => {
    const b = await makeBundle(t, (s) => {
      s.hooks = {
        [kind]: [
          { path: '/bin/sh', args: ['sh', '-c', 'true'] },
          { path: '/bin/sh', args: ['sh', '-c', 'echo out-words; echo err-words >&2; exit 3'] },
        ],
      };
      s.process!.args = ['true'];
    });
    const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
    t.not(r.code, 0);
    t.true(r.stderr.includes(`error running ${kind} hook #1: error running hook: exit status 3, stdout: out-words\\n, stderr: err-words\\n`), r.stderr);
    t.false(b.output(r).includes('out-words'), "the hook's output does not go to the container's stdout");
    if (hasRunc) {
      const rr = await runcRun(b);
      t.not(rr.code, 0);
      // runc prints its init's error as it is (new lines), tsrun's CLI as a logfmt value ("\\n").
      t.regex(rr.stderr, /error running hook: exit status 3, stdout: out-words(\n|\\n), stderr: err-words(\n|\\n)/, 'runc 1.1.5 words it so');
    }
  });
}

rootTest('a hook killed by a signal after a long output: its words, and only the tail of the output', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done; kill -KILL $$'] }] };
    s.process!.args = ['true'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /error running createContainer hook #0: error running hook: signal: killed, stdout: .*line-399\\n, stderr: /);
  t.false(r.stderr.includes('line-0\\n'), 'the head of a long output is dropped');
});

rootTest('a createContainer hook that cannot be executed: Go\'s "fork/exec" words, as runc\'s', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.hooks = { createContainer: [{ path: '/nonexistent/hook' }] };
    s.process!.args = ['true'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /error running createContainer hook #0: fork\/exec \/nonexistent\/hook: no such file or directory/);
  if (hasRunc) {
    const rr = await runcRun(b);
    t.not(rr.code, 0);
    t.regex(rr.stderr, /fork\/exec \/nonexistent\/hook: no such file or directory/, 'runc 1.1.5 words it so');
  }
});
