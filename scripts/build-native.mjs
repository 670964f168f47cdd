#!/usr/bin/env node
// Builds the addon (build/Release/tsrun.node) and the static helpers (build/Release/tsrun-*) with
// node-gyp: the source build of a checkout (`npm ci` runs it through "prepare", `npm run build`
// too). An install of the package never runs it: the package ships these binaries built and has
// no install script, so node-gyp and node-addon-api are only devDependencies. Where Node's headers
// are installed with the distribution (/usr/include/node), point node-gyp at them: there may be no
// network to download headers from.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
  require.resolve('node-addon-api');
} catch {
  console.error('build-native: node-gyp and node-addon-api are devDependencies: build in a checkout after `npm ci` (README.md, "Install")');
  process.exit(1);
}
const args = [gyp, 'rebuild'];
const prefix = path.resolve(path.dirname(process.execPath), '..');
for (const dir of [process.env.npm_config_nodedir, prefix, '/usr']) {
  if (dir && existsSync(path.join(dir, 'include/node/node_api.h'))) {
    args.push(`--nodedir=${dir}`);
    break;
  }
}
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status === 0) recordNode('build/node-path');
process.exit(r.status ?? 1);

/**
 * The Node that installs the package, for bin/tsrun: engines call the runtime with a minimal PATH
 * where a Node from nvm, volta or a tarball is not. Written to a temporary file and renamed, so a
 * launcher never reads half a path.
 */
function recordNode(file) {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, `${process.execPath}\n`);
  renameSync(tmp, file);
}
