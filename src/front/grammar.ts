// Docker's command-line grammar for the management commands (`tsrun container …`, `tsrun volume
// …`), as the docker CLI reads it (cobra over spf13/pflag): long flags `--name v` / `--name=v`,
// short flags `-e v` / `-ev` / `-e=v`, short booleans combined (`-it`, `-dit`, the last one of a
// group may take a value: `-dp 80:80`), `--flag=false` for booleans, `--` ends the flags, and for
// run/create/exec the flags stop at the first positional (the image or container: what follows is
// the command's). Errors are Docker's words plus a "did you mean" for a near miss. Pure: no I/O.
import { InvalidArgumentError } from '../errors.js';

export type FrontFlagType = 'bool' | 'string' | 'list' | 'int';

export interface FrontFlag {
  name: string;
  short?: string;
  type: FrontFlagType;
  usage: string;
  /** Other long names (docker's --net for --network, --time for --timeout). */
  aliases?: string[];
  default?: string | boolean | number;
  /** The placeholder shown in help ("string", "list", "int"). */
  value?: string;
}

export interface FrontCommand {
  name: string;
  aliases?: string[];
  usage: string;
  /** "[OPTIONS] IMAGE [COMMAND] [ARG...]" */
  args: string;
  flags: FrontFlag[];
  /** Flags stop at the first positional (run, create, exec). */
  stopAtFirst?: boolean;
  min?: number;
  max?: number;
  /** Not listed in help (the monitor's own create step). */
  hidden?: boolean;
}

export type FrontValue = string | boolean | number | string[];

export interface FrontParsed {
  flags: Record<string, FrontValue>;
  args: string[];
  help: boolean;
}

/** A command line the grammar refuses: one line, and the command whose --help to point at. */
export class FrontUsageError extends InvalidArgumentError {
  readonly command: string;
  constructor(message: string, command: string) {
    super(message);
    this.command = command;
  }
}

/** Edit distance with adjacent transpositions (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidates near `word` (distance ≤ 2, or a prefix of it), nearest first. */
export function suggest(word: string, candidates: readonly string[]): string[] {
  return candidates
    .map((c) => ({ c, d: c.startsWith(word) && word.length >= 2 ? 0 : editDistance(word, c) }))
    .filter((x) => x.d <= Math.min(2, Math.max(1, Math.floor(x.c.length / 3))) || x.d === 0)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .map((x) => x.c);
}

const HELP: FrontFlag = { name: 'help', type: 'bool', usage: 'Print usage' };

function setFlag(out: Record<string, FrontValue>, f: FrontFlag, raw: string, shown: string, cmd: string): void {
  switch (f.type) {
    case 'bool': {
      const v = { true: true, '1': true, t: true, T: true, TRUE: true, True: true, false: false, '0': false, f: false, F: false, FALSE: false, False: false }[
        raw
      ];
      if (v === undefined) throw new FrontUsageError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`, cmd);
      out[f.name] = v;
      return;
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw))
        throw new FrontUsageError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`, cmd);
      out[f.name] = Number(raw);
      return;
    }
    case 'list': {
      const prev = out[f.name];
      out[f.name] = Array.isArray(prev) ? [...prev, raw] : [raw];
      return;
    }
    case 'string':
      out[f.name] = raw;
  }
}

