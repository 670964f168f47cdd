// The package as a consumer sees it: `import { Runtime } from '@tsrun-oci/tsrun'` resolves through
// package.json "exports" to dist/index.js and dist/types/index.d.ts (built by scripts/build.mjs,
// run by `npm ci`/`npm install` through "prepare"). A consumer file is type-checked and compiled
// with tsc (strict, NodeNext, `await using` on a Container) and then run with node.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/rootfs.js';
import { compileConsumer } from '../package/consumer.js';

const run = promisify(execFile);

const CONSUMER = `import { Runtime, TsrunError, CHANNELS, type Container, type ExitStatus, type CreateContainerOptions } from '@tsrun-oci/tsrun';
const root = process.argv[2]!;
const rt = new Runtime({ root, spawn: 'helper' });
const opts: CreateContainerOptions = { rootfs: '/nonexistent', args: ['true'], limits: { memory: 1 << 26 } };
async function use(c: Container): Promise<ExitStatus> {
  await using held = c;
  return held.wait();
}
let code = '';
try {
  await rt.state('missing');
} catch (err) {
  if (err instanceof TsrunError) code = err.code;
}
console.log(JSON.stringify({ list: await rt.list(), code, spawn: rt.spawn, channel: CHANNELS.exit, use: typeof use, opts: 'rootfs' in opts }));
`;

test('a consumer type-checks against dist/types and runs against dist/index.js', async (t) => {
  for (const f of ['dist/index.js', 'dist/types/index.d.ts']) {
    if (!existsSync(path.join(REPO_ROOT, f))) {
      t.fail(`${f} is missing: run npm run build:ts (npm install runs it through "prepare")`);
      return;
    }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsrun-consumer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'node_modules/@tsrun-oci'), { recursive: true });
  symlinkSync(REPO_ROOT, path.join(dir, 'node_modules/@tsrun-oci/tsrun'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  const rejected = await compileConsumer(dir, CONSUMER);
  if (rejected !== undefined) {
    t.fail(`tsc rejected the consumer: ${rejected}`);
    return;
  }
  const state = path.join(dir, 'state');
  const { stdout } = await run(process.execPath, [path.join(dir, 'out/consumer.js'), state], { cwd: dir });
  t.deepEqual(JSON.parse(stdout), { list: [], code: 'TSRUN_NOT_FOUND', spawn: 'helper', channel: 'tsrun:container:exit', use: 'function', opts: true });
});
