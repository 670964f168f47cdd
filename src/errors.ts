// Typed errors with stable codes. Messages are lowercase and factual; context is added by
// wrapping (`new TsrunError(code, 'create container x', { cause })`), never by logging twice.
// Where engines match strings, the words are runc's (libcontainer/error.go):
// "container does not exist", "container not running", "container with id exists".

export type ErrorCode =
  | 'TSRUN_NOT_FOUND'
  | 'TSRUN_IMAGE_NOT_FOUND'
  | 'TSRUN_NETWORK'
  | 'TSRUN_NETWORK_NOT_FOUND'
  | 'TSRUN_EXISTS'
  | 'TSRUN_INVALID_STATE'
  | 'TSRUN_INVALID_SPEC'
  | 'TSRUN_INVALID_ARGUMENT'
  | 'TSRUN_CHILD_SETUP'
  | 'TSRUN_CGROUP'
  | 'TSRUN_HOOK'
  | 'TSRUN_IMAGE_DIGEST'
  | 'TSRUN_IMAGE'
  | 'TSRUN_REGISTRY'
  | 'TSRUN_STATE'
  | 'TSRUN_SYSCALL'
  | 'TSRUN_SYSTEM'
  | 'TSRUN_TIMEOUT'
  | 'TSRUN_UNSUPPORTED';

export class TsrunError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No such container (TSRUN_NOT_FOUND); an image has its own code, see ImageNotFoundError. */
export class NotFoundError extends TsrunError {
  constructor(message = 'container does not exist', options?: { cause?: unknown }) {
    super('TSRUN_NOT_FOUND', message, options);
  }
}

export class ExistsError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TSRUN_EXISTS', message, options);
  }
}

export class InvalidStateError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TSRUN_INVALID_STATE', message, options);
  }
}

export class InvalidArgumentError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TSRUN_INVALID_ARGUMENT', message, options);
  }
}

/** No such image in the store, or no such manifest or blob in a registry. */
export class ImageNotFoundError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TSRUN_IMAGE_NOT_FOUND', message, options);
  }
}

/**
 * A config.json that cannot be used. Given a list, every problem found in it, reported at once
 * ("invalid config.json: a; b"); given one message (the file is missing, unreadable or not JSON),
 * that message as it is, and `problems` holds it alone.
 */
export class InvalidSpecError extends TsrunError {
  readonly problems: string[];
  constructor(problems: string[] | string, options?: { cause?: unknown }) {
    super('TSRUN_INVALID_SPEC', typeof problems === 'string' ? problems : `invalid config.json: ${problems.join('; ')}`, options);
    this.problems = typeof problems === 'string' ? [problems] : problems;
  }
}

// Built on first use, node:util and node:os loaded then (process.getBuiltinModule: Node >= 20.16,
// Bun): every CLI verb loads this module while few ever format an errno, and loading node:util
// costs Bun about 2 ms of CPU, getSystemErrorMap() about 2 ms more.
let systemErrors: Map<number, [string, string]> | undefined;
let errnoNames: Map<number, string> | undefined;

function errnoConstants(): Record<string, number> {
  return process.getBuiltinModule('node:os').constants.errno;
}

/** "ENOENT" for 2 (either sign); "E<n>" when neither libuv nor os.constants names it. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  systemErrors ??= process.getBuiltinModule('node:util').getSystemErrorMap();
  errnoNames ??= new Map<number, string>(Object.entries(errnoConstants()).map(([name, num]) => [num, name]));
  return systemErrors.get(-n)?.[0] ?? errnoNames.get(n) ?? `E${n}`;
}

/** libuv's lower-case strerror text for an errno (either sign), or undefined when it has none. */
export function errnoText(errno: number): string | undefined {
  systemErrors ??= process.getBuiltinModule('node:util').getSystemErrorMap();
  return systemErrors.get(-Math.abs(errno))?.[1];
}

