import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExistsError } from '../../errors.js';
import { defaultSpec } from '../../spec/defaults.js';
import type { VerbContext } from '../main.js';
import { str } from './flags.js';

export default function spec({ cl }: VerbContext): number {
  const dir = str(cl, 'bundle') ?? '.';
  const file = path.join(dir, 'config.json');
  // runc spec.go refuses to overwrite, with these words.
  if (existsSync(file)) throw new ExistsError('File config.json exists. Remove it first');
  writeFileSync(file, JSON.stringify(defaultSpec({ rootless: cl.flags.rootless === true }), null, '\t'), { mode: 0o666 });
  return 0;
}
