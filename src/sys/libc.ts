// Plain C calls from the parent go through koffi (DESIGN.md "Boundaries"). koffi and libc are
// loaded on first use and once per process, so that verbs which never make such a call never pay
// koffi's load (about 8 ms); each user declares its own prototypes with lazyLibc().
import { createRequire } from 'node:module';
import os from 'node:os';

export type Koffi = typeof import('koffi');
export type Library = ReturnType<Koffi['load']>;

let koffiModule: Koffi | undefined;
let libcLibrary: Library | undefined;

export function koffi(): Koffi {
  koffiModule ??= createRequire(import.meta.url)('koffi') as Koffi;
  return koffiModule;
}

/** libc.so.6, shared by every binding set. */
export function libc(): Library {
  libcLibrary ??= koffi().load('libc.so.6');
  return libcLibrary;
}

/** errno of the calling thread after the last koffi call. */
export function lastErrno(): number {
  return koffi().errno();
}

/**
 * A set of libc bindings made on its first use and kept: `declare` gets `fn`, which binds one C
 * prototype ("int close(int fd)"), and the library itself for koffi's other forms.
 */
export function lazyLibc<T extends object>(declare: (fn: (prototype: string) => never, lib: Library) => T): () => T & { errno(): number } {
  let made: (T & { errno(): number }) | undefined;
  return () => {
    if (made) return made;
    const lib = libc();
    made = Object.assign(
      declare((prototype) => lib.func(prototype) as never, lib),
      { errno: lastErrno },
    );
    return made;
  };
}

const errnoNames = new Map<number, string>(Object.entries(os.constants.errno).map(([name, num]) => [num, name]));

/** "ENOENT" for 2 (either sign: libseccomp returns negative errno values); "E<n>" when unnamed. */
export function errnoCode(errno: number): string {
  const n = Math.abs(errno);
  return errnoNames.get(n) ?? `E${n}`;
}

let strerror: ((n: number) => string) | undefined;

/** strerror(3) in lower case, when libc is already loaded (an error path never loads it). */
function describe(errno: number): string | undefined {
  if (!libcLibrary) return undefined;
  strerror ??= libcLibrary.func('const char *strerror(int errnum)') as (n: number) => string;
  return strerror(errno).toLowerCase();
}

/** An Error like Node's uvException: `ENOENT: no such file or directory, mkdirat 'a/b'`. */
export function errnoError(syscall: string, errno: number, path?: string): NodeJS.ErrnoException {
  const code = errnoCode(errno);
  const err = new Error(`${code}: ${describe(errno) ?? code}, ${syscall}${path !== undefined ? ` '${path}'` : ''}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = -Math.abs(errno);
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}
