import type { Verb } from './main.js';

/**
 * A verb module's default export. From a separate CJS bundle (dist/verbs), Node-style interop
 * hands back the whole exports object as `default`; from the sources it is the function itself.
 */
export function verbFunction(m: { default: unknown }): Verb {
  const d = m.default as Verb | { default: Verb };
  return typeof d === 'function' ? d : d.default;
}
