// The package as a user gets it (issue 16): `npm pack` of this tree, then, in empty directories
// with a clean npm cache,
//  - `npm i -g --prefix <dir> <tgz>` with no compiler to be found (CC/CXX=/nonexistent, a PATH
//    holding only node and sh): it must install, compile nothing, and leave a dependency tree
//    with no build tool and no deprecated package; the installed `tsrun` then runs a bundle and
//    the shipped image (images/build-busybox.mjs, as `npm run main` does);
//  - the same tarball as the dependency of a strict TypeScript NodeNext project, installed with
//    --ignore-scripts (what npm does to scripts nobody approved): it type-checks and runs
//    `Runtime.run`, from a rootfs and from the image.
// The registry must be reachable (the install fetches koffi and Bun, as a user's does).
import test, { type ExecutionContext } from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeBundle, mountsUnder, runTsrun, uniqueId } from '../helpers/bundle.js';
import { copyTestRootfs, REPO_ROOT } from '../helpers/rootfs.js';
import { need, needs, ROOT, tool } from '../helpers/skip.js';
import { compileConsumer } from '../package/consumer.js';

const execFileP = promisify(execFile);
const PKG = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  scripts?: Record<string, string>;
  gypfile?: boolean;
  dependencies?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  libc?: string[];
};
const NPM_CLI = npmCli();
const IMAGE = 'localhost/tsrun-busybox:latest';
/** What only builds native code, and the deprecated packages usocket's node-gyp 7 brought. */
const BUILD_TOOLS = ['node-gyp', 'node-addon-api', 'nan', 'bindings', 'node-gyp-build', 'prebuild-install', 'cmake-js', 'usocket', 'request'];

const NPM = need(NPM_CLI !== '', 'needs npm');
// The test VM (vagrant/vm-run.sh, TSRUN_IN_VM=1) boots with no network device: no registry there.
const REGISTRY = need(process.env.TSRUN_IN_VM !== '1', 'needs the npm registry (the test VM has no network)');
const BUSYBOX = tool('/bin/busybox', 'busybox-static');
const packTest = needs(NPM);
const installTest = needs(NPM, REGISTRY);
const containerTest = needs(ROOT, BUSYBOX);
const installedContainerTest = needs(ROOT, BUSYBOX, NPM, REGISTRY);
const elfTest = needs(NPM, tool('readelf', 'binutils'));

/** npm's own entry (npm-cli.js), run with this Node: the install's PATH need not hold npm. */
function npmCli(): string {
  const r = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return found ? fs.realpathSync(found) : '';
}

interface Packed {
  /** Where every file of the run lives (removed at the end). */
  work: string;
  tgz: string;
  files: string[];
}

interface Installed {
  prefix: string;
  pkgDir: string;
  tsrun: string;
  output: string;
}

let packed: Promise<Packed> | undefined;
let installed: Promise<Installed> | undefined;
let work: string | undefined;

test.after.always('remove the packed tarball, the installs and the npm cache', () => {
  if (!work) return;
  const left = mountsUnder([work]);
  if (left.length) throw new Error(`mounts remain under ${work}: ${left.join(', ')}; not removing it`);
  fs.rmSync(work, { recursive: true, force: true });
});

/** `npm pack` of the working tree as it is built (no scripts: the build is the checkout's). */
function pack(): Promise<Packed> {
  packed ??= (async () => {
    for (const f of [
      'dist/index.js',
      'dist/tsrun.cjs',
      'dist/dbus-next.cjs',
      'dist/types/index.d.ts',
      'build/Release/tsrun.node',
      'build/Release/tsrun-init',
    ]) {
      if (!fs.existsSync(path.join(REPO_ROOT, f))) throw new Error(`${f} is missing: run npm run build`);
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-package-'));
    fs.chmodSync(work, 0o755);
    const out = path.join(work, 'pack');
    fs.mkdirSync(out);
    // Its own cache (and so its logs) in the work dir too: nothing is left in ~/.npm.
    const r = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', out], {
      cwd: REPO_ROOT,
      env: { ...cleanEnv(), npm_config_cache: path.join(work, 'cache-pack') },
    });
    const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    return { work, tgz: path.join(out, info!.filename), files: info!.files.map((f) => f.path).sort() };
  })();
  return packed;
}

