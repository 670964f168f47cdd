// `tsrun container run|create|start|ls|ps|logs|stop|kill|wait|rm|inspect|exec|prune`: Docker's
// grammar (src/front/grammar.ts) and exit codes: 125 when tsrun fails, 126 when the command cannot
// be invoked, 127 when it is not found, else the container's status. The lifecycle is in
// src/front/containers.ts; this file reads argv and prints.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describeError } from '../../errors.js';
import { CONTAINER_COMMANDS } from '../../front/commands.js';
import {
  createExitCode,
  createFront,
  createStep,
  frontState,
  restartFront,
  inspectFront,
  killFront,
  listFront,
  logFileOf,
  pruneFront,
  readExit,
  readFront,
  removeFront,
  resolveContainer,
  startFront,
  stopFront,
  waitFront,
  type FrontCreateOptions,
  type FrontRoots,
} from '../../front/containers.js';
import { findFront, frontHelp, FrontUsageError, groupHelp, parseFront, type FrontParsed } from '../../front/grammar.js';
import { followLogs, formatEntry, readAllLogs } from '../../front/logs.js';
import { MonitorCreateError } from '../../front/monitor.js';
import { startFrontExec } from '../../front/exec.js';
import { attachFront, type AttachSession } from '../../front/attach.js';
import { closeQuietly } from '../../container/process-control.js';
import { waitForeground } from '../foreground.js';
import { callerEnv, parseEnvFile } from '../../front/options.js';
import type { FrontRecord } from '../../front/store.js';
import { containerDirOf } from '../../image/image-rootfs.js';
import { createProgressRenderer, formatBytes } from '../../image/progress.js';
import type { VerbContext } from '../main.js';
import { table, writeOut } from '../output.js';
import { imageRootOf } from './image.js';

const GROUP_USAGE = 'Manage containers (Docker-style, daemonless)';

type Flags = FrontParsed['flags'];
const list = (f: Flags, k: string): string[] => (Array.isArray(f[k]) ? (f[k] as string[]) : []);
const str = (f: Flags, k: string): string | undefined => (typeof f[k] === 'string' ? (f[k] as string) : undefined);
const num = (f: Flags, k: string): number | undefined => (typeof f[k] === 'number' ? (f[k] as number) : undefined);

/** An error the verb reports and its exit code. */
class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function report(ctx: VerbContext, msg: string): void {
  if (ctx.cl.global.log || ctx.cl.global.logFormat === 'json') ctx.log.error(msg);
  if (!ctx.cl.global.log) {
    if (ctx.cl.global.logFormat !== 'json') process.stderr.write(`tsrun: ${msg}\n`);
  } else process.stderr.write(`tsrun: ${msg}\n`);
}

export default async function container(ctx: VerbContext): Promise<number> {
  return runGroup(ctx, 'container', GROUP_USAGE, CONTAINER_COMMANDS, dispatch);
}

/** The shared shape of a management command: help, the subcommand, its grammar, exit codes. */
export async function runGroup(
  ctx: VerbContext,
  group: string,
  usage: string,
  commands: typeof CONTAINER_COMMANDS,
  run: (ctx: VerbContext, sub: string, p: FrontParsed, roots: FrontRoots) => Promise<number>,
): Promise<number> {
  const argv = ctx.cl.args;
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    writeOut(groupHelp(group, usage, commands));
    return 0;
  }
  try {
    const cmd = findFront(group, commands, argv[0]);
    const full = `${group} ${cmd.name}`;
    const p = parseFront(cmd, argv.slice(1), full);
    if (p.help) {
      writeOut(frontHelp(full, cmd));
      return 0;
    }
    const roots: FrontRoots = { root: ctx.cl.global.root, imageRoot: imageRootOf(ctx.cl), systemdCgroup: ctx.cl.global.systemdCgroup, logger: ctx.log };
    return await run(ctx, cmd.name, p, roots);
  } catch (err) {
    if (err instanceof FrontUsageError) {
      process.stderr.write(`tsrun: ${err.message}\nSee 'tsrun ${err.command} --help'.\n`);
      return 125;
    }
    if (err instanceof Exit) {
      if (err.message) report(ctx, err.message);
      return err.code;
    }
    if (err instanceof MonitorCreateError) {
      process.stderr.write(`tsrun: ${err.message.replace(/^tsrun: /, '')}\n`);
      return err.exitCode;
    }
    report(ctx, describeError(err));
    return createExitCode(err);
  }
}

