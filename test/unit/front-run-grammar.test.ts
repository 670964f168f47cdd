// `tsrun run --image` in Docker's grammar (issue 17): without `--`, the command follows the image
// and its flags are its own; with `--`, the old `[ID] -- CMD` form; runc's `run` is unchanged.
import test from 'ava';
import { parseCommandLine } from '../../src/cli/parse.js';

test('run --image IMAGE [flags] COMMAND ARGS: the command after the first argument, flags after it its own', (t) => {
  const cl = parseCommandLine(['run', '--image', 'busybox', '--rm', '--name', 'web', 'httpd', '-f', '-p', '8080']);
  t.is(cl.flags.image, 'busybox');
  t.is(cl.flags.rm, true);
  t.is(cl.flags.name, 'web');
  t.deepEqual(cl.rest, ['httpd', '-f', '-p', '8080']);
  t.deepEqual(cl.args, cl.rest, 'no id among the arguments: --name or a generated one');
  t.deepEqual(parseCommandLine(['run', '--image=busybox', 'echo']).rest, ['echo']);
});

test('run --image with -- keeps the old form: [ID] -- CMD', (t) => {
  const cl = parseCommandLine(['run', '--image', 'busybox', '--rm', 'myid', '--', 'sh', '-c', 'x']);
  t.deepEqual(cl.args, ['myid', 'sh', '-c', 'x']);
  t.deepEqual(cl.rest, ['sh', '-c', 'x']);
  const noId = parseCommandLine(['run', '--image', 'busybox', '--', 'echo', 'hi']);
  t.deepEqual(noId.args, ['echo', 'hi']);
  t.deepEqual(noId.rest, ['echo', 'hi']);
  t.deepEqual(parseCommandLine(['run', '--image', 'b']).args, [], 'the image default command');
});

test("run without --image is runc's: a second argument is refused, as before", (t) => {
  t.throws(() => parseCommandLine(['run', '-b', 'x', 'id', 'extra']), { message: /requires exactly 1 argument/ });
  t.deepEqual(parseCommandLine(['run', '-d', '-b', 'x', 'id']).args, ['id']);
  t.throws(() => parseCommandLine(['run', '--rm', 'id']), { message: 'flag provided but not defined: -rm' });
});
