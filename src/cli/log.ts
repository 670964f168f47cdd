// The CLI's logger, in the two formats engines read:
//  - text, logrus TextFormatter: time="2026-01-02T03:04:05Z" level=error msg="..."
//  - json, logrus JSONFormatter: {"level":"error","msg":"...","time":"<RFC3339>"}
// containerd (process/utils.go getLastRuntimeError) decodes every line of --log into
// {Level string; Msg string; Time time.Time} and reports the last "error" msg, so `level` must be
// a string and `time` RFC3339. runc opens the file O_CREAT|O_WRONLY|O_APPEND, mode 0644
// (main.go configLogrus); writes are synchronous so lines survive process.exit().

import { closeSync, constants, openSync, writeSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warning' | 'error' | 'fatal';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  fatal(msg: string): void;
  close(): void;
}

export interface LogOptions {
  /** --log FILE; without it, text lines go to stderr. */
  path?: string;
  format?: 'text' | 'json';
  debug?: boolean;
  /** For tests: the clock. */
  now?: () => Date;
}

/** RFC3339 with second precision and "Z", as logrus' default time format. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// logrus TextFormatter quotes a value when it has anything outside [A-Za-z0-9-._/@^+], using
// Go's %q; JSON string escaping matches %q for everything a log message contains in practice.
function textValue(s: string): string {
  return s !== '' && /^[A-Za-z0-9\-._/@^+]+$/.test(s) ? s : JSON.stringify(s);
}

export function formatLine(format: 'text' | 'json', level: Level, msg: string, time: Date): string {
  if (format === 'json') return `${JSON.stringify({ level, msg, time: rfc3339(time) })}\n`;
  return `time="${rfc3339(time)}" level=${level} msg=${textValue(msg)}\n`;
}

export function openLog(opts: LogOptions = {}): Logger {
  const format = opts.format ?? 'text';
  const now = opts.now ?? (() => new Date());
  let fd = 2;
  let own = false;
  if (opts.path) {
    // libuv opens with O_CLOEXEC already. O_APPEND: several tsrun processes (create, then start, kill…) share containerd's log.json.
    fd = openSync(opts.path, constants.O_CREAT | constants.O_WRONLY | constants.O_APPEND, 0o644);
    own = true;
  }
  const write = (level: Level, msg: string): void => {
    try {
      writeSync(fd, formatLine(format, level, msg, now()));
    } catch {
      // A full disk or a closed stderr must not turn a logged error into a crash.
    }
  };
  return {
    debug: (m) => {
      if (opts.debug) write('debug', m);
    },
    info: (m) => write('info', m),
    warn: (m) => write('warning', m),
    error: (m) => write('error', m),
    fatal: (m) => write('fatal', m),
    close: () => {
      if (own) {
        own = false;
        closeSync(fd);
      }
    },
  };
}
