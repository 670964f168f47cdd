// TypeScript view of the probe's JSON (see README.md here for the commands). Kept next to the C
// sources so that a change to a section's shape changes both in one commit.

export interface ProbeBitSet {
  /** 16 hex digits, as in /proc/self/status. */
  hex: string;
  /** "CAP_CHOWN"… for capabilities; "SIGPIPE"… (or "SIG40" for realtime) for signals. */
  names: string[];
}

export interface ProbeIds {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  groups: number[];
}

export interface ProbeUts {
  hostname: string;
  domainname: string;
  sysname: string;
  release: string;
  machine: string;
}

export interface ProbeTty {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  sid: number;
  pgid: number;
  /** tcgetpgrp of the first of fds 0-2 that is a tty; null if none is or it is not ours. */
  foregroundPgid: number | null;
  rows: number | null;
  cols: number | null;
}

export interface ProbeCaps {
  effective: ProbeBitSet;
  permitted: ProbeBitSet;
  inheritable: ProbeBitSet;
  bounding: ProbeBitSet;
  ambient: ProbeBitSet;
}

export type ProbeRlimitName =
  | 'RLIMIT_CPU'
  | 'RLIMIT_FSIZE'
  | 'RLIMIT_DATA'
  | 'RLIMIT_STACK'
  | 'RLIMIT_CORE'
  | 'RLIMIT_RSS'
  | 'RLIMIT_NPROC'
  | 'RLIMIT_NOFILE'
  | 'RLIMIT_MEMLOCK'
  | 'RLIMIT_AS'
  | 'RLIMIT_LOCKS'
  | 'RLIMIT_SIGPENDING'
  | 'RLIMIT_MSGQUEUE'
  | 'RLIMIT_NICE'
  | 'RLIMIT_RTPRIO'
  | 'RLIMIT_RTTIME';

/** -1 means unlimited (RLIM_INFINITY). */
export interface ProbeRlimit {
  soft: number;
  hard: number;
}

export interface ProbeFd {
  fd: number;
  target: string | null;
  cloexec: boolean;
  access: 'r' | 'w' | 'rw' | null;
}

