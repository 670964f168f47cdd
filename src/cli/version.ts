// The version the CLI reports; one place, so every verb bundle agrees.
export const VERSION = '0.1.0';

/** The runc release whose command line, words, JSON and exit codes tsrun follows (issue 14). */
export const RUNC_COMPATIBLE = '1.1.5';

/**
 * The JS engine running the CLI, for `tsrun --version` ("bun 1.4.5", "node v20.20.2"): bin/tsrun
 * picks Bun where it is installed with the package, else Node.
 */
export function engineName(): string {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return bun ? `bun ${bun}` : `node ${process.version}`;
}
