// The environment an OCI hook without its own env gets is the one tsrun's caller gave it: what
// bin/tsrun changed for its JS engine is undone (src/process/caller-env.ts).
import test from 'ava';
import { callerEnv } from '../../src/process/caller-env.js';

test('the names bin/tsrun added are removed, a dropped NODE_EXTRA_CA_CERTS is back, the rest is kept', (t) => {
  const env = {
    PATH: '/usr/bin',
    HOME: '/root',
    TSRUN_NOFILE: '1024\n4096',
    BUN_JSC_useJIT: '0',
    BUN_JSC_numberOfGCMarkers: '1',
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0',
    TSRUN_ADDED: 'TSRUN_NOFILE BUN_RUNTIME_TRANSPILER_CACHE_PATH BUN_JSC_useJIT BUN_JSC_numberOfGCMarkers',
    TSRUN_CALLER_CA_CERTS: '/etc/ssl/proxy.pem',
  };
  t.deepEqual(callerEnv(env), { PATH: '/usr/bin', HOME: '/root', NODE_EXTRA_CA_CERTS: '/etc/ssl/proxy.pem' });
  t.is(env.TSRUN_ADDED.split(' ').length, 4, 'the given object is not changed');
});

test("a caller's own setting of a variable the launcher uses is kept when the launcher did not add it", (t) => {
  const env = { BUN_JSC_useJIT: '1', BUN_JSC_numberOfGCMarkers: '1', TSRUN_NOFILE: '1:2', TSRUN_ADDED: 'TSRUN_NOFILE BUN_JSC_numberOfGCMarkers' };
  t.deepEqual(callerEnv(env), { BUN_JSC_useJIT: '1' });
});

test('outside bin/tsrun (a library caller) the environment is returned as it is', (t) => {
  const env = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/ca.pem', TSRUN_NOFILE: '5:6' };
  t.is(callerEnv(env), env);
});