/** The environment of a user's shell without our npm run's variables (npm_config_*, …). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/** A PATH with node and sh and nothing else: no cc, c++, gcc, g++, make or python. */
function noCompilerEnv(dir: string, cache: string): NodeJS.ProcessEnv {
  const bin = path.join(dir, 'path-bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  return { ...cleanEnv(), PATH: bin, CC: '/nonexistent', CXX: '/nonexistent', npm_config_cache: cache };
}

async function npm(args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(process.execPath, [NPM_CLI, ...args], { ...o, maxBuffer: 64 << 20, timeout: 150_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed: ${e.stderr || e.stdout || String(err)}`, { cause: err });
  }
}

/** The global install, once for every test that uses it. */
function installGlobal(): Promise<Installed> {
  installed ??= (async () => {
    const p = await pack();
    const prefix = path.join(p.work, 'global');
    const cache = path.join(p.work, 'cache-global');
    const r = await npm(['i', '-g', '--prefix', prefix, '--no-audit', '--no-fund', p.tgz], {
      cwd: path.join(p.work, 'pack'),
      env: noCompilerEnv(path.join(p.work, 'env-global'), cache),
    });
    const pkgDir = path.join(prefix, 'lib/node_modules', PKG.name);
    return { prefix, pkgDir, tsrun: path.join(prefix, 'bin/tsrun'), output: r.stdout + r.stderr };
  })();
  return installed;
}

const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** Runs the installed tsrun; engine bun (the default where installed) or node. */
async function tsrun(bin: string, args: string[], engine?: 'node' | 'bun'): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...cleanEnv(), PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...(engine ? { TSRUN_ENGINE: engine } : {}) };
  try {
    const r = await execFileP(bin, args, { env, timeout: 60_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

test('the package is named for us, states its platform and has no install script and no build tool among its dependencies', (t) => {
  t.regex(PKG.name, /^@[a-z0-9-]+\/tsrun$/, 'a scoped name: the unscoped "tsrun" on npm is another package');
  t.deepEqual(PKG.os, ['linux']);
  t.deepEqual(PKG.cpu, ['x64']);
  t.deepEqual(PKG.libc, ['glibc']);
  for (const s of ['preinstall', 'install', 'postinstall']) t.is(PKG.scripts?.[s], undefined, `no ${s} script: the binaries are shipped built`);
  // With a binding.gyp and no install script npm would run `node-gyp rebuild` by itself.
  t.is(PKG.gypfile, false);
  const deps = Object.keys(PKG.dependencies ?? {});
  t.deepEqual(
    deps.filter((d) => BUILD_TOOLS.includes(d) || d === 'dbus-next'),
    [],
  );
});

packTest('the tarball holds LICENSE, README, types, the binaries and nothing a user cannot use', async (t) => {
  t.timeout(120_000);
  const { files } = await pack();
  for (const f of [
    'LICENSE',
    'README.md',
    'package.json',
    'bin/tsrun',
    'build/Release/tsrun.node',
    'build/Release/tsrun-init',
    'dist/index.js',
    'dist/tsrun.cjs',
    'dist/bun/tsrun.cjs',
    'dist/bun/tsrun.cjs.jsc',
    // Bun's entry, an ES module awaiting the CLI's end (scripts/build.mjs).
    'dist/bun/tsrun.mjs',
    'dist/dbus-next.cjs',
    'dist/types/index.d.ts',
    'examples/quickstart.mjs',
  ]) {
    t.true(files.includes(f), `${f} is in the tarball`);
  }
  const usable = [
    /^(LICENSE|README\.md|package\.json|bin\/tsrun)$/,
    /^build\/Release\/tsrun(\.node|-[a-z0-9-]+)$/,
    /^dist\/(.+\.(js|cjs|mjs)|types\/.+\.d\.ts)$/,
    // Bun's bytecode of each CLI bundle (dist/bun: see scripts/build.mjs).
    /^dist\/bun\/(verbs\/)?[\w-]+\.cjs\.jsc$/,
    /^examples\/.+\.(mjs|d\.mts|md)$/,
  ];
  t.deepEqual(
    files.filter((f) => !usable.some((re) => re.test(f))),
    [],
    'no sources, build files, bench scripts, apt lists or records of the packer’s machine',
  );
  t.false(files.includes('dist/node-path'), 'the packer’s Node path is not shipped');
  t.regex(fs.readFileSync(path.join(REPO_ROOT, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
});

installTest.serial('npm i -g of the tarball with no compiler on PATH installs and compiles nothing', async (t) => {
  t.timeout(180_000);
  const p = await pack();
  const g = await installGlobal();
  t.notRegex(g.output, /gyp (info|ERR)|make(\[\d+\])?:|cc1plus|g\+\+/, 'no build ran');
  // npm 11's notice of unapproved install scripts names none of ours (koffi's may be listed).
  t.notRegex(g.output, new RegExp(`${PKG.name.replace('/', '\\/')}@\\S+ \\((pre|post)?install:`));
  // The shipped binaries, byte for byte, and nothing a build leaves.
  for (const f of ['build/Release/tsrun.node', 'build/Release/tsrun-init']) t.is(sha256(path.join(g.pkgDir, f)), sha256(path.join(REPO_ROOT, f)), f);
  for (const f of ['build/Makefile', 'build/Release/obj.target', 'build/config.gypi', 'build/node-path'])
    t.false(fs.existsSync(path.join(g.pkgDir, f)), `${f} (a build's) is absent`);
  t.true(fs.existsSync(p.tgz));
  const v = await tsrun(g.tsrun, ['--version']);
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /^tsrun version \d/m);
});

installTest.serial('npm ls --all --omit=dev of the install shows no build tool and no deprecated package', async (t) => {
  t.timeout(180_000);
  const g = await installGlobal();
  t.notRegex(g.output, /npm warn deprecated/i, 'npm warned of no deprecated package while installing');
  const r = await npm(['ls', '-g', '--prefix', g.prefix, '--all', '--omit=dev', '--json'], {
    cwd: g.prefix,
    env: { ...cleanEnv(), npm_config_cache: path.join(path.dirname(g.prefix), 'cache-ls') },
  });
  const names: string[] = [];
  const walk = (deps: Record<string, { version?: string; dependencies?: object }> | undefined) => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      if (!d.version) continue; // an optional dependency for another platform, not installed
      names.push(name);
      walk(d.dependencies as never);
    }
  };
  walk((JSON.parse(r.stdout) as { dependencies?: never }).dependencies);
  t.true(names.includes(PKG.name));
  t.true(names.includes('koffi'));
  t.deepEqual(
    names.filter((n) => BUILD_TOOLS.includes(n) || n === 'dbus-next'),
    [],
  );
  // dbus-next is inside the package, as one file: the systemd driver loads it from there.
  const dbus = spawnSync(
    process.execPath,
    ['-e', `const d = require(${JSON.stringify(path.join(g.pkgDir, 'dist/dbus-next.cjs'))}); process.stdout.write(typeof d.systemBus + typeof d.Variant)`],
    { encoding: 'utf8' },
  );
  t.is(dbus.stdout, 'functionfunction', dbus.stderr);
});

/** `tsrun run -b <bundle>` with the installed CLI on one engine. */
async function runsBundle(t: ExecutionContext, engine: 'node' | 'bun') {
  t.timeout(180_000);
  const g = await installGlobal();
  const b = await makeBundle(t, (spec) => {
    spec.process!.args = ['sh', '-c', 'echo "bundle ran on $(hostname)"; exit 7'];
  });
  const r = await tsrun(g.tsrun, ['--root', b.root, 'run', '-b', b.dir, b.id], engine);
  t.is(r.code, 7, r.stderr);
  t.is(r.stdout, 'bundle ran on tsrun\n');
  const list = await tsrun(g.tsrun, ['--root', b.root, 'list', '-q'], engine);
  t.is(list.code, 0, list.stderr);
  t.is(list.stdout, '', 'run without --keep deleted the container (as runc)');
}

installedContainerTest.serial('the installed tsrun runs a bundle (Bun, the default where installed)', async (t) => {
  const g = await installGlobal();
  const v = await tsrun(g.tsrun, ['--version']);
  t.regex(v.stdout, /engine: bun /, 'Bun came with the package');
  await runsBundle(t, 'bun');
});

installedContainerTest.serial('the installed tsrun runs a bundle on Node', async (t) => {
  await runsBundle(t, 'node');
});

/** Whatever a failed test left in a state root, deleted by force with this checkout's CLI. */
async function removeContainers(global: string[]): Promise<void> {
  const ls = await runTsrun([...global, 'list', '-q']);
  for (const id of ls.stdout.split('\n').filter(Boolean)) await runTsrun([...global, 'delete', '--force', id]);
}

/** The shipped image, as `npm run main` makes it: an OCI layout of Debian's static busybox. */
async function shippedImage(dir: string): Promise<string> {
  const layout = path.join(dir, 'busybox-layout');
  await execFileP(process.execPath, [path.join(REPO_ROOT, 'images/build-busybox.mjs'), layout]);
  return layout;
}

installedContainerTest.serial('the installed tsrun imports and runs the shipped image', async (t) => {
  t.timeout(180_000);
  const g = await installGlobal();
  const p = await pack();
  const dir = fs.mkdtempSync(path.join(p.work, 'image-'));
  const global = ['--root', path.join(dir, 'state'), '--image-root', path.join(dir, 'images')];
  t.teardown(() => removeContainers(global));
  const layout = await shippedImage(dir);
  const imp = await tsrun(g.tsrun, [...global, 'image', 'import', layout]);
  t.is(imp.code, 0, imp.stderr);
  const r = await tsrun(g.tsrun, [
    ...global,
    'run',
    '--image',
    IMAGE,
    '--rm',
    '--',
    'sh',
    '-c',
    'echo "image ran: $(id -u)"; grep -c . /etc/os-release >/dev/null || true',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'image ran: 0\n');
  const ls = await tsrun(g.tsrun, [...global, 'list', '-q']);
  t.is(ls.stdout.trim(), '', '--rm removed the container');
  t.deepEqual(mountsUnder([dir]), [], 'no overlay left mounted');
});

const CONSUMER = `import { Runtime, TsrunError, type Container, type ExitStatus } from '${PKG.name}';
const [root, imageRoot, rootfs, layout, tag] = process.argv.slice(2) as [string, string, string, string, string];
const rt = new Runtime({ root, imageRoot });
async function outcome(c: Container): Promise<{ status: ExitStatus; stdout: string }> {
  const { exitCode, signal, stdout } = await c.output();
  await c.delete();
  return { status: { exitCode, signal }, stdout };
}
const fromRootfs = await outcome(await rt.run(\`\${tag}-rootfs\`, { rootfs, args: ['sh', '-c', 'read line; echo "$line from a rootfs"; exit 4'], stdio: 'pipe' }).then((c) => {
  c.stdin!.end('hello\\n');
  return c;
}));
await rt.images.import(layout);
const fromImage = await outcome(await rt.run(\`\${tag}-image\`, { image: '${IMAGE}', args: ['sh', '-c', 'echo from the image'] }));
let code = '';
await rt.state('missing').catch((err: unknown) => {
  if (err instanceof TsrunError) code = err.code;
});
console.log(JSON.stringify({ fromRootfs, fromImage, code, left: await rt.list() }));
`;

installedContainerTest.serial('a strict NodeNext project with the tarball as a dependency type-checks and runs Runtime.run', async (t) => {
  t.timeout(180_000);
  const p = await pack();
  const project = path.join(p.work, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // --ignore-scripts: what npm does to dependency scripts nobody approved; tsrun needs none.
  await npm(['i', '--no-audit', '--no-fund', '--ignore-scripts', p.tgz], {
    cwd: project,
    env: noCompilerEnv(path.join(p.work, 'env-project'), path.join(p.work, 'cache-project')),
  });
  const dep = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  t.truthy(dep.dependencies[PKG.name], 'recorded as a dependency under its name');
  // The project's node_modules/.bin/tsrun finds Bun hoisted beside the scoped package.
  const v = await tsrun(path.join(project, 'node_modules/.bin/tsrun'), ['--version']);
  t.regex(v.stdout, /engine: bun /, v.stderr);
  const rejected = await compileConsumer(project, CONSUMER);
  if (rejected !== undefined) {
    t.fail(`tsc rejected the consumer: ${rejected}`);
    return;
  }
  const rootfs = await copyTestRootfs(p.work);
  t.teardown(() => rootfs.cleanup());
  const layout = await shippedImage(fs.mkdtempSync(path.join(p.work, 'layout-')));
  const state = path.join(project, 'state');
  const tag = uniqueId('pkg');
  t.teardown(() => removeContainers(['--root', state, '--image-root', path.join(project, 'images')]));
  const r = await execFileP(process.execPath, [path.join(project, 'out/consumer.js'), state, path.join(project, 'images'), rootfs.path, layout, tag], {
    cwd: project,
    timeout: 60_000,
  }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: `consumer failed: ${err.stderr ?? String(err)}` }));
  t.is(r.stderr, '');
  t.deepEqual(JSON.parse(r.stdout || 'null'), {
    fromRootfs: { status: { exitCode: 4, signal: null }, stdout: 'hello from a rootfs\n' },
    fromImage: { status: { exitCode: 0, signal: null }, stdout: 'from the image\n' },
    code: 'TSRUN_NOT_FOUND',
    left: [],
  });
  t.deepEqual(mountsUnder([project]), []);
});

containerTest('where the shipped addon cannot load, tsrun says so and how to build one', async (t) => {
  t.timeout(60_000);
  // A copy of the package whose addon is not a loadable object (as on a glibc older than the
  // one it was built for): bin, dist and the helper as shipped, dependencies from this checkout.
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-badaddon-'));
  t.teardown(() => fs.rmSync(pkg, { recursive: true, force: true }));
  for (const d of ['bin', 'dist']) fs.cpSync(path.join(REPO_ROOT, d), path.join(pkg, d), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  fs.mkdirSync(path.join(pkg, 'build/Release'), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'build/Release/tsrun-init'), path.join(pkg, 'build/Release/tsrun-init'));
  fs.writeFileSync(path.join(pkg, 'build/Release/tsrun.node'), 'not an ELF object\n');
  const b = await makeBundle(t, (spec) => {
    spec.process!.args = ['true'];
  });
  const r = await tsrun(path.join(pkg, 'bin/tsrun'), ['--root', b.root, 'run', '-b', b.dir, b.id], 'node');
  t.not(r.code, 0);
  t.regex(r.stderr, /cannot load the addon \S+\/build\/Release\/tsrun\.node: .*linux-x64 with glibc 2\.33 or newer; on another host build tsrun from source/);
  const list = await tsrun(path.join(pkg, 'bin/tsrun'), ['--root', b.root, 'list', '-q'], 'node');
  t.is(list.stdout, '', 'nothing left of the container');
});

installedContainerTest.serial('the shipped quickstart runs from the installed copy', async (t) => {
  t.timeout(180_000);
  const g = await installGlobal();
  // examples/quickstart.mjs imports the package by its name: from inside the installed copy that
  // is the package's own exports (self-reference), as in a checkout.
  const r = await execFileP(process.execPath, [path.join(g.pkgDir, 'examples/quickstart.mjs')], { cwd: g.prefix, timeout: 60_000 }).catch(
    (err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? '',
      stderr: `quickstart failed: ${err.stderr ?? String(err)}`,
    }),
  );
  t.is(r.stderr, '');
  t.regex(r.stdout, /^exit: hello 3$/m);
  t.regex(r.stdout, /^exec works$/m);
  t.regex(r.stdout, /^true TSRUN_NOT_FOUND container does not exist$/m);
});

