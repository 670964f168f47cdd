// The typed errors (DESIGN.md "Errors"): SyscallError's fields and Go-style message from a Node
// errno exception, a raw errno and libc's builder; image-not-found's own code; InvalidSpecError for
// every way a config.json cannot be loaded; and a missing image through the library's Images API.

import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Images } from '../../src/api/images.js';
import { errnoCodeOf, ImageNotFoundError, InvalidSpecError, NotFoundError, SyscallError, TsrunError } from '../../src/errors.js';
import * as x from '../../src/image/fsx.js';
import { ImageStore } from '../../src/image/image-store.js';
import { loadSpec, resolveRootfs } from '../../src/spec/load.js';
import { syscallError } from '../../src/sys/libc.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

test('SyscallError from a Node errno exception: fields, message, cause', (t) => {
  const file = '/nonexistent-tsrun-dir/x';
  const node = thrown(() => readFileSync(file)) as NodeJS.ErrnoException;
  const err = SyscallError.fromErrnoException(node);
  t.true(err instanceof TsrunError);
  t.is(err.name, 'SyscallError');
  t.is(err.code, 'TSRUN_SYSCALL');
  t.is(err.syscall, 'open');
  t.is(err.errno, 2, 'positive, unlike Node');
  t.is(err.errnoCode, 'ENOENT');
  t.is(err.path, file);
  t.is(err.message, `open ${file}: no such file or directory`);
  t.is(err.cause, node);
});

test('SyscallError from an errno exception without errno or syscall: the code and the given call', (t) => {
  const bare = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }) as NodeJS.ErrnoException;
  const err = SyscallError.fromErrnoException(bare, { syscall: 'connect', path: '/run/agent.sock', context: 'failed to connect with seccomp agent' });
  t.is(err.errno, 13);
  t.is(err.errnoCode, 'EACCES');
  t.is(err.syscall, 'connect');
  t.is(err.message, 'failed to connect with seccomp agent: connect /run/agent.sock: permission denied');
});

test('SyscallError from a raw errno: either sign, path optional, unknown numbers named', (t) => {
  const withPath = SyscallError.fromErrno('mkdirat', 13, { path: '/a/b' });
  t.deepEqual([withPath.syscall, withPath.errno, withPath.errnoCode, withPath.path], ['mkdirat', 13, 'EACCES', '/a/b']);
  t.is(withPath.message, 'mkdirat /a/b: permission denied');

  const negative = SyscallError.fromErrno('seccomp_export_bpf', -22);
  t.is(negative.errno, 22);
  t.is(negative.errnoCode, 'EINVAL');
  t.is(negative.message, 'seccomp_export_bpf: invalid argument');
  t.false('path' in negative, 'no path property when there is none');

  const unknown = SyscallError.fromErrno('ioctl', 4000);
  t.is(unknown.errnoCode, 'E4000');
  t.is(unknown.message, 'ioctl: unknown error 4000');
});

test("libc's syscallError builds SyscallErrors, and fsx's calls throw them", (t) => {
  const err = syscallError('setns', 1, undefined, { context: 'return to the host network namespace' });
  t.true(err instanceof SyscallError);
  t.is(err.message, 'return to the host network namespace: setns: operation not permitted');
  t.is(err.errno, 1);

  const missing = '/nonexistent-tsrun-dir/f';
  const e = thrown(() => x.lgetxattr(missing, 'user.x'));
  t.true(e instanceof SyscallError, String(e));
  t.like(e as SyscallError, { code: 'TSRUN_SYSCALL', syscall: 'lgetxattr', errno: 2, errnoCode: 'ENOENT', path: missing });
  t.is((e as Error).message, `lgetxattr ${missing}: no such file or directory`);
  t.is(x.codeOf(e), 'ENOENT');
});

