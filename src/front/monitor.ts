// Starting a container's monitor (native/monitor.cc, build/Release/tsrun-monitor) and talking to
// it over its sync socket. The monitor is started in a session of its own (setsid) and is not
// waited for: the client may exit, or be killed, at any point after "created" without the
// container, its log or its --rm being affected.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { TsrunError } from '../errors.js';
import { packageRoot } from '../sys/addon.js';

export function monitorPath(): string {
  return path.join(packageRoot(), 'build', 'Release', 'tsrun-monitor');
}

/** How to run this CLI again (the engine and its script): the monitor runs it to create and clean up. */
export function selfCommand(): string[] {
  const script = process.argv[1];
  if (!script) throw new TsrunError('TSRUN_SYSTEM', 'cannot tell how this tsrun was started (no script in argv)');
  return [process.execPath, script];
}

export interface MonitorOptions {
  dir: string;
  /** The create command (`tsrun … container __create …`). */
  create: string[];
  /** The json-file log and its limits. */
  log: { file: string; maxSize: number; maxFiles: number };
  /** Attached: the output is copied to this process's stdout/stderr too (and stdin, with interactive, is its own). */
  attach: boolean;
  tty: boolean;
  interactive: boolean;
  /** Run when the container has exited (--rm). */
  cleanup?: string[];
}

export interface CreateFailure {
  code: number;
  text: string;
}

export interface MonitorHandle {
  pid: number;
  /** The init's pid once created; rejects with a MonitorCreateError when the create step failed. */
  created: Promise<number>;
  /** The init's exit status (code, or 128+signal) once it has exited. */
  exited: Promise<number>;
  /** The monitor closed the socket: the exit is recorded and the cleanup ran. */
  closed: Promise<void>;
  /** The client's terminal size, for the container's pty. */
  resize(rows: number, cols: number): void;
  /** Stop holding the monitor: this process may exit without waiting for it. */
  release(): void;
}

/** The monitor's create step failed: its exit code (125, 126, 127) and what it printed. */
export class MonitorCreateError extends TsrunError {
  readonly exitCode: number;
  constructor(exitCode: number, text: string) {
    super('TSRUN_CHILD_SETUP', text.trim() || `the container's create step failed with exit code ${exitCode}`);
    this.exitCode = exitCode;
  }
}

export function startMonitor(o: MonitorOptions): MonitorHandle {
  const args = ['--dir', o.dir, '--sync-fd', '3'];
  args.push('--log', o.log.file, '--log-max-size', String(o.log.maxSize), '--log-max-files', String(o.log.maxFiles));
  if (o.attach) args.push('--attach');
  if (o.tty) args.push('--tty');
  if (o.interactive) args.push('--interactive');
  for (const a of o.cleanup ?? []) args.push('--cleanup', a);
  args.push('--', ...o.create);
  const attachedIn = o.attach && o.interactive;
  let child: ChildProcess;
  try {
    child = spawn(monitorPath(), args, {
      detached: true,
      stdio: [attachedIn ? 'inherit' : 'ignore', o.attach ? 'inherit' : 'ignore', o.attach ? 'inherit' : 'ignore', 'pipe'],
      cwd: o.dir,
    });
  } catch (cause) {
    throw new TsrunError('TSRUN_SYSTEM', `start the container monitor ${monitorPath()}`, { cause });
  }
  const sync = child.stdio[3] as Duplex;
  let buf = '';
  let resolveCreated!: (pid: number) => void;
  let rejectCreated!: (e: Error) => void;
  let resolveExited!: (s: number) => void;
  let rejectExited!: (e: Error) => void;
  const created = new Promise<number>((res, rej) => {
    resolveCreated = res;
    rejectCreated = rej;
  });
  const exited = new Promise<number>((res, rej) => {
    resolveExited = res;
    rejectExited = rej;
  });
  exited.catch(() => {});
  let failed: { code: number } | undefined;
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      if (failed) rejectCreated(new MonitorCreateError(failed.code, buf));
      else rejectCreated(new TsrunError('TSRUN_SYSTEM', `the container monitor ended before the container was created${buf ? `: ${buf.trim()}` : ''}`));
      rejectExited(new TsrunError('TSRUN_SYSTEM', 'the container monitor ended without reporting the exit'));
      resolve();
    };
    sync.on('end', done);
    sync.on('close', done);
    sync.on('error', done);
  });
  child.on('error', (err) => rejectCreated(new TsrunError('TSRUN_SYSTEM', `start the container monitor ${monitorPath()}`, { cause: err })));
  sync.setEncoding('utf8');
  sync.on('data', (chunk: string) => {
    buf += chunk;
    for (;;) {
      if (failed) return; // the rest is the create step's text
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [word, num] = line.split(' ');
      if (word === 'created') resolveCreated(Number(num));
      else if (word === 'exited') resolveExited(Number(num));
      else if (word === 'failed') failed = { code: Number(num) };
    }
  });
  return {
    pid: child.pid ?? 0,
    created,
    exited,
    closed,
    resize: (rows, cols) => {
      if (rows > 0 && cols > 0 && sync.writable) sync.write(`resize ${rows} ${cols}\n`);
    },
    release: () => {
      child.unref();
      (sync as Duplex & { unref?: () => void }).unref?.();
      sync.destroy();
    },
  };
}
