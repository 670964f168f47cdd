// Typed errors with stable codes. Messages are lowercase and factual; context is added by
// wrapping (`new TsrunError(code, 'create container x', { cause })`), never by logging twice.
// Where engines match strings, the words are runc's (libcontainer/error.go):
// "container does not exist", "container not running", "container with id exists".

export type ErrorCode =
  | 'TSRUN_NOT_FOUND'
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
  | 'TSRUN_SYSTEM'
  | 'TSRUN_UNSUPPORTED';

export class TsrunError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

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

/** Every problem found in a config.json, reported at once. */
export class InvalidSpecError extends TsrunError {
  readonly problems: string[];
  constructor(problems: string[], options?: { cause?: unknown }) {
    super('TSRUN_INVALID_SPEC', `invalid config.json: ${problems.join('; ')}`, options);
    this.problems = problems;
  }
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
