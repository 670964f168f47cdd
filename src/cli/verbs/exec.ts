import { loadProcessFile, startExec } from '../../container/exec.js';
import { openContainer } from '../../container/handle.js';
import { closeQuietly } from '../../container/process-control.js';
import { InvalidArgumentError } from '../../errors.js';
import type { Process } from '../../spec/types.js';
import type { VerbContext } from '../main.js';
import { str, preserveFdsFlag } from './flags.js';
import { waitForeground } from '../foreground.js';

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/**
 * runc HEAD's ApplyCaps raises each ambient capability on its own and only warns when the kernel
 * refuses (PR_CAP_AMBIENT_RAISE needs it permitted and inheritable); the plan interpreter skips
 * those silently, so the warnings are worded here as runc words them.
 */
export function ambientWarnings(caps: Process['capabilities']): string[] {
  const can = (c: string) => !!caps?.permitted?.includes(c) && !!caps?.inheritable?.includes(c);
  return [...new Set(caps?.ambient ?? [])]
    .filter((c) => !can(c))
    .map((c) => `can't raise ambient capability ${c.replace(/^CAP_/, '').toLowerCase()}: operation not permitted`);
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

export default async function exec(ctx: VerbContext): Promise<number> {
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
