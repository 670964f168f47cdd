// Small accessors over the parsed flags shared by the verbs.
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
    preserveFds: Number(cl.flags['preserve-fds'] ?? 0),
    systemdCgroup: cl.global.systemdCgroup,
    passListenFds: true,
    // runc proxies sd_notify when NOTIFY_SOCKET is set (and not empty) in its environment.
    notifySocket: process.env.NOTIFY_SOCKET || undefined,
  };
}
