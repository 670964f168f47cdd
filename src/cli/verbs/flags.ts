// Small accessors over the parsed flags shared by the verbs.
import type { ParsedCommandLine } from '../parse.js';

export function str(cl: ParsedCommandLine, name: string): string | undefined {
  const v = cl.flags[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** -b/--bundle, defaulting to the current directory as runc does. */
export function bundleFlag(cl: ParsedCommandLine): string {
  return str(cl, 'bundle') ?? process.cwd();
}
