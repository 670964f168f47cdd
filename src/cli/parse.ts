// argv → { global options, command, flags, args } with the semantics of runc's urfave/cli over
// Go's flag package: `-name` and `--name` are the same flag;
// values as `--flag=v` or `--flag v`; a bool flag takes a value only through `=`; flags may
// follow positional arguments (except after a command's StopOnNthArg); `--` ends flag parsing.
// Error texts are Go's (flag.go failf), because users and engines see them:
//   flag provided but not defined: -x / flag needs an argument: -bundle /
//   invalid boolean value "maybe" for -force: parse error
// No library: this runs on every CLI invocation.

import { InvalidArgumentError } from '../errors.js';
import { COMMANDS, GLOBAL_FLAGS, findCommand, findSubcommand, type CommandSpec, type FlagSpec } from './commands.js';

export type FlagValue = string | boolean | number | string[];

export interface GlobalOptions {
  debug: boolean;
  log?: string;
  logFormat: 'text' | 'json';
  root: string;
  systemdCgroup: boolean;
  /** runc's --rootless: "true", "false" or "auto". */
  rootless: 'true' | 'false' | 'auto';
  imageRoot?: string;
  help: boolean;
  version: boolean;
}

export interface ParsedCommandLine {
  global: GlobalOptions;
  command: string | undefined;
  /** Canonical flag name → value; flags with a default are always present. */
  flags: Record<string, FlagValue>;
  args: string[];
  /** -h/--help was given to the command. */
  help: boolean;
  /** For a command group (`image`): the subcommand's canonical name. */
  subcommand?: string;
  /** The arguments after `--` (also at the end of `args`), when `--` was given. */
  rest?: string[];
}

/**
 * An unknown command or help topic: runc (urfave/cli's ShowCommandHelp) exits 3 and reports
 * "No help topic for 'x'" through its logger, after the global options (--log) took effect.
 */
export class HelpTopicError extends Error {
  readonly topic: string;
  readonly global: GlobalOptions;
  constructor(topic: string, global: GlobalOptions) {
    super(`No help topic for '${topic}'`);
    this.topic = topic;
    this.global = global;
  }
}

