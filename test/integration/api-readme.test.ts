// The README's library section runs as written: its quickstart block is examples/quickstart.mjs,
// byte for byte, and that file runs (as root, against the built package) with the output shown.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/rootfs.js';
import { file, needs, root } from '../helpers/skip.js';

const run = promisify(execFile);
const README = path.join(REPO_ROOT, 'examples/README.md');
const QUICKSTART = path.join(REPO_ROOT, 'examples/quickstart.mjs');

function block(md: string): string {
  const m = /<!-- quickstart -->\n```js\n([\s\S]*?)```\n/.exec(md);
  if (!m) throw new Error(`${README}: no quickstart block`);
  return m[1];
}

function shownOutput(md: string): string {
  const m = /Output \(`node examples\/quickstart.mjs`\):\n\n```\n([\s\S]*?)```\n/.exec(md);
  if (!m) throw new Error(`${README}: no output block`);
  return m[1];
}

test('the quickstart block is examples/quickstart.mjs', (t) => {
  t.is(block(readFileSync(README, 'utf8')), readFileSync(QUICKSTART, 'utf8'));
});

needs(root('containers'), file('/bin/busybox', 'needs /bin/busybox (Debian package busybox-static)'))(
  'examples/quickstart.mjs prints what the README shows',
  async (t) => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/index.js'))) {
      t.fail('dist/index.js is missing: npm run build:ts');
      return;
    }
    const { stdout } = await run(process.execPath, [QUICKSTART], { cwd: REPO_ROOT, timeout: 60_000 });
    t.is(stdout, shownOutput(readFileSync(README, 'utf8')));
  },
);
