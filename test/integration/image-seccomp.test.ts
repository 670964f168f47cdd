// `run --image` applies the built-in seccomp profile (our data, src/seccomp/default-profile.json,
// built by src/seccomp/docker-profile.ts, with Docker's default profile's semantics) as `docker run` does; before, image runs had no filter at all
// (issue 13, item 11: "Seccomp: 0", and unshare -Ur then mount succeeded in a nested user
// namespace). --security-opt seccomp=unconfined turns it off, seccomp=FILE takes a Docker-format
// profile, and a bad FILE fails naming it, before anything is made.
import fs from 'node:fs';
import path from 'node:path';
import { imageEnv, SHIPPED, type ImageEnv } from './image-fixtures.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('overlay mounts, namespaces'));

async function imported(t: import('ava').ExecutionContext): Promise<ImageEnv> {
  const env = await imageEnv(t);
  const r = await env.tsrun(['image', 'import', env.layout()]);
  t.is(r.code, 0, r.stderr);
  return env;
}

const seccompLine = (out: string) => /^Seccomp:\s*(\d+)$/m.exec(out)?.[1];

rootTest(
  "the default is the built-in profile (Docker's default semantics): Seccomp: 2, and unshare (CAP_SYS_ADMIN not held) is refused with EPERM",
  async (t) => {
    const env = await imported(t);
    const r = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--', 'cat', '/proc/self/status']);
    t.is(r.code, 0, r.stderr);
    t.is(seccompLine(r.stdout), '2', 'a filter is on');
    // unshare(2) is allowed by the profile only with CAP_SYS_ADMIN, which Docker's default set lacks.
    const u = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--', 'unshare', '-Urm', 'true']);
    t.not(u.code, 0, 'unshare -Urm fails');
    t.regex(u.stderr + u.stdout, /Operation not permitted/);
  },
);

rootTest('--security-opt seccomp=unconfined runs without a filter: Seccomp: 0, and unshare -Urm works', async (t) => {
  const env = await imported(t);
  const r = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--security-opt', 'seccomp=unconfined', '--', 'cat', '/proc/self/status']);
  t.is(r.code, 0, r.stderr);
  t.is(seccompLine(r.stdout), '0');
  const u = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--security-opt', 'seccomp=unconfined', '--', 'unshare', '-Urm', 'true']);
  t.is(u.code, 0, `unshare -Urm without a filter: ${u.stderr}`);
});

rootTest('--security-opt seccomp=FILE applies that profile; a bad FILE is an error naming it, and nothing is left', async (t) => {
  const env = await imported(t);
  // Everything allowed but mkdir, refused as its conditional rule says (CAP_CHOWN is held).
  const profile = path.join(env.dir, 'profile.json');
  fs.writeFileSync(
    profile,
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, includes: { caps: ['CAP_CHOWN'] } },
        { names: ['getcwd'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
      ],
    }),
  );
  const r = await env.tsrun([
    'run',
    '--image',
    SHIPPED,
    '--rm',
    '--security-opt',
    `seccomp=${profile}`,
    '--',
    'sh',
    '-c',
    'pwd; grep Seccomp: /proc/self/status; mkdir /x',
  ]);
  t.not(r.code, 0, 'mkdir fails');
  t.regex(r.stderr, /Permission denied/, 'with the errnoRet asked (EACCES)');
  t.regex(r.stdout, /^\/\n/, 'getcwd works: its rule needs CAP_SYS_ADMIN, which is not held');
  t.is(seccompLine(r.stdout), '2');
  const before = fs.existsSync(path.join(env.imageRoot, 'containers')) ? fs.readdirSync(path.join(env.imageRoot, 'containers')) : [];
  const missing = path.join(env.dir, 'no-such-profile.json');
  const m = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--security-opt', `seccomp=${missing}`, '--', 'true']);
  t.not(m.code, 0);
  t.true(m.stderr.includes(`seccomp profile ${missing}: ENOENT`), m.stderr);
  const broken = path.join(env.dir, 'broken.json');
  fs.writeFileSync(broken, '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}');
  const b = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--security-opt', `seccomp=${broken}`, '--', 'true']);
  t.not(b.code, 0);
  t.true(b.stderr.includes(`seccomp profile ${broken}: syscalls[0]: no syscall names`), b.stderr);
  const notJson = path.join(env.dir, 'not.json');
  fs.writeFileSync(notJson, 'seccomp? no');
  const j = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--security-opt', `seccomp=${notJson}`, '--', 'true']);
  t.true(j.stderr.includes(`seccomp profile ${notJson}: not valid JSON`), j.stderr);
  const other = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--security-opt', 'apparmor=unconfined', '--', 'true']);
  t.not(other.code, 0);
  t.regex(other.stderr, /--security-opt apparmor=unconfined: only seccomp=unconfined or seccomp=FILE is supported/);
  const after = fs.existsSync(path.join(env.imageRoot, 'containers')) ? fs.readdirSync(path.join(env.imageRoot, 'containers')) : [];
  t.deepEqual(after, before, 'the refused runs left no container dir');
});
