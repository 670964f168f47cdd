// The words of a failed hook, runc's (libcontainer/configs/config.go: Hooks.Run wraps each failure
// as "error running <kind> hook #<i>: …", Command.Run words the failure itself), used by both
// places a hook runs: the runtime's own hooks (container/hooks.ts) and the hooks the plan
// interpreter runs inside the container (createContainer, startContainer; process/protocol.ts).
// One text, wherever the hook ran.

/** "error running prestart hook #1: <reason>". */
export function hookFailed(kind: string, index: number, reason: string): string {
  return `error running ${kind} hook #${index}: ${reason}`;
}

/** Go's ExitError for a hook that exited non-zero; the output when it was captured. */
export function hookExited(status: number, output?: { stdout: string; stderr: string }): string {
  return `error running hook: exit status ${status}${outputTail(output)}`;
}

/** Go's ExitError for a hook killed by a signal ("signal: killed"). */
export function hookSignalled(signal: string | number, output?: { stdout: string; stderr: string }): string {
  return `error running hook: signal: ${signalWords(signal)}${outputTail(output)}`;
}

/** The hook ran longer than its `timeout`. */
export function hookTimedOut(timeoutSeconds: number): string {
  return `hook ran past specified timeout of ${timeoutSeconds.toFixed(1)}s`;
}

/** Go's exec.Cmd.Start error: "fork/exec /x: no such file or directory". */
export function hookNotStarted(path: string, reason: string): string {
  return `fork/exec ${path}: ${reason}`;
}

function outputTail(output: { stdout: string; stderr: string } | undefined): string {
  return output ? `, stdout: ${output.stdout}, stderr: ${output.stderr}` : '';
}

// Go's syscall.Signal String(): the strsignal(3) words, lower case.
const SIGNAL_WORDS: Record<string, string> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGSEGV: 'segmentation fault',
  SIGABRT: 'aborted',
  SIGINT: 'interrupt',
  SIGHUP: 'hangup',
  SIGPIPE: 'broken pipe',
  SIGQUIT: 'quit',
  SIGBUS: 'bus error',
  SIGUSR1: 'user defined signal 1',
  SIGUSR2: 'user defined signal 2',
};

/** A signal's words, from its name ("SIGKILL") or number (9). */
export function signalWords(signal: string | number): string {
  const name = typeof signal === 'number' ? (SIGNAL_NAMES[signal] ?? `signal ${signal}`) : signal;
  return SIGNAL_WORDS[name] ?? name;
}

const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  6: 'SIGABRT',
  7: 'SIGBUS',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  11: 'SIGSEGV',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  15: 'SIGTERM',
};
