// Reading a bundle's config.json (runtime-spec bundle.md): synchronous, since the CLI does nothing
// else meanwhile and a sync read is the cheapest path. Errors name the file and, for bad JSON,
// the line and column, because a byte offset alone is useless in a 10 KB file.

import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidSpecError, SyscallError } from '../errors.js';
import type { Spec } from './types.js';
import { validateSpec, type ValidateOptions } from './validate.js';

export const CONFIG_FILE = 'config.json';

/** Read, parse and validate `<bundle>/config.json`. */
export function loadSpec(bundleDir: string, opts: ValidateOptions = {}): Spec {
  const file = join(bundleDir, CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // runc utils_linux.go loadSpec: "JSON specification file config.json not found".
    if (code === 'ENOENT') throw new InvalidSpecError(`JSON specification file ${file} not found`, { cause: err });
    // "open /b/config.json: permission denied", "read /b/config.json: illegal operation on a directory".
    const sys = SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall: 'read', path: file });
    throw new InvalidSpecError(sys.message, { cause: sys });
  }
  return validateSpec(parseJson(file, text), opts);
}

/** JSON.parse with the file name and line:column in the error. */
export function parseJson(file: string, text: string): unknown {
  // A UTF-8 byte-order mark is not JSON, but editors write it; skipping it costs nothing.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (err) {
    const msg = (err as Error).message;
    // V8 words it "... in JSON at position N" (Node 20) or adds "(line L column C)" (Node 22+).
    const m = /at position (\d+)/.exec(msg);
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = body.slice(0, pos);
      const line = before.split('\n').length;
      const column = pos - before.lastIndexOf('\n');
      where = ` at line ${line} column ${column} (offset ${pos})`;
    } else if (/end of JSON input/i.test(msg)) {
      where = ' at end of file';
    }
    const reason = msg.replace(/\s*(?:in JSON )?at position \d+.*$/s, '').replace(/^JSON\.parse: /, '');
    throw new InvalidSpecError(`parse ${file}: invalid JSON${where}: ${reason}`, { cause: err });
  }
}

/** The container's root filesystem: root.path, relative to the bundle unless absolute (config.md "Root"). */
export function resolveRootfs(bundleDir: string, spec: Spec): string {
  const p = spec.root?.path;
  if (!p) throw new InvalidSpecError('root.path is required');
  return isAbsolute(p) ? resolve(p) : resolve(bundleDir, p);
}
