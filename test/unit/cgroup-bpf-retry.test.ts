// BPF_PROG_LOAD is retried on EAGAIN (native/bpf.cc retryOnEagain), a bounded number of times, as
// libbpf and cilium/ebpf do: the verifier returns EAGAIN when a signal arrives during verification
// (a profiler's SIGPROF), and the device filter's load then failed create (issue 13). The kernel
// cannot be made to do that on demand, so the loop itself is tested: a small driver includes
// bpf.cc, and calls retryOnEagain with a fake load that fails as told. Compiling needs g++ and
// Node's headers (the addon's own build needs the same).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/rootfs.js';
import { need, needs, tool } from '../helpers/skip.js';

const nodeHeaders = ['/usr/include/node', path.join(path.dirname(path.dirname(process.execPath)), 'include/node')].find((d) =>
  fs.existsSync(path.join(d, 'node_api.h')),
);
const cxxTest = needs(tool('g++'), need(nodeHeaders, "needs Node's headers (node_api.h)"));

const DRIVER = `
#include "${path.join(REPO_ROOT, 'native/bpf.cc')}"
#include <stdio.h>
// addon.h's hidden errnoError is defined in sys.cc: a stub, never called here.
Napi::Error tsrun::errnoError(Napi::Env, int, const char*, const char*) { return Napi::Error(); }
// One case: the fake load fails with err for the first n calls, then returns fd 7.
static void run(const char* name, int n, int err) {
  int calls = 0;
  errno = 0;
  int fd = tsrun::retryOnEagain([&] {
    calls++;
    if (calls <= n) { errno = err; return -1; }
    return 7;
  });
  printf("%s fd=%d calls=%d errno=%d\\n", name, fd, calls, fd < 0 ? errno : 0);
}
int main() {
  run("ok", 0, 0);
  run("eagain-twice", 2, EAGAIN);
  run("eagain-always", 1000, EAGAIN);
  run("eperm", 1000, EPERM);
  printf("attempts=%d\\n", tsrun::kProgLoadAttempts);
  return 0;
}
`;

cxxTest('retryOnEagain: EAGAIN is retried up to kProgLoadAttempts calls, other errors and success end it', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bpf-retry-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'driver.cc'), DRIVER);
  const bin = path.join(dir, 'driver');
  // Only the template is called: the N-API functions bpf.cc also defines are dropped by the linker
  // (--gc-sections), so their N-API references need no Node to resolve against.
  const cc = spawnSync(
    'g++',
    [
      '-std=c++17',
      '-DNAPI_DISABLE_CPP_EXCEPTIONS',
      '-DNAPI_VERSION=8',
      '-D_GNU_SOURCE',
      `-I${path.join(REPO_ROOT, 'node_modules/node-addon-api')}`,
      `-I${nodeHeaders}`,
      `-I${path.join(REPO_ROOT, 'native')}`,
      '-o',
      bin,
      path.join(dir, 'driver.cc'),
      '-ffunction-sections',
      '-Wl,--gc-sections',
      '-Wl,--unresolved-symbols=ignore-all',
    ],
    { encoding: 'utf8' },
  );
  t.is(cc.status, 0, `compile: ${cc.stderr}`);
  const r = spawnSync(bin, { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const attempts = Number(/attempts=(\d+)/.exec(r.stdout)?.[1]);
  t.true(attempts >= 2 && attempts <= 10, `a small bound (${attempts})`);
  const lines = r.stdout.trim().split('\n');
  t.deepEqual(lines.slice(0, 4), [
    'ok fd=7 calls=1 errno=0',
    'eagain-twice fd=7 calls=3 errno=0',
    `eagain-always fd=-1 calls=${attempts} errno=11`,
    'eperm fd=-1 calls=1 errno=1',
  ]);
});

test('ProgLoad loads through the retry loop (the load and its log-on explanation)', (t) => {
  const src = fs.readFileSync(path.join(REPO_ROOT, 'native/bpf.cc'), 'utf8');
  const body = src.slice(src.indexOf('Napi::Value ProgLoad('), src.indexOf('Napi::Value ProgAttach('));
  t.is(body.match(/retryOnEagain\(\[&\] \{ return \(int\)sysBpf\(BPF_PROG_LOAD, &attr\); \}\)/g)?.length, 2);
  t.notRegex(body.replace(/retryOnEagain\([^;]*;/g, ''), /sysBpf\(BPF_PROG_LOAD/, 'no load outside the loop');
});
