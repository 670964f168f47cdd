// Plain C calls from the parent go through koffi, never anything inside a child. koffi and libc are
// loaded on first use and once per process, so that verbs which never make such a call never pay
// koffi's load (about 8 ms); each user declares its own prototypes with lazyLibc().
import { createRequire } from 'node:module';
import { SyscallError, errnoName, errnoText, type SyscallErrorOptions } from '../errors.js';

export type Koffi = typeof import('koffi');
export type Library = ReturnType<Koffi['load']>;

let koffiModule: Koffi | undefined;
let libcLibrary: Library | undefined;

export function koffi(): Koffi {
  koffiModule ??= createRequire(import.meta.filename)('koffi') as Koffi;
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

/** "ENOENT" for 2 (either sign: libseccomp returns negative errno values); "E<n>" when unnamed. */
export function errnoCode(errno: number): string {
  return errnoName(errno);
}

let strerror: ((n: number) => string) | undefined;

/** strerror(3) in lower case, when libc is already loaded (an error path never loads it). */
function describe(errno: number): string | undefined {
  if (!libcLibrary) return undefined;
  strerror ??= libcLibrary.func('const char *strerror(int errnum)') as (n: number) => string;
  return strerror(errno).toLowerCase();
}

/**
 * The SyscallError for a failed C call: `syscallError('mkdirat', lastErrno(), 'a/b')` says
 * "mkdirat a/b: no such file or directory" (libuv's words, or strerror(3)'s when libuv has none).
 * errno may be negative, as libseccomp and raw syscalls return it.
 */
export function syscallError(syscall: string, errno: number, path?: string, options: Omit<SyscallErrorOptions, 'path'> = {}): SyscallError {
  const n = Math.abs(errno);
  return new SyscallError(syscall, n, { path, ...options, text: options.text ?? (errnoText(n) === undefined ? describe(n) : undefined) });
}
