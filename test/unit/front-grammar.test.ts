// Docker's command-line grammar for `tsrun container …` / `tsrun volume …` (src/front/grammar.ts)
// and the option readers of src/front/options.ts.
import test from 'ava';
import fc from 'fast-check';
import { CONTAINER_COMMANDS, RUN, VOLUME_COMMANDS } from '../../src/front/commands.js';
import { editDistance, findFront, frontHelp, FrontUsageError, parseFront, suggest } from '../../src/front/grammar.js';

const cmd = (name: string) => CONTAINER_COMMANDS.find((c) => c.name === name)!;

test('combined short flags: -it, -dit, and a valued flag ending a group (-dp, -iw /x, -e=K=V)', (t) => {
  let p = parseFront(RUN, ['-dit', 'img', 'sh']);
  t.is(p.flags.detach, true);
  t.is(p.flags.interactive, true);
  t.is(p.flags.tty, true);
  t.deepEqual(p.args, ['img', 'sh']);
  p = parseFront(RUN, ['-iw', '/x', '-eA=1', '-e=B=2', '--env', 'C=3', '--env=D=4', 'img']);
  t.is(p.flags.workdir, '/x');
  t.deepEqual(p.flags.env, ['A=1', 'B=2', 'C=3', 'D=4']);
  p = parseFront(RUN, ['-uroot:0', 'img']);
  t.is(p.flags.user, 'root:0');
});

test('run stops at the image: what follows is the command, flags included', (t) => {
  const p = parseFront(RUN, ['--rm', 'img', 'sh', '-c', 'echo --rm -it', '--name', 'x']);
  t.deepEqual(p.args, ['img', 'sh', '-c', 'echo --rm -it', '--name', 'x']);
  t.is(p.flags.rm, true);
  t.false('name' in p.flags);
  // Other commands take flags after their arguments (cobra's interspersed flags).
  const stop = parseFront(cmd('stop'), ['web', '-t', '3', 'db']);
  t.deepEqual(stop.args, ['web', 'db']);
  t.is(stop.flags.timeout, 3);
  t.is(parseFront(cmd('stop'), ['--time=5', 'x']).flags.timeout, 5, '--time is an alias of --timeout');
});

test('booleans take =false; --sig-proxy defaults to true; -h is --hostname for run, help elsewhere', (t) => {
  t.is(parseFront(RUN, ['--rm=false', 'img']).flags.rm, false);
  t.is(parseFront(RUN, ['img']).flags['sig-proxy'], true);
  t.is(parseFront(RUN, ['--sig-proxy=false', 'img']).flags['sig-proxy'], false);
  t.is(parseFront(RUN, ['-h', 'box', 'img']).flags.hostname, 'box');
  t.true(parseFront(cmd('stop'), ['-h']).help);
  t.true(parseFront(RUN, ['--help']).help);
  t.is(parseFront(RUN, ['img']).flags.pull, 'missing');
});

test("Docker's errors, with a did-you-mean", (t) => {
  const e = (f: () => unknown) => t.throws(f, { instanceOf: FrontUsageError })!.message;
  t.is(
    e(() => parseFront(RUN, ['--rmm', 'img'])),
    'unknown flag: --rmm (did you mean --rm?)',
  );
  t.is(
    e(() => parseFront(RUN, ['--nmae', 'x', 'img'])),
    'unknown flag: --nmae (did you mean --name?)',
  );
  t.is(
    e(() => parseFront(RUN, ['-x', 'img'])),
    "unknown shorthand flag: 'x' in -x",
  );
  t.is(
    e(() => parseFront(RUN, ['--name'])),
    'flag needs an argument: --name',
  );
  t.is(
    e(() => parseFront(RUN, ['-e'])),
    "flag needs an argument: 'e' in -e",
  );
  t.is(
    e(() => parseFront(RUN, ['--rm=maybe', 'img'])),
    'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
  );
  t.is(
    e(() => parseFront(cmd('stop'), ['-t', 'soon', 'x'])),
    'invalid argument "soon" for "-t, --timeout" flag: strconv.ParseInt: parsing "soon": invalid syntax',
  );
  t.is(
    e(() => parseFront(RUN, [], 'container run')),
    '"tsrun container run" requires at least 1 argument.',
  );
  t.is(
    e(() => parseFront(cmd('logs'), ['a', 'b'], 'container logs')),
    '"tsrun container logs" requires exactly 1 argument.',
  );
  t.is(
    e(() => parseFront(cmd('ls'), ['x'], 'container ls')),
    '"tsrun container ls" accepts no arguments.',
  );
  t.is(
    e(() => findFront('container', CONTAINER_COMMANDS, 'rnu')),
    "'container rnu' is not a tsrun command (did you mean 'container run'?)",
  );
  t.is(
    e(() => findFront('volume', VOLUME_COMMANDS, 'xyzzy')),
    "'volume xyzzy' is not a tsrun command",
  );
  t.is(findFront('container', CONTAINER_COMMANDS, 'ps').name, 'ls', 'ps is an alias of ls');
});

test('help lists the flags with their shorthands; the internal create step is not listed', (t) => {
  const h = frontHelp('container run', RUN);
  t.regex(h, /^\nUsage: {2}tsrun container run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n/);
  t.regex(h, /\n {2}-t, --tty +Allocate a pseudo-TTY\n/);
  t.regex(h, /\n {6}--rm +Automatically remove/);
  t.false(CONTAINER_COMMANDS.filter((c) => !c.hidden).some((c) => c.name.startsWith('__')));
});

test('editDistance counts a transposition as one edit; suggest keeps near names only', (t) => {
  t.is(editDistance('rnu', 'run'), 1);
  t.is(editDistance('kitten', 'sitting'), 3);
  t.deepEqual(suggest('stpo', ['stop', 'start', 'ls']), ['stop']);
  t.deepEqual(suggest('zzz', ['stop', 'start', 'ls']), []);
});

test('property: any order of known boolean short flags in one group sets exactly those flags', (t) => {
  const bools = ['d', 'i', 't', 'q', 'P'].filter((c) => RUN.flags.some((f) => f.short === c && f.type === 'bool'));
  fc.assert(
    fc.property(fc.uniqueArray(fc.constantFrom(...bools), { minLength: 1 }), (group) => {
      const p = parseFront(RUN, [`-${group.join('')}`, 'img']);
      for (const c of bools) {
        const f = RUN.flags.find((x) => x.short === c)!;
        if ((p.flags[f.name] === true) !== group.includes(c)) return false;
      }
      return p.args[0] === 'img';
    }),
  );
  t.pass();
});
