// Compose on tsrun (issue 18): Debian's docker-compose (1.29) against a dockerd whose default
// runtime is tsrun (vagrant/provision.sh's daemon.json, through the argv-logging wrapper). A
// two-service app: "web" serves a named volume with busybox httpd, "client" fetches the page by
// the service's name over the project's network. The volume is filled by `docker-compose run web` (so
// Compose creates and labels it); `up -d`, `logs`, then `down -v` must leave no container, network,
// volume, bridge interface or runtime state behind.
// dockerd is a private one (helpers/dockerd.ts): test/vm/engines.test.ts stops the shared one.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IMAGE_REF, IMAGES, IN_VM, VM, argvLogOffset, optionOf, runtimeCallsSince, runtimeTarget, sh, verbOf, type Result } from './helpers/guest.js';
import { PrivateDockerd } from './helpers/dockerd.js';
import { needs, tool } from '../helpers/skip.js';

const composeTest = needs(VM, tool('dockerd', 'docker.io'), tool('docker-compose')).serial;

const token = randomBytes(4).toString('hex');
const project = `tsrunvm${token}`;
const COMPOSE = `version: "2.4"
services:
  web:
    image: ${IMAGE_REF}
    command: ["httpd", "-f", "-v", "-p", "8080", "-h", "/site"]
    volumes:
      - site:/site
  client:
    image: ${IMAGE_REF}
    depends_on: [web]
    # the web service may still be starting: retry (for 2 minutes at most) until it answers, by its
    # service name
    command: ["sh", "-c", "i=0; until wget -qO- http://web:8080/index.html; do i=$$((i+1)); [ $$i -lt 240 ] || exit 1; sleep 0.5; done; echo client-done"]
volumes:
  site: {}
`;

const dockerd = new PrivateDockerd('compose-dockerd');
let dockerdStarted = false;
let dir = '';

test.before(async () => {
  dir = mkdtempSync('/tmp/tsrun-compose-');
  writeFileSync(path.join(dir, 'docker-compose.yml'), COMPOSE);
  if (!IN_VM) return;
  await dockerd.start();
  dockerdStarted = true;
  const r = await dockerd.docker(['load', '-q', '-i', `${IMAGES}/docker.tar`], 600_000);
  if (r.code !== 0) throw new Error(`docker load: ${r.stderr}`);
});

test.after.always(async () => {
  if (dockerdStarted) {
    await compose(['down', '-v', '--timeout', '1']);
    await dockerd.stop();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function compose(args: string[], timeoutMs = 600_000): Promise<Result> {
  return sh('docker-compose', ['--ansi', 'never', '-p', project, '-f', path.join(dir, 'docker-compose.yml'), ...args], timeoutMs, dockerd.env);
}

function show(r: Result): string {
  return `status ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** Interface names (`ip -o link show [master DEV]`): the project's bridge and the veths on it. */
async function links(master?: string): Promise<string[]> {
  const r = await sh('ip', ['-o', 'link', 'show', ...(master ? ['master', master] : [])]);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!);
}

const byLabel = (kind: 'ps' | 'network' | 'volume') =>
  dockerd.docker([...(kind === 'ps' ? ['ps', '-a'] : [kind, 'ls']), '-q', '--filter', `label=com.docker.compose.project=${project}`]);

composeTest('docker-compose up -d on tsrun: web serves a named volume, client reaches it by service name; logs; down -v leaves nothing', async (t) => {
  const offset = argvLogOffset();

  // fill the named volume through Compose (it creates and labels the volume), on tsrun too
  const seed = await compose(['run', '--rm', '--no-deps', 'web', 'sh', '-c', `echo "page ${token}" > /site/index.html`]);
  t.is(seed.code, 0, show(seed));

  const up = await compose(['up', '-d']);
  t.is(up.code, 0, show(up));
  const clientId = (await compose(['ps', '-q', 'client'])).stdout.trim();
  t.regex(clientId, /^[0-9a-f]{64}$/, 'the client container exists');
  const waited = await dockerd.docker(['wait', clientId], 600_000);
  t.is(waited.stdout.trim(), '0', `the client got the page and exited 0: ${show(waited)}`);

  const logs = await compose(['logs', '--no-color', 'client']);
  t.is(logs.code, 0, show(logs));
  t.regex(logs.stdout, new RegExp(`page ${token}`), 'the client printed the page from the volume');
  t.regex(logs.stdout, /client-done/);
  const webLogs = await compose(['logs', '--no-color', 'web']);
  t.is(webLogs.code, 0, show(webLogs));

  // every container of the app ran on tsrun
  // this dockerd's calls (other files' engines log to the same file): --root under its exec root
  const calls = runtimeCallsSince(offset).filter((c) => optionOf(c.args, '--root')?.startsWith(`${dockerd.execRoot}/`));
  const created = calls.filter((c) => verbOf(c.args) === 'create');
  t.log(`runtime calls:\n${calls.map((c) => c.args.join(' ')).join('\n')}`);
  t.true(created.length >= 3, `seed, web and client were created by the runtime (${created.length})`);
  t.true(
    created.every((c) => c.target === runtimeTarget()),
    'through the wrapper, to the configured runtime',
  );
  t.true(
    created.some((c) => c.args.at(-1) === clientId),
    'the client container is one of them',
  );

  // The project's network is a bridge br-<id12> with a veth per container. Other test files make
  // bridges and veths of their own at the same time: only the project's are checked.
  const nets = (await byLabel('network')).stdout.trim().split('\n').filter(Boolean);
  t.is(nets.length, 1, 'compose made one network for the project');
  const bridge = `br-${nets[0]!.slice(0, 12)}`;
  const veths = await links(bridge);
  t.true(veths.length >= 1, `web (still up) has a veth on ${bridge}: ${veths.join(' ')}`);
  const down = await compose(['down', '-v', '--timeout', '2']);
  t.is(down.code, 0, show(down));
  for (const kind of ['ps', 'network', 'volume'] as const) {
    const left = await byLabel(kind);
    t.is(left.stdout.trim(), '', `no ${kind === 'ps' ? 'container' : kind} of the project is left`);
  }
  const left = await links();
  t.deepEqual(
    left.filter((l) => l === bridge || veths.includes(l)),
    [],
    `no bridge or veth interface of the project is left (${bridge}: ${veths.join(' ')})`,
  );
  // and the runtime keeps no state for any of the app's containers
  for (const c of created) {
    const root = optionOf(c.args, '--root');
    const id = c.args.at(-1)!;
    const state = await sh(runtimeTarget(), [...(root ? ['--root', root] : []), 'state', id]);
    t.not(state.code, 0, `the runtime no longer knows ${id}: ${show(state)}`);
    if (root) t.false(existsSync(path.join(root, id)), `${root}/${id} is gone`);
  }
});
