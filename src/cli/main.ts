// tsrun's command line: argv → options → one library call → exit code. Each verb is loaded
// lazily (one bundle per verb: an engine starts the CLI for every operation). Errors are reported once, here: to the --log
// file (the last error line carries the root cause, as containerd reads it) and to stderr.
import { describeError } from '../errors.js';
import { enableCompileCache } from './compile-cache.js';
import { writeOut } from './output.js';
import { verbFunction } from './verb-module.js';
import { openLog, type Logger } from './log.js';
import { commandHelp, globalHelp, HelpTopicError, parseCommandLine, UsageError, type GlobalOptions, type ParsedCommandLine } from './parse.js';

import { engineName, RUNC_COMPATIBLE, VERSION } from './version.js';

export { VERSION };

export interface VerbContext {
  cl: ParsedCommandLine;
  log: Logger;
  /** The single positional container id most verbs take. */
  id: string;
}

export type Verb = (ctx: VerbContext) => Promise<number> | number;

const VERBS: Record<string, () => Promise<{ default: Verb }>> = {
  create: () => import('./verbs/create.js'),
  start: () => import('./verbs/start.js'),
  run: () => import('./verbs/run.js'),
  state: () => import('./verbs/state.js'),
  kill: () => import('./verbs/kill.js'),
  delete: () => import('./verbs/delete.js'),
  list: () => import('./verbs/list.js'),
  spec: () => import('./verbs/spec.js'),
  features: () => import('./verbs/features.js'),
  exec: () => import('./verbs/exec.js'),
  pause: () => import('./verbs/pause.js'),
  resume: () => import('./verbs/resume.js'),
  ps: () => import('./verbs/ps.js'),
  update: () => import('./verbs/update.js'),
  events: () => import('./verbs/events.js'),
  image: () => import('./verbs/image.js'),
  container: () => import('./verbs/container.js'),
  volume: () => import('./verbs/volume.js'),
  network: () => import('./verbs/network.js'),
};

// runc's first lines (go-runc's Version() reads the "… version " prefix, "commit: ", "spec: "), then
// the runc release whose CLI, words and exit codes this one matches, and the JS engine.
function versionText(): string {
  return `tsrun version ${VERSION}\ncommit: none\nspec: 1.3.0\nrunc: ${RUNC_COMPATIBLE}\nengine: ${engineName()}\n`;
}

/**
 * runc for an unknown command or help topic: urfave's ShowCommandHelp error goes through runc's
 * FatalWriter (an error line in the log, plus the raw words on stderr when the log is a file), exit 3.
 */
function noHelpTopic(global: GlobalOptions, topic: string): number {
  const log = openLog({ path: global.log, format: global.logFormat, debug: global.debug });
  const msg = `No help topic for '${topic}'\n`;
  log.error(msg);
  log.close();
  if (global.log) process.stderr.write(msg);
  return 3;
}

export async function main(argv: string[]): Promise<number> {
  let cl: ParsedCommandLine;
  try {
    cl = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof HelpTopicError) return noHelpTopic(err.global, err.topic);
    if (err instanceof UsageError) {
      process.stderr.write(`Incorrect Usage: ${err.message}\n\n${err.command ? commandHelp(err.command) : globalHelp(VERSION)}`);
      return 1;
    }
    process.stderr.write(`${describeError(err)}\n`);
    return 1;
  }
  if (cl.global.version) {
    writeOut(versionText());
    return 0;
  }
  if (!cl.command || cl.global.help || cl.command === 'help') {
    const topic = cl.command === 'help' ? cl.args[0] : undefined;
    let text: string;
    try {
      text = topic ? commandHelp(topic) : globalHelp(VERSION);
    } catch {
      return noHelpTopic(cl.global, topic!);
    }
    writeOut(text);
    return 0;
  }
  if (cl.help) {
    writeOut(commandHelp(cl.subcommand ? `${cl.command} ${cl.subcommand}` : cl.command));
    return 0;
  }
  const log = openLog({ path: cl.global.log, format: cl.global.logFormat, debug: cl.global.debug });
  // --debug (runc: logrus at debug level): the verb and its container, then its end. The library
  // adds its own steps (hooks, seccomp) through the same logger.
  const what = [cl.command, cl.subcommand, cl.args[0]].filter(Boolean).join(' ');
  const began = performance.now();
  if (cl.global.debug) {
    log.debug(`${what}: tsrun ${VERSION} (runc ${RUNC_COMPATIBLE}) on ${engineName()}, root ${cl.global.root}, pid ${process.pid}`);
    log.debug(`${what}: flags ${JSON.stringify(cl.flags)}`);
  }
  let code = 1;
  try {
    const load = VERBS[cl.command];
    if (!load) throw new UsageError(`"${cl.command}" is not implemented by this tsrun build`, cl.command);
    // Node's code cache for the verb bundle (src/cli/compile-cache.ts; nothing on Bun).
    enableCompileCache();
    const verb = verbFunction(await load());
    code = await verb({ cl, log, id: cl.args[0] ?? '' });
    return code;
  } catch (err) {
    const msg = describeError(err);
    log.error(msg);
    if (cl.global.log) process.stderr.write(`${msg}\n`);
    return 1;
  } finally {
    if (cl.global.debug) log.debug(`${what}: exit code ${code} after ${Math.round(performance.now() - began)} ms`);
    log.close();
  }
}

// The call's end, for Bun's entry (dist/bun/tsrun.mjs, scripts/build.mjs), which awaits it at its top
// level: Bun then runs the event loop inside the entry's load, and skips the full collection it
// runs when the loop still has work after the entry has been evaluated (about 3 ms of CPU for
// run, create and exec). Node runs this bundle as it is.
export const done = main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