function createOptions(ctx: VerbContext, p: FrontParsed, roots: FrontRoots, attach: boolean): FrontCreateOptions {
  const f = p.flags;
  const pull = str(f, 'pull') ?? 'missing';
  if (pull !== 'always' && pull !== 'missing' && pull !== 'never')
    throw new FrontUsageError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, 'container run');
  const env: string[] = [];
  // A bare NAME line takes the user's value: bin/tsrun's caller's environment, without what the
  // launcher set for its JS engine (callerEnv). A bare `-e NAME` is looked up the same way, later
  // (prepareImageContainer's hostEnv).
  const userEnv = callerEnv();
  for (const file of list(f, 'env-file')) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Exit(125, `open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    env.push(...parseEnvFile(text, userEnv, file));
  }
  env.push(...list(f, 'env'));
  const quiet = f.quiet === true;
  const renderer = quiet ? undefined : createProgressRenderer(process.stderr, 'auto');
  return {
    ...roots,
    image: p.args[0],
    command: p.args.slice(1),
    name: str(f, 'name'),
    entrypoint: str(f, 'entrypoint'),
    env,
    volumes: list(f, 'volume'),
    mounts: list(f, 'mount'),
    tmpfs: list(f, 'tmpfs'),
    workdir: str(f, 'workdir'),
    user: str(f, 'user'),
    hostname: str(f, 'hostname'),
    tty: f.tty === true,
    interactive: f.interactive === true,
    readOnly: f['read-only'] === true,
    rm: f.rm === true,
    init: f.init === true,
    privileged: f.privileged === true,
    capAdd: list(f, 'cap-add'),
    capDrop: list(f, 'cap-drop'),
    securityOpt: list(f, 'security-opt'),
    stopSignal: str(f, 'stop-signal'),
    stopTimeout: num(f, 'stop-timeout'),
    networks: list(f, 'network'),
    networkAliases: list(f, 'network-alias'),
    publish: list(f, 'publish'),
    publishAll: f['publish-all'] === true,
    addHost: list(f, 'add-host'),
    dns: list(f, 'dns'),
    dnsSearch: list(f, 'dns-search'),
    dnsOptions: list(f, 'dns-option'),
    labels: list(f, 'label'),
    logOpt: list(f, 'log-opt'),
    memory: str(f, 'memory'),
    cpus: str(f, 'cpus'),
    pidsLimit: num(f, 'pids-limit'),
    pull,
    pullOptions: { creds: str(f, 'creds'), insecure: f.insecure === true, platform: str(f, 'platform') },
    onEvent: (e) => {
      if (e.type !== 'unpack') renderer?.onProgress(e);
    },
    attach,
    cliGlobals: cliGlobals(ctx),
  };
}

function cliGlobals(ctx: VerbContext): string[] {
  return ctx.cl.global.debug ? ['--debug'] : [];
}

function writeFrame(stream: 1 | 2, data: Buffer): void {
  (stream === 2 ? process.stderr : process.stdout).write(data);
}

/** Docker's default detach keys, ctrl-p ctrl-q (read from a terminal in raw mode). */
const DETACH = Buffer.from([0x10, 0x11]);

/**
 * An attached session on this terminal: stdin to the container (raw for a tty; ctrl-p ctrl-q
 * detaches), signals proxied for a container without a tty, and the container's exit status (0
 * after a detach, as Docker's).
 */
async function attachTerminal(roots: FrontRoots, rec: FrontRecord, s: AttachSession, o: { stdin: boolean; sigProxy: boolean }): Promise<number> {
  const stdin = process.stdin as NodeJS.ReadStream;
  const raw = o.stdin && rec.tty && stdin.isTTY === true;
  let last = -1;
  const onInput = (d: Buffer) => {
    if (raw) {
      const at = last === DETACH[0] && d[0] === DETACH[1] ? 0 : d.indexOf(DETACH);
      if (at >= 0) {
        s.detach();
        return;
      }
      last = d[d.length - 1] ?? -1;
    }
    s.write(d);
  };
  const onEnd = () => s.endInput();
  const forward = (sig: NodeJS.Signals) => {
    killFront(roots, rec, sig).catch(() => {});
  };
  const proxy = o.sigProxy && !rec.tty;
  if (o.stdin) {
    if (raw) stdin.setRawMode(true);
    stdin.on('data', onInput);
    stdin.on('end', onEnd);
  }
  if (proxy) for (const sig of PROXIED) process.on(sig, forward);
  try {
    const status = await s.closed;
    return status ?? 0;
  } finally {
    if (o.stdin) {
      stdin.off('data', onInput);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode(false);
      // A stdin that has not ended (a terminal, an open pipe) would keep this process alive.
      stdin.destroy();
    }
    if (proxy) for (const sig of PROXIED) process.off(sig, forward);
  }
}

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

async function runVerb(ctx: VerbContext, p: FrontParsed, roots: FrontRoots): Promise<number> {
  const detach = p.flags.detach === true;
  const o = createOptions(ctx, p, roots, !detach);
  const c = await createFront(o);
  if (detach) {
    await startFront(roots, c.rec);
    c.monitor.release();
    writeOut(`${c.rec.id}\n`);
    return 0;
  }
  // Attached: the monitor pumps the terminal (or the container has this process's stdio); this
  // process starts the container, passes the terminal size and signals, and waits for the exit.
  const stdin = process.stdin as NodeJS.ReadStream;
  const raw = o.tty && o.interactive && stdin.isTTY === true;
  const resize = () => {
    if (process.stdout.isTTY) c.monitor.resize(process.stdout.rows, process.stdout.columns);
  };
  const forward = (sig: NodeJS.Signals) => {
    killFront(roots, c.rec, sig).catch(() => {});
  };
  if (o.tty) {
    resize();
    process.on('SIGWINCH', resize);
  }
  if (raw) stdin.setRawMode(true);
  const proxy = !o.tty && p.flags['sig-proxy'] !== false;
  if (proxy) for (const s of PROXIED) process.on(s, forward);
  try {
    await startFront(roots, c.rec);
    const status = await c.monitor.exited;
    await c.monitor.closed;
    return status;
  } finally {
    if (raw) stdin.setRawMode(false);
    process.off('SIGWINCH', resize);
    if (proxy) for (const s of PROXIED) process.off(s, forward);
    c.monitor.release();
  }
}

function refs(roots: FrontRoots, args: string[]): FrontRecord[] {
  return args.map((a) => resolveContainer(roots.imageRoot, roots.root, a));
}

/** Each ref in turn, as docker does: errors reported, the others still done, 1 if any failed. */
async function eachRef(ctx: VerbContext, roots: FrontRoots, args: string[], fn: (r: FrontRecord, ref: string) => Promise<void>): Promise<number> {
  let code = 0;
  for (const a of args) {
    try {
      await fn(resolveContainer(roots.imageRoot, roots.root, a), a);
    } catch (err) {
      report(ctx, describeError(err));
      code = 1;
    }
  }
  return code;
}

function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.floor(s / 60);
  if (m < 60) return m === 1 ? 'About a minute' : `${m} minutes`;
  const h = Math.floor(m / 60);
  if (h < 48) return h === 1 ? 'About an hour' : `${h} hours`;
  return `${Math.floor(h / 24)} days`;
}

async function ls(p: FrontParsed, roots: FrontRoots): Promise<number> {
  const all = p.flags.all === true;
  const noTrunc = p.flags['no-trunc'] === true;
  const rows: { rec: FrontRecord; status: string; running: boolean }[] = [];
  for (const rec of listFront(roots.imageRoot, roots.root)) {
    const st = await frontState(roots, rec).catch(() => undefined);
    if (!st) continue;
    const running = st.status === 'running' || st.status === 'paused';
    if (!all && !running) continue;
    let status: string;
    if (st.status === 'running') status = `Up ${ago(rec.startedAt ?? rec.created)}`;
    else if (st.status === 'paused') status = `Up ${ago(rec.startedAt ?? rec.created)} (Paused)`;
    else if (st.status === 'created') status = 'Created';
    else if (st.exit) status = `Exited (${st.exit.exitCode}) ${ago(st.exit.finishedAt)} ago`;
    else status = 'Dead';
    rows.push({ rec, status, running });
  }
  const format = p.flags.format;
  if (p.flags.quiet === true) {
    writeOut(rows.map((r) => `${noTrunc ? r.rec.id : r.rec.id.slice(0, 12)}\n`).join(''));
    return 0;
  }
  if (format === 'json') {
    writeOut(
      rows
        .map(
          (r) =>
            JSON.stringify({
              ID: r.rec.id.slice(0, 12),
              Image: r.rec.image,
              Command: r.rec.command.join(' '),
              CreatedAt: r.rec.created,
              Status: r.status,
              Ports: r.rec.ports.join(', '),
              Names: r.rec.name,
            }) + '\n',
        )
        .join(''),
    );
    return 0;
  }
  if (format !== 'table') throw new FrontUsageError(`--format ${String(format)}: want table or json`, 'container ls');
  const cmd = (c: string[]) => {
    const s = JSON.stringify(c.join(' '));
    return noTrunc || s.length <= 22 ? s : `${s.slice(0, 20)}…"`;
  };
  const out = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
  for (const r of rows)
    out.push([
      noTrunc ? r.rec.id : r.rec.id.slice(0, 12),
      r.rec.image,
      cmd(r.rec.command),
      `${ago(r.rec.created)} ago`,
      r.status,
      r.rec.ports.join(', '),
      r.rec.name,
    ]);
  writeOut(table(out));
  return 0;
}

