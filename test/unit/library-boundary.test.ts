// The library never prints, never exits and never takes over the host process's signals or stdio
// (DESIGN.md "Boundaries"): only src/cli/ may touch process.on/once/stdout/stdin/exit. Reading
// process.env or process.pid is fine.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const FORBIDDEN = /\bprocess\s*\.\s*(on|once|off|addListener|prependListener|removeListener|removeAllListeners|stdout|stdin|exit|exitCode)\b/;

function* files(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== path.join(src, 'cli')) yield* files(p);
    } else if (/\.[cm]?ts$/.test(e.name)) yield p;
  }
}

test('outside src/cli/, no process.on/once/stdout/stdin/exit', (t) => {
  const hits: string[] = [];
  for (const f of files(src)) {
    fs.readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        if (FORBIDDEN.test(code) && !/^\s*\*/.test(line)) hits.push(`${path.relative(path.dirname(src), f)}:${i + 1}: ${line.trim()}`);
      });
  }
  t.deepEqual(hits, [], `the library touches the host process:\n${hits.join('\n')}`);
});

test('the check finds what it looks for', (t) => {
  t.true(FORBIDDEN.test("process.on('SIGTERM', f)"));
  t.true(FORBIDDEN.test('process.stdout.write(x)'));
  t.true(FORBIDDEN.test('process.exit(1)'));
  t.false(FORBIDDEN.test('process.env.NOTIFY_SOCKET'));
  t.false(FORBIDDEN.test('process.pid'));
});