test('errnoCodeOf: a SyscallError, a Node error, and not a TsrunError code', (t) => {
  t.is(errnoCodeOf(SyscallError.fromErrno('open', 17)), 'EEXIST');
  t.is(errnoCodeOf(thrown(() => readFileSync('/nonexistent-tsrun-dir'))), 'ENOENT');
  t.is(errnoCodeOf(new NotFoundError()), undefined);
  t.is(errnoCodeOf(undefined), undefined);
});

test('image-not-found and container-not-found have different codes and classes', (t) => {
  const image = new ImageNotFoundError('image "x" not found');
  const container = new NotFoundError();
  t.is(image.code, 'TSRUN_IMAGE_NOT_FOUND');
  t.is(container.code, 'TSRUN_NOT_FOUND');
  t.is(container.message, 'container does not exist', "runc's words");
  t.false(image instanceof NotFoundError);
  t.false(container instanceof ImageNotFoundError);
  t.true(image instanceof TsrunError);
});

test('a missing image through Images and ImageStore is TSRUN_IMAGE_NOT_FOUND', async (t) => {
  const root = tempDir(t);
  const images = new Images(root, () => {});
  const inspected = await t.throwsAsync(images.inspect('localhost/nope:1'), { instanceOf: ImageNotFoundError });
  t.is((inspected as TsrunError).code, 'TSRUN_IMAGE_NOT_FOUND');
  t.is(inspected!.message, 'No such image: localhost/nope:1');
  t.is(await images.find('localhost/nope:1'), undefined);
  const removed = await t.throwsAsync(images.remove('localhost/nope:1'));
  t.is((removed as TsrunError).code, 'TSRUN_IMAGE_NOT_FOUND');
  const got = await t.throwsAsync(new ImageStore(root).get('sha256:0123456789abcdef'));
  t.is((got as TsrunError).code, 'TSRUN_IMAGE_NOT_FOUND');
});

test('InvalidSpecError: a list keeps its prefix, one message is kept as it is', (t) => {
  const list = new InvalidSpecError(['a: bad', 'b: worse']);
  t.is(list.message, 'invalid config.json: a: bad; b: worse');
  t.deepEqual(list.problems, ['a: bad', 'b: worse']);
  const one = new InvalidSpecError('JSON specification file /b/config.json not found');
  t.is(one.message, 'JSON specification file /b/config.json not found');
  t.deepEqual(one.problems, ['JSON specification file /b/config.json not found']);
  t.is(one.code, 'TSRUN_INVALID_SPEC');
});

test('loadSpec: a missing config.json is InvalidSpecError in runc words', (t) => {
  const dir = tempDir(t);
  const err = t.throws(() => loadSpec(dir), { instanceOf: InvalidSpecError });
  t.is(err!.message, `JSON specification file ${join(dir, 'config.json')} not found`);
  t.is((err!.cause as NodeJS.ErrnoException).code, 'ENOENT');
});

test('loadSpec: an unreadable config.json is InvalidSpecError naming the call, the file and the errno', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'config.json')); // a directory: EISDIR for root too, unlike mode 000
  const err = t.throws(() => loadSpec(dir), { instanceOf: InvalidSpecError });
  t.is(err!.message, `read ${join(dir, 'config.json')}: illegal operation on a directory`);
  t.true(err!.cause instanceof SyscallError);
  t.is((err!.cause as SyscallError).errnoCode, 'EISDIR');
});

test('loadSpec: bad JSON is InvalidSpecError with line and column', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'config.json'), '{\n  "ociVersion": "1.3.0",\n  x\n}\n');
  const err = t.throws(() => loadSpec(dir), { instanceOf: InvalidSpecError });
  t.true(err!.message.startsWith(`parse ${join(dir, 'config.json')}: invalid JSON at line 3 column 3 `), err!.message);
  t.true(err!.cause instanceof SyntaxError);
});

test('resolveRootfs: a missing root.path is InvalidSpecError', (t) => {
  const err = t.throws(() => resolveRootfs('/b', { ociVersion: '1.3.0' }), { instanceOf: InvalidSpecError });
  t.is(err!.message, 'root.path is required');
  t.is(err!.code, 'TSRUN_INVALID_SPEC');
});
