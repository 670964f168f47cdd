import test from 'ava';
import { COMMANDS, GLOBAL_FLAGS } from '../../src/cli/commands.js';
import { HelpTopicError, UsageError, commandHelp, defaultRoot, globalHelp, parseCommandLine } from '../../src/cli/parse.js';

const ENV = { XDG_RUNTIME_DIR: '/run/user/1000' };
const parse = (line: string | string[]) => parseCommandLine(typeof line === 'string' ? line.split(' ') : line, ENV);

// The argv real engines pass (reference/runtime-contract.md §1.2), verbatim.
test('containerd create', (t) => {
  const r = parse(
    '--root /run/containerd/runc/default --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /tmp/s id1',
  );
  t.like(r.global, { root: '/run/containerd/runc/default', log: '/b/log.json', logFormat: 'json', debug: false, systemdCgroup: false, rootless: 'auto' });
  t.is(r.command, 'create');
  t.deepEqual(r.flags, { bundle: '/b', 'pid-file': '/b/init.pid', 'console-socket': '/tmp/s', 'preserve-fds': 0 });
  t.deepEqual(r.args, ['id1']);
  t.false(r.help);
});

test('containerd create with --systemd-cgroup, --no-pivot, --no-new-keyring', (t) => {
  const r = parse(
    '--root /run/containerd/runc/k8s.io --log /b/log.json --log-format json --systemd-cgroup create --bundle /b --pid-file /b/init.pid --no-pivot --no-new-keyring id1',
  );
  t.true(r.global.systemdCgroup);
  t.like(r.flags, { 'no-pivot': true, 'no-new-keyring': true });
});

test('conmon create (with --preserve-fds) and CRI-O --root=', (t) => {
  const r = parse('--root=/run/runc --systemd-cgroup create --bundle /b --pid-file /p/pidfile --no-pivot --preserve-fds 2 --console-socket /c/sock ctr');
  t.is(r.global.root, '/run/runc');
  t.like(r.flags, { 'preserve-fds': 2, 'console-socket': '/c/sock', bundle: '/b' });
  t.deepEqual(r.args, ['ctr']);
});

test('containerd restore with the single-dash -no-subreaper', (t) => {
  const r = parse(
    '--root /r --log /b/log.json --log-format json restore --image-path /img --work-path /work --parent-path /parent --detach --pid-file /b/init.pid --no-pivot -no-subreaper --bundle /b id1',
  );
  t.is(r.command, 'restore');
  t.like(r.flags, {
    'image-path': '/img',
    'work-path': '/work',
    'parent-path': '/parent',
    detach: true,
    'pid-file': '/b/init.pid',
    'no-pivot': true,
    'no-subreaper': true,
    bundle: '/b',
  });
  t.deepEqual(r.args, ['id1']);
});

test('kill forms: --all, -a, signal names and numbers', (t) => {
  t.like(parse('kill --all id 9'), { command: 'kill', flags: { all: true }, args: ['id', '9'] });
  t.like(parse('kill -a id 9'), { flags: { all: true }, args: ['id', '9'] });
  t.like(parse('kill id KILL'), { flags: {}, args: ['id', 'KILL'] });
  t.like(parse('kill id'), { args: ['id'] });
  // StopOnNthArg(1): after the id everything is positional, as runc HEAD.
  t.deepEqual(parse('kill id -9').args, ['id', '-9']);
});

test('delete forms and bool values through "="', (t) => {
  t.deepEqual(parse('delete --force id').flags, { force: true });
  t.deepEqual(parse('delete -f id').flags, { force: true });
  t.deepEqual(parse('delete id').flags, {});
  t.deepEqual(parse('delete --force=true id').flags, { force: true });
  t.deepEqual(parse('delete --force=false id').flags, { force: false });
  t.deepEqual(parse('delete -force=0 id').flags, { force: false });
  t.deepEqual(parse('delete -f=T id').flags, { force: true });
  // A bool never consumes the next argument: "false" is a positional (then too many args).
  t.throws(() => parse('delete --force false id'), { instanceOf: UsageError, message: 'tsrun: "delete" requires exactly 1 argument(s)' });
});

test('flags may follow positional arguments (urfave v3)', (t) => {
  t.like(parse('delete id --force'), { flags: { force: true }, args: ['id'] });
  t.like(parse('create id1 --bundle /b'), { flags: { bundle: '/b' }, args: ['id1'] });
});