async function logs(p: FrontParsed, roots: FrontRoots): Promise<number> {
  const rec = resolveContainer(roots.imageRoot, roots.root, p.args[0]);
  const file = logFileOf(containerDirOf(roots.imageRoot, rec.id), rec.id);
  const tailRaw = String(p.flags.tail ?? 'all');
  const tail = tailRaw === 'all' ? undefined : Number(tailRaw);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0))
    throw new FrontUsageError(`invalid --tail value ${JSON.stringify(tailRaw)}`, 'container logs');
  const ts = p.flags.timestamps === true;
  const emit = (e: { stream: string; log: string; time: string }) =>
    (e.stream === 'stderr' ? process.stderr : process.stdout).write(formatEntry(e as never, ts));
  if (p.flags.follow !== true) {
    const all = readAllLogs(file);
    for (const e of tail === undefined ? all : all.slice(Math.max(0, all.length - tail))) emit(e);
    return 0;
  }
  await followLogs({
    file,
    tail,
    onEntry: emit,
    done: () => !!readExit(roots.imageRoot, rec.id) || !readFront(roots.imageRoot, rec.id),
  });
  return 0;
}

async function execVerb(p: FrontParsed, roots: FrontRoots): Promise<number> {
  const rec = resolveContainer(roots.imageRoot, roots.root, p.args[0]);
  const st = await frontState(roots, rec);
  if (st.status !== 'running') throw new Exit(125, `container ${rec.id} is not running`);
  const f = p.flags;
  const s = await startFrontExec(roots, rec, {
    command: p.args.slice(1),
    env: list(f, 'env'),
    user: str(f, 'user'),
    workdir: str(f, 'workdir'),
    tty: f.tty === true,
    interactive: f.interactive === true,
    detach: f.detach === true,
  });
  if (f.detach === true) {
    closeQuietly(s.pidfd);
    return 0;
  }
  try {
    return (await waitForeground(s.pidfd, s.consoleFd)).status;
  } finally {
    closeQuietly(s.pidfd);
  }
}