/** A command line the grammar rejects; the CLI prints it with the command's help (runc "Incorrect Usage"). */
export class UsageError extends InvalidArgumentError {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

const GO_BOOL: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

// Go time.ParseDuration syntax: "300ms", "1h5m", "1.5s", "0".
const DURATION = /^[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

function index(flags: FlagSpec[]): Map<string, FlagSpec> {
  const m = new Map<string, FlagSpec>();
  for (const f of flags) {
    m.set(f.name, f);
    for (const a of f.aliases ?? []) m.set(a, f);
  }
  return m;
}

const GLOBAL_INDEX = index(GLOBAL_FLAGS);
const COMMAND_INDEX = new Map<CommandSpec, Map<string, FlagSpec>>();
function commandIndex(c: CommandSpec): Map<string, FlagSpec> {
  let m = COMMAND_INDEX.get(c);
  if (!m) {
    m = index([...c.flags, { name: 'help', aliases: ['h'], type: 'bool', usage: 'show help' }]);
    COMMAND_INDEX.set(c, m);
  }
  return m;
}

function setValue(out: Record<string, FlagValue>, f: FlagSpec, raw: string, given: string, cmd?: string): void {
  switch (f.type) {
    case 'bool': {
      const v = GO_BOOL[raw];
      if (v === undefined) throw new UsageError(`invalid boolean value ${JSON.stringify(raw)} for -${given}: parse error`, cmd);
      out[f.name] = v;
      return;
    }
    case 'int': {
      // strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0o/0 octal, 0b binary.
      const m = /^([+-]?)(0x[0-9a-f]+|0o[0-7]+|0b[01]+|0[0-7]*|[1-9]\d*)$/i.exec(raw);
      let n = NaN;
      if (m) {
        const body = m[2];
        n = /^0[0-7]+$/.test(body) ? parseInt(body, 8) : Number(body);
        if (m[1] === '-') n = -n;
      }
      if (!Number.isSafeInteger(n)) throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${given}: parse error`, cmd);
      out[f.name] = n;
      return;
    }
    case 'duration':
      if (!DURATION.test(raw)) throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${given}: parse error`, cmd);
      out[f.name] = raw;
      return;
    case 'int64Slice':
      if (!/^[+-]?\d+$/.test(raw)) throw new UsageError(`invalid value ${JSON.stringify(raw)} for flag -${given}: parse error`, cmd);
    // falls through
    case 'stringSlice': {
      // runc sets DisableSliceFlagSeparator: repeat the flag, commas stay in the value.
      const prev = out[f.name];
      out[f.name] = Array.isArray(prev) ? [...prev, raw] : [raw];
      return;
    }
    case 'string':
      out[f.name] = raw;
  }
}

/**
 * Parse flags from argv[start…] against `flags`. Stops at the first positional when
 * `stopAtFirst` (global flags: the command name follows), or after `stopOnNthArg` positionals.
 * Returns the index where parsing stopped and the positionals seen.
 */
function parseFlags(
  argv: string[],
  start: number,
  flags: Map<string, FlagSpec>,
  out: Record<string, FlagValue>,
  opts: { stopAtFirst?: boolean; stopOnNthArg?: number; command?: string },
): { next: number; args: string[]; rest?: string[] } {
  const args: string[] = [];
  let k = start;
  while (k < argv.length) {
    const a = argv[k];
    if (a === '--') {
      const rest = argv.slice(k + 1);
      args.push(...rest);
      return { next: argv.length, args, rest };
    }
    if (a.length < 2 || a[0] !== '-') {
      if (opts.stopAtFirst) return { next: k, args };
      args.push(a);
      k++;
      if (opts.stopOnNthArg !== undefined && args.length >= opts.stopOnNthArg) {
        args.push(...argv.slice(k));
        return { next: argv.length, args };
      }
      continue;
    }
    let body = a.slice(a[1] === '-' ? 2 : 1);
    if (body.length === 0 || body[0] === '-' || body[0] === '=') throw new UsageError(`bad flag syntax: ${a}`, opts.command);
    let value: string | undefined;
    const eq = body.indexOf('=');
    if (eq >= 0) {
      value = body.slice(eq + 1);
      body = body.slice(0, eq);
    }
    const f = flags.get(body);
    if (!f) throw new UsageError(`flag provided but not defined: -${body}`, opts.command);
    k++;
    if (f.type === 'bool') {
      setValue(out, f, value ?? 'true', body, opts.command);
      continue;
    }
    if (value === undefined) {
      if (k >= argv.length) throw new UsageError(`flag needs an argument: -${body}`, opts.command);
      value = argv[k++];
    }
    setValue(out, f, value, body, opts.command);
  }
  return { next: k, args };
}

function defaults(flags: FlagSpec[]): Record<string, FlagValue> {
  const out: Record<string, FlagValue> = {};
  for (const f of flags) if (f.default !== undefined) out[f.name] = f.default;
  return out;
}

/** runc's default --root: /run/runc, or $XDG_RUNTIME_DIR/runc for an unprivileged user. */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, euid = process.geteuid?.() ?? 0): string {
  if (euid !== 0 && env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/tsrun`;
  return '/run/tsrun';
}

/** runc checkArgs wording: `runc: "state" requires exactly 1 argument(s)`. */
function checkArgs(c: CommandSpec, args: string[]): void {
  const { exact, min, max } = c.args;
  const say = (what: string, n: number) => new UsageError(`tsrun: ${JSON.stringify(c.name)} requires ${what} ${n} argument(s)`, c.name);
  if (exact !== undefined && args.length !== exact) throw say('exactly', exact);
  if (min !== undefined && args.length < min) throw say('a minimum of', min);
  if (max !== undefined && args.length > max) throw say('a maximum of', max);
}

/** Parse a whole command line (process.argv.slice(2)). Throws UsageError on bad input. */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedCommandLine {
  const g = defaults(GLOBAL_FLAGS);
  const { next } = parseFlags(argv, 0, GLOBAL_INDEX, g, { stopAtFirst: true });
  const logFormat = g['log-format'] as string;
  // runc main.go: "invalid log-format: xml".
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`invalid log-format: ${logFormat}`);
  const rootlessRaw = g.rootless as string;
  const rootless = rootlessRaw === 'auto' ? 'auto' : GO_BOOL[rootlessRaw];
  if (rootless === undefined) throw new UsageError(`invalid value for --rootless: ${JSON.stringify(rootlessRaw)}`);
  const global: GlobalOptions = {
    debug: g.debug === true,
    logFormat,
    root: (g.root as string | undefined) || defaultRoot(env),
    systemdCgroup: g['systemd-cgroup'] === true,
    rootless: rootless === 'auto' ? 'auto' : rootless ? 'true' : 'false',
    help: g.help === true,
    version: g.version === true,
  };
  if (g.log !== undefined && g.log !== '') global.log = g.log as string;
  if (g['image-root'] !== undefined && g['image-root'] !== '') global.imageRoot = g['image-root'] as string;

  // runc (urfave/cli) handles -v/--version and -h/--help before it looks at the command: `runc
  // --version x` prints the version, `runc -h nosuch` the global help.
  if (next >= argv.length || global.version || global.help) return { global, command: undefined, flags: {}, args: [], help: false };
  const name = argv[next];
  const spec = findCommand(name);
  // urfave's wording for an unknown command, and its exit code 3.
  if (!spec) throw new HelpTopicError(name, global);
  if (spec.ownGrammar) return { global, command: spec.name, flags: {}, args: argv.slice(next + 1), help: false };
  if (spec.subcommands) return parseSubcommand(argv, next + 1, spec, global);
  if (spec.name === 'run') {
    // `run --image` in Docker's grammar (issue 17): without `--` after it, the first argument
    // starts the command (flags after it are the command's); the id is --name's or generated.
    // With `--`, the old form: `run --image IMAGE [flags] [ID] -- CMD…`.
    const docker = dockerRunArgs(argv, next + 1, spec);
    if (docker) return { global, command: spec.name, flags: docker.flags, args: docker.command, help: false, rest: docker.command };
  }
  const flags = defaults(spec.flags);
  const { args, rest } = parseFlags(argv, next + 1, commandIndex(spec), flags, { stopOnNthArg: spec.stopOnNthArg, command: spec.name });
  const help = flags.help === true;
  delete flags.help;
  if (spec.name === 'run' && !help) {
    if (flags.image === undefined) {
      // Without --image, `run` is runc's: an image-only flag is an undefined flag, reported as
      // runc reports it (parsing again without them throws at the first one).
      if (spec.flags.some((f) => f.imageOnly && flags[f.name] !== undefined)) {
        parseFlags(argv, next + 1, index(spec.flags.filter((f) => !f.imageOnly)), defaults(spec.flags), { command: spec.name });
      }
    } else {
      const ids = args.length - (rest?.length ?? 0);
      if (ids > 1) throw new UsageError('tsrun: "run --image" takes at most one container id; put the command after --', spec.name);
      return { global, command: spec.name, flags, args, help, ...(rest ? { rest } : {}) };
    }
  }
  if (!help) checkArgs(spec, args);
  return { global, command: spec.name, flags, args, help, ...(rest ? { rest } : {}) };
}

/** `run --image IMAGE [flags] COMMAND [ARG…]` (no `--` after COMMAND): its flags and command, else undefined. */
function dockerRunArgs(argv: string[], at: number, spec: CommandSpec): { flags: Record<string, FlagValue>; command: string[] } | undefined {
  const flags = defaults(spec.flags);
  let parsed;
  try {
    parsed = parseFlags(argv, at, commandIndex(spec), flags, { stopAtFirst: true, command: spec.name });
  } catch {
    return undefined; // the full parse reports it
  }
  const { next, rest } = parsed;
  if (flags.image === undefined || flags.help === true || rest || next >= argv.length || argv.indexOf('--', next) >= 0) return undefined;
  delete flags.help;
  return { flags, command: argv.slice(next) };
}

/** `tsrun image <sub> [flags] [args]`: the group name, then the subcommand and its own flags. */
function parseSubcommand(argv: string[], at: number, group: CommandSpec, global: GlobalOptions): ParsedCommandLine {
  const name = argv[at];
  if (name === undefined || name === '-h' || name === '--help' || name === '-help' || name === 'help') {
    return { global, command: group.name, flags: {}, args: [], help: true };
  }
  const sub = findSubcommand(group, name);
  if (!sub) throw new UsageError(`No help topic for '${group.name} ${name}'`, group.name);
  const full = `${group.name} ${sub.name}`;
  const flags = defaults(sub.flags);
  const { args, rest } = parseFlags(argv, at + 1, commandIndex(sub), flags, { command: full });
  const help = flags.help === true;
  delete flags.help;
  if (!help) checkArgs({ ...sub, name: full }, args);
  return { global, command: group.name, subcommand: sub.name, flags, args, help, ...(rest ? { rest } : {}) };
}

function flagLine(f: FlagSpec): [string, string] {
  const value = f.type === 'bool' ? '' : ' value';
  const names = [f.name, ...(f.aliases ?? [])].map((n) => (n.length === 1 ? `-${n}` : `--${n}`) + value).join(', ');
  const def = f.default !== undefined && f.type !== 'bool' ? ` (default: ${JSON.stringify(f.default)})` : '';
  return [names, f.usage + (f.usage.includes('(default') ? '' : def)];
}

function table(rows: [string, string][]): string {
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `   ${a.padEnd(w)}  ${b}`).join('\n');
}

/** urfave-style help for one command. */
export function commandHelp(name: string): string {
  const c = findCommand(name);
  if (!c) throw new UsageError(`No help topic for '${name}'`);
  const flags = c.flags.filter((f) => !f.hidden);
  const full = name.includes(' ') ? `${name.slice(0, name.indexOf(' '))} ${c.name}` : c.name;
  let out = `NAME:\n   tsrun ${full} - ${c.usage}\n\nUSAGE:\n   tsrun ${full}${flags.length ? ' [command options]' : ''}${c.argsUsage ? ` ${c.argsUsage}` : ''}\n`;
  if (c.subcommands) out += `\nCOMMANDS:\n${table(c.subcommands.map((x): [string, string] => [[x.name, ...(x.aliases ?? [])].join(', '), x.usage]))}\n`;
  if (flags.length) out += `\nOPTIONS:\n${table([...flags.map(flagLine), ['--help, -h', 'show help']])}\n`;
  return out;
}

/** urfave-style help for the whole program. */
export function globalHelp(version: string): string {
  const cmds = COMMANDS.filter((c) => c.name !== 'help');
  return (
    'NAME:\n   tsrun - Open Container Initiative runtime in TypeScript\n\n' +
    'USAGE:\n   tsrun [global options] command [command options] [arguments...]\n\n' +
    `VERSION:\n   ${version}\n\n` +
    `COMMANDS:\n${table([...cmds.map((c): [string, string] => [c.name, c.usage]), ['help, h', 'Shows a list of commands or help for one command']])}\n\n` +
    `GLOBAL OPTIONS:\n${table(GLOBAL_FLAGS.filter((f) => !f.hidden).map(flagLine))}\n`
  );
}