test('update reads resources from stdin with "-", both forms', (t) => {
  t.like(parse('update --resources=- id'), { flags: { resources: '-' }, args: ['id'] });
  t.like(parse('update --resources - id'), { flags: { resources: '-' }, args: ['id'] });
  t.like(parse('update -r /tmp/res.json --pids-limit 10 --memory 1G id'), { flags: { resources: '/tmp/res.json', 'pids-limit': 10, memory: '1G' } });
});

test('ps: --format json, and ps options after the id are not flags', (t) => {
  t.like(parse('ps --format json id'), { flags: { format: 'json' }, args: ['id'] });
  t.like(parse('ps id'), { flags: { format: 'table' }, args: ['id'] });
  t.like(parse('ps --format table id -ef'), { flags: { format: 'table' }, args: ['id', '-ef'] });
});

test('exec: containerd, conmon and CRI-O forms; command args are not parsed', (t) => {
  t.like(parse('exec --process /tmp/p.json --detach --pid-file /b/e.pid id'), {
    command: 'exec',
    flags: { process: '/tmp/p.json', detach: true, 'pid-file': '/b/e.pid' },
    args: ['id'],
  });
  t.like(parse('exec --pid-file /p --process /f --detach --preserve-fds 3 --console-socket /s id'), {
    flags: { 'pid-file': '/p', process: '/f', detach: true, 'preserve-fds': 3, 'console-socket': '/s' },
  });
  t.like(parse('exec --process /f id'), { flags: { process: '/f' }, args: ['id'] });
  const r = parseCommandLine(
    ['exec', '-t', '-e', 'A=1,2', '--env', 'B=2', '-u', '1000:1000', '-g', '10', '-g', '11', '--cap', 'CAP_KILL', 'id', 'sh', '-c', 'echo hi --tty'],
    ENV,
  );
  t.deepEqual(r.flags, { tty: true, env: ['A=1,2', 'B=2'], user: '1000:1000', 'additional-gids': ['10', '11'], cap: ['CAP_KILL'], 'preserve-fds': 0 });
  t.deepEqual(r.args, ['id', 'sh', '-c', 'echo hi --tty']);
});

test('BuildKit run in the foreground, and go-runc --rootless=<bool>', (t) => {
  const r = parse('--rootless=false run --bundle /b --no-pivot --pid-file /p id');
  t.is(r.global.rootless, 'false');
  t.deepEqual(r.flags, { bundle: '/b', 'no-pivot': true, 'pid-file': '/p', 'preserve-fds': 0 });
  t.deepEqual(r.args, ['id']);
  t.is(parse('--rootless true state x').global.rootless, 'true');
});

test('Podman --log-format=json, debug, and features with no global flags', (t) => {
  const r = parse('--log-format=json --log /run/oci-log --debug state x');
  t.like(r.global, { logFormat: 'json', log: '/run/oci-log', debug: true });
  t.like(parse('features'), { command: 'features', args: [] });
});

test('"--" ends flag parsing', (t) => {
  t.like(parse('delete -- -odd-id'), { args: ['-odd-id'], flags: {} });
  t.like(parse('kill -- id 9'), { args: ['id', '9'] });
});

