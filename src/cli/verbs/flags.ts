// Small accessors over the parsed flags shared by the verbs.
import { readdirSync, readlinkSync } from 'node:fs';
import { InvalidArgumentError } from '../../errors.js';
import type { ParsedCommandLine } from '../parse.js';

export function str(cl: ParsedCommandLine, name: string): string | undefined {
  const v = cl.flags[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** -b/--bundle, defaulting to the current directory as runc does. */
export function bundleFlag(cl: ParsedCommandLine): string {
  return str(cl, 'bundle') ?? process.cwd();
}

/** The options create and run share, as runc's create.go and run.go read them. */
export function createFlags(cl: ParsedCommandLine) {
  return {
    bundle: bundleFlag(cl),
    root: cl.global.root,
    pidFile: str(cl, 'pid-file'),
    consoleSocket: str(cl, 'console-socket'),
    pidfdSocket: str(cl, 'pidfd-socket'),
    noPivot: cl.flags['no-pivot'] === true,
    preserveFds: preserveFdsFlag(cl),
    systemdCgroup: cl.global.systemdCgroup,
    passListenFds: true,
    // runc proxies sd_notify when NOTIFY_SOCKET is set (and not empty) in its environment.
    notifySocket: process.env.NOTIFY_SOCKET || undefined,
  };
}

/**
 * --preserve-fds N: fds 3..3+N-1 go to the container, so each must be one the caller passed.
 * Checked before the verb opens anything (its state and cgroup dirs would otherwise take free
 * numbers in the range): an fd that is not open is refused, and so is one the engine opened for
 * itself at start-up (its epoll, eventfd, io_uring, timer and signal fds, and its self-pipes: both
 * ends of one pipe held here), which a container must never get.
 */
export function preserveFdsFlag(cl: ParsedCommandLine): number {
  const n = Number(cl.flags['preserve-fds'] ?? 0);
  if (!n) return 0;
  const links = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      links.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      /* the directory's own fd, closed by now */
    }
  }
  const pipes = new Map<string, number>();
  for (const link of links.values()) if (link.startsWith('pipe:')) pipes.set(link, (pipes.get(link) ?? 0) + 1);
  for (let fd = 3; fd < 3 + n; fd++) {
    const link = links.get(fd);
    const own = link === undefined || /^anon_inode:(\[(eventpoll|eventfd|io_uring|timerfd|signalfd|pidfd)\]|inotify)/.test(link) || (pipes.get(link) ?? 0) > 1;
    if (own) {
      throw new InvalidArgumentError(
        `--preserve-fds ${n}: fd ${fd} was not passed to tsrun (${link === undefined ? 'not open' : `it is the runtime's own ${link}`}); pass fds 3..${2 + n}`,
      );
    }
  }
  return n;
}
