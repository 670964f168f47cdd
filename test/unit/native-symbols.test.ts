// The addon must not reference a tsrun:: function that no .cc defines. Node loads addons with
// lazy binding, so such a reference does not stop the load: the first call that reaches it ends
// the whole process with "symbol lookup error" (exit 127). That happened to every error path of
// spawn/spawnHelper, which declared its own 3-argument errnoError while sys.cc defines 4 (issue
// 12). native/addon.h now holds the shared declarations, and the build checks this too
// (native/check-symbols.sh); this test checks the addon that the other tests load.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADDON = process.env.TSRUN_TEST_ADDON || path.join(REPO_ROOT, 'build/Release/tsrun.node');

function nm(args: string[]): string {
  const r = spawnSync('nm', [...args, ADDON], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`nm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test('the addon leaves no tsrun:: symbol undefined', (t) => {
  t.true(existsSync(ADDON), `${ADDON} is built (node scripts/build-native.mjs)`);
  const undefinedTsrun = nm(['-C', '--undefined-only'])
    .split('\n')
    .filter((l) => /\btsrun::/.test(l))
    .map((l) => l.trim());
  t.deepEqual(undefinedTsrun, [], `undefined tsrun:: symbols in ${ADDON}`);
});

test('the addon is linked to bind every symbol at load time (-z now)', (t) => {
  // With BIND_NOW a symbol nothing defines fails require() instead of the first call using it.
  const r = spawnSync('readelf', ['-dW', ADDON], { encoding: 'utf8' });
  if (r.error) throw r.error;
  t.regex(r.stdout, /\(FLAGS_1\)\s+Flags:.*\bNOW\b/, 'DT_FLAGS_1 has NOW');
});

test('the addon exports only its N-API entry points', (t) => {
  // -fvisibility=hidden: tsrun:: functions are local, so a declared-but-undefined one fails the
  // link, and nothing of the addon can be interposed by another library.
  const exported = nm(['-DC', '--defined-only'])
    .split('\n')
    .filter((l) => / [TDBR] /.test(l) && /tsrun::/.test(l));
  t.deepEqual(exported, []);
});