/** Docker's prompt before a prune: one line of stdin, yes or not. */
export async function confirm(question: string): Promise<boolean> {
  process.stderr.write(`${question} [y/N] `);
  const rl = createInterface({ input: process.stdin });
  try {
    const line = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(line.trim());
  } finally {
    rl.close();
  }
}

async function dispatch(ctx: VerbContext, sub: string, p: FrontParsed, roots: FrontRoots): Promise<number> {
  const f = p.flags;
  switch (sub) {
    case 'run':
      return runVerb(ctx, p, roots);
    case 'create': {
      const c = await createFront(createOptions(ctx, p, roots, false));
      c.monitor.release();
      writeOut(`${c.rec.id}\n`);
      return 0;
    }
    case 'start': {
      if (f.attach === true && p.args.length > 1) throw new FrontUsageError('you cannot start and attach multiple containers at once', 'container start');
      const o = { ...roots, cliGlobals: cliGlobals(ctx) };
      if (f.attach === true) {
        const rec = resolveContainer(roots.imageRoot, roots.root, p.args[0]);
        if ((await frontState(roots, rec)).status === 'running') throw new Exit(1, `container ${p.args[0]} is running already: use container attach`);
        let session: AttachSession | undefined;
        await startFront(o, rec, async () => {
          session = await attachFront(roots, rec, writeFrame);
        });
        return await attachTerminal(roots, rec, session!, { stdin: rec.interactive, sigProxy: true });
      }
      return eachRef(ctx, roots, p.args, async (rec, ref) => {
        await startFront(o, rec);
        writeOut(`${ref}\n`);
      });
    }
    case 'restart': {
      const o = { ...roots, cliGlobals: cliGlobals(ctx) };
      return eachRef(ctx, roots, p.args, async (rec, ref) => {
        await restartFront(o, rec, { signal: str(f, 'signal'), timeout: num(f, 'timeout') });
        writeOut(`${ref}\n`);
      });
    }
    case 'attach': {
      const rec = resolveContainer(roots.imageRoot, roots.root, p.args[0]);
      const st = await frontState(roots, rec);
      if (st.status !== 'running' && st.status !== 'paused') throw new Exit(1, 'You cannot attach to a stopped container, start it first');
      const session = await attachFront(roots, rec, writeFrame);
      return attachTerminal(roots, rec, session, { stdin: rec.interactive && f['no-stdin'] !== true, sigProxy: f['sig-proxy'] !== false });
    }
    case 'ls':
      return ls(p, roots);
    case 'logs':
      return logs(p, roots);
    case 'stop':
      return eachRef(ctx, roots, p.args, async (rec, ref) => {
        await stopFront(roots, rec, { signal: str(f, 'signal'), timeout: num(f, 'timeout') });
        writeOut(`${ref}\n`);
      });
    case 'kill':
      return eachRef(ctx, roots, p.args, async (rec, ref) => {
        await killFront(roots, rec, str(f, 'signal') ?? 'KILL');
        writeOut(`${ref}\n`);
      });
    case 'wait': {
      const recs = refs(roots, p.args);
      for (const rec of recs) writeOut(`${await waitFront(roots, rec)}\n`);
      return 0;
    }
    case 'rm':
      return eachRef(ctx, roots, p.args, async (rec, ref) => {
        await removeFront(roots, rec, { force: f.force === true, volumes: f.volumes === true });
        writeOut(`${ref}\n`);
      });
    case 'inspect': {
      const out: unknown[] = [];
      let code = 0;
      for (const a of p.args) {
        try {
          out.push(await inspectFront(roots, resolveContainer(roots.imageRoot, roots.root, a)));
        } catch (err) {
          report(ctx, describeError(err));
          code = 1;
        }
      }
      writeOut(`${JSON.stringify(out, null, 4)}\n`);
      return code;
    }
    case 'exec':
      return execVerb(p, roots);
    case 'prune': {
      if (f.force !== true && !(await confirm('WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
      const { ids, bytes } = await pruneFront(roots);
      writeOut(ids.length ? `Deleted Containers:\n${ids.map((i) => `${i}\n`).join('')}\n` : '');
      writeOut(`Total reclaimed space: ${formatBytes(bytes)}\n`);
      return 0;
    }
    case '__create':
      try {
        await createStep({
          ...roots,
          id: p.args[0],
          bundle: str(f, 'bundle')!,
          pidFile: str(f, 'pid-file')!,
          consoleSocket: str(f, 'console-socket'),
          tty: f.tty === true,
          again: f.again === true,
        });
        return 0;
      } catch (err) {
        throw new Exit(createExitCode(err), describeError(err));
      }
    default:
      throw new FrontUsageError(`'container ${sub}' is not a tsrun command`, 'container');
  }
}