export interface SyscallErrorOptions {
  path?: string;
  /** What was being done, put before the syscall: "setns back to the host network namespace". */
  context?: string;
  /** The strerror text, when libuv has none for this errno. */
  text?: string;
  cause?: unknown;
}

/**
 * A system call failed: `syscall` with a positive `errno` and its name (`errnoCode`, "ENOENT"),
 * and the path it acted on if any. The message is Go's os.PathError shape, as runc prints it:
 * "mkdirat /a/b: no such file or directory" ("<context>: " before it when one is given).
 */
export class SyscallError extends TsrunError {
  readonly syscall: string;
  readonly errno: number;
  readonly errnoCode: string;
  declare readonly path?: string;

  constructor(syscall: string, errno: number, options: SyscallErrorOptions = {}) {
    const n = Math.abs(errno);
    const code = errnoName(n);
    const text = errnoText(n) ?? options.text ?? (code === `E${n}` ? `unknown error ${n}` : code);
    const what = options.path !== undefined ? `${syscall} ${options.path}` : syscall;
    super('TSRUN_SYSCALL', `${options.context ? `${options.context}: ` : ''}${what}: ${text}`, { cause: options.cause });
    this.syscall = syscall;
    this.errno = n;
    this.errnoCode = code;
    if (options.path !== undefined) this.path = options.path;
  }

  /** From a raw errno (either sign: libseccomp and raw syscalls return -errno). */
  static fromErrno(syscall: string, errno: number, options?: SyscallErrorOptions): SyscallError {
    return new SyscallError(syscall, errno, options);
  }

  /**
   * From a Node errno exception (fs, net, child_process, the addon): its code, errno, syscall and
   * path, the original as the cause. `syscall` names the call when the exception does not.
   */
  static fromErrnoException(err: NodeJS.ErrnoException, options: Omit<SyscallErrorOptions, 'cause'> & { syscall?: string } = {}): SyscallError {
    const byName = err.code !== undefined ? (errnoConstants() as Record<string, number | undefined>)[err.code] : undefined;
    const errno = err.errno !== undefined && err.errno !== 0 ? Math.abs(err.errno) : (byName ?? 0);
    const { syscall, ...rest } = options;
    return new SyscallError(err.syscall ?? syscall ?? 'unknown', errno, {
      path: err.path,
      // Node's own words when libuv has none for this errno: "ENOENT: no such file …, open '/x'".
      text: /^E[A-Z0-9]+: ([^,]+)/.exec(err.message)?.[1],
      ...rest,
      cause: err,
    });
  }
}

/** The errno name of an error: a SyscallError's errnoCode, or a Node errno exception's code. */
export function errnoCodeOf(err: unknown): string | undefined {
  if (err instanceof SyscallError) return err.errnoCode;
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** A step of the container's set-up failed in the child, before execve. */
export class ChildSetupError extends TsrunError {
  readonly op: string;
  readonly errno: number;
  readonly syscallCode: string;
  constructor(op: string, errno: number, syscallCode: string, message: string) {
    super('TSRUN_CHILD_SETUP', message);
    this.op = op;
    this.errno = errno;
    this.syscallCode = syscallCode;
  }
}

export class CgroupError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TSRUN_CGROUP', message, options);
  }
}

export class HookError extends TsrunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TSRUN_HOOK', message, options);
  }
}

export class ImageError extends TsrunError {
  constructor(code: 'TSRUN_IMAGE' | 'TSRUN_IMAGE_DIGEST' | 'TSRUN_REGISTRY', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The root cause's message, for the one line an engine shows (runc PR#4928). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    let msg = err.message;
    let cause = (err as { cause?: unknown }).cause;
    while (cause instanceof Error) {
      if (!msg.includes(cause.message)) msg += `: ${cause.message}`;
      cause = (cause as { cause?: unknown }).cause;
    }
    return msg;
  }
  return String(err);
}