/** Parses argv (after the subcommand's name) against cmd's flags. */
export function parseFront(cmd: FrontCommand, argv: readonly string[], fullName = cmd.name): FrontParsed {
  const flags: Record<string, FrontValue> = {};
  for (const f of cmd.flags) if (f.default !== undefined) flags[f.name] = f.default;
  const all = [...cmd.flags, { ...HELP, short: cmd.flags.some((f) => f.short === 'h') ? undefined : 'h' }];
  const byLong = new Map<string, FrontFlag>();
  const byShort = new Map<string, FrontFlag>();
  for (const f of all) {
    byLong.set(f.name, f);
    for (const a of f.aliases ?? []) byLong.set(a, f);
    if (f.short) byShort.set(f.short, f);
  }
  const args: string[] = [];
  let k = 0;
  let help = false;
  while (k < argv.length) {
    const a = argv[k++];
    if (a === '--') {
      args.push(...argv.slice(k));
      break;
    }
    if (a.length < 2 || a[0] !== '-') {
      args.push(a);
      if (cmd.stopAtFirst) {
        args.push(...argv.slice(k));
        break;
      }
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const f = byLong.get(name);
      if (!f) {
        const near = suggest(
          name,
          all.flatMap((x) => [x.name, ...(x.aliases ?? [])]),
        );
        throw new FrontUsageError(`unknown flag: --${name}${near.length ? ` (did you mean --${near[0]}?)` : ''}`, fullName);
      }
      if (f === byLong.get('help')) {
        help = true;
        continue;
      }
      let value = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (f.type === 'bool') {
        setFlag(flags, f, value ?? 'true', `--${name}`, fullName);
        continue;
      }
      if (value === undefined) {
        if (k >= argv.length) throw new FrontUsageError(`flag needs an argument: --${name}`, fullName);
        value = argv[k++];
      }
      setFlag(flags, f, value, `--${name}`, fullName);
      continue;
    }
    // A group of short flags: each a boolean, but one that takes a value ends the group.
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      const f = byShort.get(c);
      if (!f) throw new FrontUsageError(`unknown shorthand flag: '${c}' in ${a}`, fullName);
      if (f.name === 'help') {
        help = true;
        continue;
      }
      const shown = `-${c}, --${f.name}`;
      if (f.type === 'bool') {
        if (a[j + 1] === '=') {
          setFlag(flags, f, a.slice(j + 2), shown, fullName);
          break;
        }
        setFlag(flags, f, 'true', shown, fullName);
        continue;
      }
      let value = a.slice(j + 1);
      if (value.startsWith('=')) value = value.slice(1);
      else if (value === '') {
        if (k >= argv.length) throw new FrontUsageError(`flag needs an argument: '${c}' in -${c}`, fullName);
        value = argv[k++];
      }
      setFlag(flags, f, value, shown, fullName);
      break;
    }
  }
  if (!help) {
    const n = args.length;
    const plural = (m: number) => `${m} argument${m === 1 ? '' : 's'}`;
    if (cmd.min !== undefined && cmd.max !== undefined && cmd.min === cmd.max && n !== cmd.min) {
      throw new FrontUsageError(`"tsrun ${fullName}" requires exactly ${plural(cmd.min)}.`, fullName);
    }
    if (cmd.min !== undefined && n < cmd.min) throw new FrontUsageError(`"tsrun ${fullName}" requires at least ${plural(cmd.min)}.`, fullName);
    if (cmd.max !== undefined && n > cmd.max) {
      throw new FrontUsageError(
        cmd.max === 0 ? `"tsrun ${fullName}" accepts no arguments.` : `"tsrun ${fullName}" accepts at most ${plural(cmd.max)}.`,
        fullName,
      );
    }
  }
  return { flags, args, help };
}

/** Picks a subcommand by name or alias, or throws Docker's words with a "did you mean". */
export function findFront(group: string, commands: readonly FrontCommand[], name: string): FrontCommand {
  const c = commands.find((x) => x.name === name || x.aliases?.includes(name));
  if (c) return c;
  const near = suggest(
    name,
    commands.filter((x) => !x.hidden).flatMap((x) => [x.name, ...(x.aliases ?? [])]),
  );
  throw new FrontUsageError(`'${group} ${name}' is not a tsrun command${near.length ? ` (did you mean '${group} ${near[0]}'?)` : ''}`, group);
}

function flagColumn(f: FrontFlag): string {
  const value = f.type === 'bool' ? '' : ` ${f.value ?? f.type}`;
  return `${f.short ? `-${f.short}, ` : '    '}--${f.name}${value}`;
}

/** Help for one subcommand, in Docker's layout. */
export function frontHelp(fullName: string, cmd: FrontCommand): string {
  const rows = cmd.flags.map((f) => [flagColumn(f), f.usage + (f.default !== undefined && f.type !== 'bool' ? ` (default ${JSON.stringify(f.default)})` : '')]);
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  const aliases = cmd.aliases?.length ? `\nAliases:\n  ${[cmd.name, ...cmd.aliases].map((a) => `tsrun ${fullName.replace(/\S+$/, a)}`).join(', ')}\n` : '';
  return (
    `\nUsage:  tsrun ${fullName} ${cmd.args}\n\n${cmd.usage}\n${aliases}` +
    (rows.length ? `\nOptions:\n${rows.map(([a, b]) => `  ${a.padEnd(w)}   ${b}`).join('\n')}\n` : '')
  );
}

/** Help for a management command group. */
export function groupHelp(group: string, usage: string, commands: readonly FrontCommand[]): string {
  const shown = commands.filter((c) => !c.hidden);
  const w = Math.max(...shown.map((c) => c.name.length));
  return `\nUsage:  tsrun ${group} COMMAND\n\n${usage}\n\nCommands:\n${shown.map((c) => `  ${c.name.padEnd(w)}   ${c.usage}`).join('\n')}\n\nRun 'tsrun ${group} COMMAND --help' for more information on a command.\n`;
}