test("the README's install section names the package and says what the install needs", (t) => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = /^## Install\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
  t.true(section.includes(`npm i -g ${PKG.name}`), 'the global install command, with the package name');
  t.true(section.includes(`from '${PKG.name}'`), 'the library import, with the package name');
  for (const need of [/glibc 2\.33/, /Node 20\.19/, /x86-64/, /No compiler, make or python/, /allow-scripts/, /Building from source/]) t.regex(section, need);
});

elfTest('the shipped binaries run where the README says: the addon needs glibc 2.33 at most, the helpers are static', async (t) => {
  const { files } = await pack();
  const readelf = async (args: string[]) => (await execFileP('readelf', args, { maxBuffer: 16 << 20 })).stdout;
  const needed = [...(await readelf(['-V', path.join(REPO_ROOT, 'build/Release/tsrun.node')])).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map(
    (m) => [Number(m[1]), Number(m[2])] as const,
  );
  t.true(needed.length > 0, 'the addon links glibc by symbol versions');
  const newest = needed.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a));
  t.true(newest[0] === 2 && newest[1] <= 33, `the addon needs GLIBC_${newest.join('.')}: README.md says 2.33`);
  const helpers = files.filter((f) => /^build\/Release\/tsrun-/.test(f));
  t.true(helpers.includes('build/Release/tsrun-init'));
  for (const h of helpers) {
    const headers = await readelf(['-l', path.join(REPO_ROOT, h)]);
    t.regex(headers, /Elf file type is EXEC|Elf file type is DYN/, h);
    t.notRegex(headers, /INTERP/, `${h} is static: it runs inside any container and on any glibc`);
  }
});
