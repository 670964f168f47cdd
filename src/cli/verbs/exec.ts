import { loadProcessFile, startExec } from '../../container/exec.js';
import { openContainer } from '../../container/handle.js';
import { closeQuietly } from '../../container/process-control.js';
import { ChildSetupError, describeError, InvalidArgumentError } from '../../errors.js';
import type { Process } from '../../spec/types.js';
import type { VerbContext } from '../main.js';
import { str, preserveFdsFlag } from './flags.js';
import { waitForeground } from '../foreground.js';
import { ambientWarnings } from '../../container/capabilities.js';

// The words live with the core: run and create warn the same way (container/create.ts).
export { ambientWarnings };

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** runc exec.go getProcess: the container's process, with the command line's changes. */
async function processFromFlags(ctx: VerbContext): Promise<Process> {
  const { cl, id } = ctx;
  const file = str(cl, 'process');
  if (file) return loadProcessFile(file);
  const args = cl.args.slice(1);
  if (!args.length) throw new InvalidArgumentError('exec: no command specified (use --process or give the command)');
  const h = await openContainer(cl.global.root, id);
  h.release();
  const base = h.record.config.process;
  if (!base) throw new InvalidArgumentError(`container ${id} has no process to base exec on`);
  const p: Process = structuredClone(base);
  p.args = args;
  p.terminal = cl.flags.tty === true;
  p.env = [...(p.env ?? []), ...list(cl.flags.env)];
  const cwd = str(cl, 'cwd');
  if (cwd) p.cwd = cwd;
  const user = str(cl, 'user');
  if (user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    if (!m) throw new InvalidArgumentError(`parsing ${user} as uid[:gid]: only numeric ids are supported`);
    p.user = { ...p.user, uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : p.user.gid };
  }
  const gids = list(cl.flags['additional-gids']).map(Number);
  if (gids.length) p.user = { ...p.user, additionalGids: gids };
  const caps = list(cl.flags.cap);
  if (caps.length) {
    const c = (p.capabilities ??= {});
    for (const set of ['bounding', 'effective', 'permitted'] as const) c[set] = [...new Set([...(c[set] ?? []), ...caps])];
    // runc HEAD exec.go: an added capability joins the ambient set only where it can be raised,
    // that is when it is inheritable already (runc 1.1.5 adds none to ambient, nor to inheritable).
    const ambient = caps.filter((x) => c.inheritable?.includes(x));
    if (ambient.length) c.ambient = [...new Set([...(c.ambient ?? []), ...ambient])];
  }
  if (cl.flags['no-new-privs'] === true) p.noNewPrivileges = true;
  const apparmor = str(cl, 'apparmor');
  if (apparmor) p.apparmorProfile = apparmor;
  const label = str(cl, 'process-label');
  if (label) p.selinuxLabel = label;
  return p;
}

/**
 * runc exec.go: every failure to start the process is fatalWithCode("exec failed: …", 255), so a
 * caller can tell it from the process's own exit status. The execve itself failing is the
 * process's failure in runc (its init writes "exec /run.sh: …" and exits 1): so here too.
 */
export default async function exec(ctx: VerbContext): Promise<number> {
  try {
    return await execProcess(ctx);
  } catch (err) {
    if (err instanceof ChildSetupError && err.op.startsWith('exec "')) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    const msg = `exec failed: ${describeError(err)}`;
    ctx.log.error(msg);
    if (ctx.cl.global.log) process.stderr.write(`${msg}\n`);
    return 255;
  }
}

async function execProcess(ctx: VerbContext): Promise<number> {
  const { cl, log, id } = ctx;
  const proc = await processFromFlags(ctx);
  for (const w of ambientWarnings(proc.capabilities)) log.warn(w);
  const detach = cl.flags.detach === true;
  const s = await startExec({
    root: cl.global.root,
    id,
    process: proc,
    detach,
    pidFile: str(cl, 'pid-file'),
    consoleSocket: str(cl, 'console-socket'),
    pidfdSocket: str(cl, 'pidfd-socket'),
    preserveFds: preserveFdsFlag(cl),
    subCgroup: list(cl.flags.cgroup)[0]?.replace(/^[^:]*:/, ''),
    ignorePaused: cl.flags['ignore-paused'] === true,
    logger: log,
  });
  try {
    if (detach) return 0;
    return (await waitForeground(s.pidfd, s.consoleFd, proc.consoleSize)).status;
  } finally {
    closeQuietly(s.pidfd);
  }
}