export interface ProbeMount {
  id: number;
  parent: number;
  /** "major:minor" of the filesystem. */
  dev: string;
  root: string;
  mountPoint: string;
  /** Per-mount options: "rw", "nosuid", "relatime"… */
  options: string[];
  /** Optional fields: "shared:1", "master:2", "propagate_from:3", "unbindable". */
  propagation: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

export type ProbeNamespaceName = 'cgroup' | 'ipc' | 'mnt' | 'net' | 'pid' | 'pid_for_children' | 'time' | 'time_for_children' | 'user' | 'uts';

export interface ProbeCgroupEntry {
  hierarchy: number;
  controllers: string[];
  path: string;
}

export interface ProbeSignalState {
  source: 'status' | 'syscalls';
  pending: ProbeBitSet;
  blocked: ProbeBitSet;
  ignored: ProbeBitSet;
  caught: ProbeBitSet;
}

export type ProbeFileType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'unknown';

export interface ProbeDevEntry {
  path: string;
  type: ProbeFileType;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  major: number | null;
  minor: number | null;
  target: string | null;
}

export interface ProbePathStat {
  type: ProbeFileType;
  mode: number;
  uid: number;
  gid: number;
  major: number | null;
  minor: number | null;
  size: number;
  dev: number;
  ino: number;
}

/** What stat/statfs/open/read said about one path (masked paths: /dev/null or an empty tmpfs). */
export interface ProbePath {
  statErrno: string | null;
  stat: ProbePathStat | null;
  /** statfs f_type, e.g. 0x01021994 for tmpfs. */
  fsMagic: number | null;
  readOnly: boolean | null;
  openErrno: string | null;
  readErrno: string | null;
  /** First ≤64 bytes read (invalid UTF-8 bytes become U+FFFD); null for dirs and failures. */
  head: string | null;
  /** Number of entries for a directory, else null. */
  entries: number | null;
}

export interface ProbeReport {
  pid: number;
  ppid: number;
  ids: ProbeIds;
  umask: number;
  cwd: string | null;
  uts: ProbeUts | null;
  tty: ProbeTty;
  caps: ProbeCaps;
  noNewPrivs: boolean | null;
  seccomp: { mode: number | null; filters: number | null };
  rlimits: Record<ProbeRlimitName, ProbeRlimit | null>;
  fds: ProbeFd[];
  mounts: ProbeMount[] | null;
  namespaces: Record<ProbeNamespaceName, number | null>;
  cgroup: ProbeCgroupEntry[] | null;
  clocks: { monotonic: number | null; boottime: number | null };
  env: string[];
  argv: string[];
  signalState: ProbeSignalState;
  oomScoreAdj: number | null;
  dev: ProbeDevEntry[];
  paths: Record<string, ProbePath>;
  /** What failed while reporting: "section" or "section:detail" → errno name. */
  errors: Record<string, string>;
}

/** `probe stat PATH...` */
export interface ProbeStatOutput {
  paths: Record<string, ProbePath>;
  errors: Record<string, string>;
}
/** `probe sysctl NAME...` (null: unreadable, the errno is in errors["sysctl:NAME"]) */
export interface ProbeSysctlOutput {
  sysctl: Record<string, string | null>;
  errors: Record<string, string>;
}
/** `probe open PATH FLAGS` */
export interface ProbeOpenOutput {
  path: string;
  flags: number;
  ok: boolean;
  errno: string | null;
}
/** `probe write-file PATH DATA` */
export interface ProbeWriteOutput {
  path: string;
  ok: boolean;
  errno: string | null;
  bytes: number | null;
}
/** `probe fork N` */
export interface ProbeForkOutput {
  requested: number;
  succeeded: number;
  failed: number;
  errno: string | null;
}
/** `probe signals`: the first line, then one line per signal. */
export interface ProbeSignalsReady {
  ready: true;
  pid: number;
}
export interface ProbeSignalEvent {
  signal: string;
  number: number;
  senderPid: number;
  senderUid: number;
}

/** Section keys of a full report (`probe all`), in output order. */
export const PROBE_SECTIONS = [
  'pid',
  'ppid',
  'ids',
  'umask',
  'cwd',
  'uts',
  'tty',
  'caps',
  'noNewPrivs',
  'seccomp',
  'rlimits',
  'fds',
  'mounts',
  'namespaces',
  'cgroup',
  'clocks',
  'env',
  'argv',
  'signalState',
  'oomScoreAdj',
  'dev',
  'paths',
] as const satisfies readonly (keyof ProbeReport)[];

export type ProbeSection = (typeof PROBE_SECTIONS)[number];

/** Parses one JSON object printed by the probe (`probe SECTION...`, `stat`, `open`, …). */
export function parseProbeJson<T = Partial<ProbeReport>>(stdout: string): T {
  const text = stdout.trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`probe output is not JSON (${(err as Error).message}): ${excerpt(text)}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`probe output is not a JSON object: ${excerpt(text)}`);
  }
  return value as T;
}

/** Parses the output of `probe all` and checks that every section is present. */
export function parseProbeOutput(stdout: string): ProbeReport {
  const report = parseProbeJson<Record<string, unknown>>(stdout);
  for (const key of [...PROBE_SECTIONS, 'errors']) {
    if (!(key in report)) throw new Error(`probe report lacks the "${key}" section: ${excerpt(stdout)}`);
  }
  return report as unknown as ProbeReport;
}

/** Parses line-per-object output (`probe signals`). */
export function parseProbeLines<T = unknown>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => parseProbeJson<T>(l));
}

function excerpt(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/** `probe sd-notify MESSAGE`: one datagram sent to $NOTIFY_SOCKET, as sd_notify(3). */
export interface ProbeSdNotifyOutput {
  socket: string | null;
  ok: boolean;
  errno: string | null;
  bytes: number | null;
}
