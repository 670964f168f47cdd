import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidSpecError, TsrunError } from '../../src/errors.js';
import { defaultSpec, formatSpec } from '../../src/spec/defaults.js';
import { loadSpec, parseJson, resolveRootfs } from '../../src/spec/load.js';

function withBundle(t: { teardown(fn: () => void): void }, config?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-spec-load-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), config);
  return dir;
}

test('loads and validates a bundle config', (t) => {
  const dir = withBundle(t, formatSpec(defaultSpec()));
  const spec = loadSpec(dir);
  t.deepEqual(spec, defaultSpec());
});

test('a UTF-8 BOM is tolerated', (t) => {
  const dir = withBundle(t, `\ufeff${formatSpec(defaultSpec())}`);
  t.is(loadSpec(dir).hostname, 'tsrun');
});

test('missing config.json: runc wording, with the path', (t) => {
  const dir = withBundle(t);
  const err = t.throws(() => loadSpec(dir), { instanceOf: TsrunError });
  t.is(err!.message, `JSON specification file ${join(dir, 'config.json')} not found`);
  t.is((err as TsrunError).code, 'TSRUN_INVALID_SPEC');
});

test('bad JSON names the file, line and column', (t) => {
  const dir = withBundle(t, '{\n  "ociVersion": "1.3.0",\n  "root": {"path": "rootfs",}\n}\n');
  const err = t.throws(() => loadSpec(dir), { instanceOf: TsrunError });
  const file = join(dir, 'config.json');
  // Offset 55 is the "}" after the trailing comma: line 3 starts at 27, the "}" is its 29th character.
  t.regex(err!.message, new RegExp(`^parse ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON at line 3 column 29 \\(offset 55\\): `));
  t.truthy((err as Error).cause);
});

test('truncated JSON says end of file', (t) => {
  const err = t.throws(() => parseJson('/b/config.json', '{"a":'));
  t.is(err!.message, 'parse /b/config.json: invalid JSON at end of file: Unexpected end of JSON input');
});

test('a config that parses but is invalid throws InvalidSpecError with every problem', (t) => {
  const s: any = defaultSpec();
  s.process.cwd = 'x';
  s.linux.namespaces.push({ type: 'bogus' });
  const dir = withBundle(t, JSON.stringify(s));
  const err = t.throws(() => loadSpec(dir), { instanceOf: InvalidSpecError });
  t.deepEqual((err as InvalidSpecError).problems, [
    'linux.namespaces[5].type: unknown namespace type "bogus"',
    'process.cwd: must be an absolute path, got "x"',
  ]);
});

test('warnings are passed out', (t) => {
  const s: any = defaultSpec();
  s.mounts.push({ destination: 'tmp', type: 'tmpfs', source: 'tmpfs' });
  const dir = withBundle(t, JSON.stringify(s));
  const warnings: string[] = [];
  loadSpec(dir, { warnings });
  t.deepEqual(warnings, ['mounts[7].destination: relative destination "tmp" is deprecated, using it as relative to /']);
});

test('resolveRootfs: relative to the bundle, absolute kept, normalised', (t) => {
  t.is(resolveRootfs('/b', { ociVersion: '1.3.0', root: { path: 'rootfs' } }), '/b/rootfs');
  t.is(resolveRootfs('/b/', { ociVersion: '1.3.0', root: { path: './x/../rootfs/' } }), '/b/rootfs');
  t.is(resolveRootfs('/b', { ociVersion: '1.3.0', root: { path: '/srv/r//fs' } }), '/srv/r/fs');
  t.throws(() => resolveRootfs('/b', { ociVersion: '1.3.0' }), { message: 'root.path is required' });
});