test('defaults: root, log format, rootless, list format, events interval, image root', (t) => {
  const r = parseCommandLine(['list'], {});
  t.like(r.global, { root: defaultRoot({}), logFormat: 'text', rootless: 'auto' });
  t.is(r.global.log, undefined);
  t.deepEqual(r.flags, { format: 'table' });
  t.deepEqual(parse('events id').flags, { interval: '5s' });
  t.deepEqual(parse('events --interval=1m30s --stats id').flags, { interval: '1m30s', stats: true });
  t.is(parse('--image-root /var/lib/tsrun/images list').global.imageRoot, '/var/lib/tsrun/images');
  t.is(defaultRoot({}, 0), '/run/tsrun');
  t.is(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/run/user/1000/tsrun');
  t.is(defaultRoot({}, 1000), '/run/tsrun');
  t.is(parse('--criu /usr/sbin/criu list').command, 'list');
});

test('errors are worded as Go flag / urfave / runc word them', (t) => {
  const cases: [string, string, string | undefined][] = [
    ['create -x id', 'flag provided but not defined: -x', 'create'],
    ['create --nope id', 'flag provided but not defined: -nope', 'create'],
    ['--nope state x', 'flag provided but not defined: -nope', undefined],
    ['delete --force=maybe id', 'invalid boolean value "maybe" for -force: parse error', 'delete'],
    ['create --bundle', 'flag needs an argument: -bundle', 'create'],
    ['create --preserve-fds abc id', 'invalid value "abc" for flag -preserve-fds: parse error', 'create'],
    ['events --interval 5 id', 'invalid value "5" for flag -interval: parse error', 'events'],
    ['exec -g x id sh', 'invalid value "x" for flag -g: parse error', 'exec'],
    ['--log-format xml state x', 'invalid log-format: xml', undefined],
    ['--rootless maybe state x', 'invalid value for --rootless: "maybe"', undefined],
    ['state', 'tsrun: "state" requires exactly 1 argument(s)', 'state'],
    ['state a b', 'tsrun: "state" requires exactly 1 argument(s)', 'state'],
    ['kill', 'tsrun: "kill" requires a minimum of 1 argument(s)', 'kill'],
    ['kill a 9 x', 'tsrun: "kill" requires a maximum of 2 argument(s)', 'kill'],
    ['list x', 'tsrun: "list" requires exactly 0 argument(s)', 'list'],
    ['delete ---force id', 'bad flag syntax: ---force', 'delete'],
  ];
  for (const [line, message, command] of cases) {
    const err = t.throws(() => parse(line), { instanceOf: UsageError }, line);
    t.is(err!.message, message, line);
    t.is((err as UsageError).command, command, line);
    t.is((err as UsageError).code, 'TSRUN_INVALID_ARGUMENT');
  }
});

test("an unknown command is urfave's help-topic error (runc exits 3), after the global options", (t) => {
  const err = t.throws(() => parse('--log /tmp/x.log --log-format json foo'), { instanceOf: HelpTopicError });
  t.is(err!.message, "No help topic for 'foo'");
  t.is((err as HelpTopicError).topic, 'foo');
  t.like((err as HelpTopicError).global, { log: '/tmp/x.log', logFormat: 'json' });
});

test('-v/--version and -h/--help come before the command, as in urfave/cli', (t) => {
  t.like(parse('--version nosuch'), { command: undefined, global: { version: true } });
  t.like(parse('-h nosuch'), { command: undefined, global: { help: true } });
});

test('help and version', (t) => {
  t.like(parse('create --help'), { command: 'create', help: true, args: [] });
  t.like(parse('delete -h'), { command: 'delete', help: true });
  t.true(parse('--help').global.help);
  t.true(parse('-h').global.help);
  t.true(parse('-v').global.version);
  t.true(parse('--version').global.version);
  t.is(parse('--version').command, undefined);
  t.like(parse('help create'), { command: 'help', args: ['create'] });
  t.like(parse('h'), { command: 'help', args: [] });
});

test('help texts list each visible flag with its aliases', (t) => {
  const create = commandHelp('create');
  t.true(create.startsWith('NAME:\n   tsrun create - create a container\n\nUSAGE:\n   tsrun create [command options] <container-id>\n'));
  t.regex(create, /--bundle value, -b value +path to the root of the bundle directory/);
  t.regex(create, /--preserve-fds value +Pass N additional file descriptors .*\(default: 0\)/);
  const kill = commandHelp('kill');
  t.false(kill.includes('--all'), 'hidden flags stay hidden');
  t.true(commandHelp('state').includes('USAGE:\n   tsrun state <container-id>'));
  const g = globalHelp('0.1.0');
  for (const c of COMMANDS) if (c.name !== 'help') t.true(g.includes(`   ${c.name} `), c.name);
  t.true(g.includes('--image-root value'));
  t.false(g.includes('--criu'));
  t.throws(() => commandHelp('nope'), { instanceOf: UsageError });
});

test('the tables have no duplicate names or aliases within a command', (t) => {
  for (const c of [...COMMANDS.map((c) => ({ name: c.name, flags: c.flags })), { name: 'global', flags: GLOBAL_FLAGS }]) {
    const names = c.flags.flatMap((f) => [f.name, ...(f.aliases ?? [])]);
    t.is(new Set(names).size, names.length, c.name);
    if (c.name !== 'global') t.false(names.includes('help') || names.includes('h'), `${c.name}: -h is reserved for help`);
  }
});

// The bound is loose on purpose: CI machines are shared and a timing test must not flake; it still
// catches a parser that became pathological (measured here: 3–6 µs).
test('parsing is cheap: under 200 µs for the containerd create argv', (t) => {
  const argv =
    '--root /run/containerd/runc/default --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /tmp/s id1'.split(' ');
  for (let i = 0; i < 1000; i++) parseCommandLine(argv, ENV);
  const n = 20000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) parseCommandLine(argv, ENV);
  const us = Number(process.hrtime.bigint() - t0) / n / 1000;
  t.log(`parseCommandLine: ${us.toFixed(2)} µs per call`);
  t.true(us < 200);
});
