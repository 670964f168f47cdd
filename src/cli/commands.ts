// The flag table of every runc verb, with runc's names, aliases, value types and defaults
// (runc HEAD 76d9cf5: main.go, create.go, run.go, exec.go, kill.go, ...). Engines pass these
// verbatim, so a flag runc accepts but tsrun does not implement is still listed (and documented as
// ignored) rather than rejected.

export type FlagType = 'bool' | 'string' | 'int' | 'stringSlice' | 'int64Slice' | 'duration';

export interface FlagSpec {
  name: string;
  aliases?: string[];
  type: FlagType;
  usage: string;
  default?: string | boolean | number;
  /** Not shown in help (runc marks these Hidden). */
  hidden?: boolean;
  /** `run` flags that exist only with --image (tsrun addition); without it runc's errors stand. */
  imageOnly?: boolean;
}

export interface CommandSpec {
  name: string;
  aliases?: string[];
  usage: string;
  argsUsage: string;
  flags: FlagSpec[];
  /** Positional argument count, checked as runc's checkArgs does. */
  args: { exact?: number; min?: number; max?: number };
  /** urfave StopOnNthArg: after this many positionals, everything else is positional (exec, kill, ps). */
  stopOnNthArg?: number;
  /** Listed so that argv parses, but tsrun does not implement it (checkpoint/restore need CRIU). */
  unsupported?: boolean;
  /** A command group (`tsrun image pull …`): the first positional names one of these. */
  subcommands?: CommandSpec[];
  /** Docker's grammar, not runc's: the verb parses its own arguments (src/front/grammar.ts). */
  ownGrammar?: boolean;
}

const b = (name: string, usage: string, aliases?: string[], hidden?: boolean): FlagSpec => ({
  name,
  type: 'bool',
  usage,
  ...(aliases ? { aliases } : {}),
  ...(hidden ? { hidden } : {}),
});
const s = (name: string, usage: string, aliases?: string[], def?: string): FlagSpec => ({
  name,
  type: 'string',
  usage,
  ...(aliases ? { aliases } : {}),
  ...(def !== undefined ? { default: def } : {}),
});
const i = (name: string, usage: string, def?: number): FlagSpec => ({ name, type: 'int', usage, ...(def !== undefined ? { default: def } : {}) });

const BUNDLE = s('bundle', 'path to the root of the bundle directory, defaults to the current directory', ['b']);
const CONSOLE_SOCKET = s(
  'console-socket',
  "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal",
);
const PIDFD_SOCKET = s('pidfd-socket', 'path to an AF_UNIX socket which will receive a file descriptor referencing the init process');
const PID_FILE = s('pid-file', 'specify the file to write the process id to');
const NO_PIVOT = b('no-pivot', 'do not use pivot root to jail process inside rootfs. This should be used whenever the rootfs is on top of a ramdisk');
const NO_NEW_KEYRING = b(
  'no-new-keyring',
  'do not create a new session keyring for the container. This will cause the container to inherit the calling processes session key',
);
const PRESERVE_FDS = i('preserve-fds', 'Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)', 0);
const DETACH = b('detach', "detach from the container's process", ['d']);
const NO_SUBREAPER = b('no-subreaper', 'disable the use of the subreaper used to reap reparented processes');
const FORMAT = s('format', 'select one of: table or json (default: "table")', ['f'], 'table');
const ONE = { exact: 1 };

// `run --image` (tsrun addition, docker-run-like). Only accepted together with --image, so that a
// runc command line keeps runc's exact errors.
const img = (f: FlagSpec): FlagSpec => ({ ...f, imageOnly: true });
const PROGRESS = s('progress', 'pull progress on stderr: auto, json or none (default: "auto")');
const CREDS = s('creds', 'registry credentials as user:password (default: ~/.docker/config.json)');
const INSECURE = b('insecure', 'allow plain http to a registry that is not on loopback');
const PLATFORM = s('platform', 'os/arch[/variant] to pull (default: this host)');
const IMAGE_RUN_FLAGS: FlagSpec[] = (
  [
    s('image', 'run this image (pulled when missing) instead of a bundle; the command follows the image as in docker run (or, old form, [ID] -- CMD)'),
    b('rm', 'remove the container (and its writable layer) when it exits'),
    s('name', 'the container id, as docker run --name (or the one positional before --; else generated)'),
    { name: 'env', aliases: ['e'], type: 'stringSlice', usage: 'set an environment variable (K=V, or K to take it from here)' },
    { name: 'volume', aliases: ['v'], type: 'stringSlice', usage: 'bind mount HOST:CONTAINER[:ro]' },
    s('workdir', 'working directory inside the container', ['w']),
    s('user', 'USER[:GROUP], names resolved in the image', ['u']),
    b('tty', 'allocate a pseudo-TTY', ['t']),
    s('hostname', 'container host name (default: the id)'),
    s('network', 'none (a new network namespace with lo up, the default) or host'),
    b('read-only', 'mount the container root read-only'),
    s('entrypoint', "override the image's entrypoint (one program; the command follows --)"),
    { name: 'security-opt', type: 'stringSlice', usage: "seccomp=unconfined or seccomp=FILE (default: Docker's default profile)" },
    PROGRESS,
    CREDS,
    INSECURE,
    PLATFORM,
  ] as FlagSpec[]
).map(img);

export const GLOBAL_FLAGS: FlagSpec[] = [
  b('debug', 'enable debug logging'),
  s('log', "set the log file to write tsrun logs to (default is '/dev/stderr')"),
  s('log-format', "set the log format ('text' (default), or 'json')", undefined, 'text'),
  s('root', 'root directory for storage of container state (this should be located in tmpfs)'),
  b('systemd-cgroup', 'enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name" for e.g. "system.slice:tsrun:434234"'),
  s('rootless', "ignore cgroup permission errors ('true', 'false', or 'auto')", undefined, 'auto'),
  // Removed from runc in 1.4.0; still accepted (and ignored) so old engine configs keep working.
  { name: 'criu', type: 'string', usage: '(obsoleted; ignored)', hidden: true },
  s('image-root', 'directory of the image store (tsrun addition)'),
  b('help', 'show help', ['h']),
  b('version', 'print the version', ['v']),
];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'create',
    usage: 'create a container',
    argsUsage: '<container-id>',
    args: ONE,
    flags: [BUNDLE, CONSOLE_SOCKET, PIDFD_SOCKET, PID_FILE, NO_PIVOT, NO_NEW_KEYRING, PRESERVE_FDS],
  },
  { name: 'start', usage: 'executes the user defined process in a created container', argsUsage: '<container-id>', args: ONE, flags: [] },
  {
    name: 'run',
    usage: 'create and run a container',
    argsUsage: '<container-id>',
    args: ONE,
    flags: [
      BUNDLE,
      CONSOLE_SOCKET,
      PIDFD_SOCKET,
      DETACH,
      b('keep', 'do not delete the container after it exits'),
      PID_FILE,
      NO_SUBREAPER,
      NO_PIVOT,
      NO_NEW_KEYRING,
      PRESERVE_FDS,
      ...IMAGE_RUN_FLAGS,
    ],
  },
  { name: 'state', usage: 'output the state of a container', argsUsage: '<container-id>', args: ONE, flags: [] },
  {
    name: 'kill',
    usage: "kill sends the specified signal (default: SIGTERM) to the container's init process",
    argsUsage: '<container-id> [signal]',
    args: { min: 1, max: 2 },
    stopOnNthArg: 1,
    flags: [b('all', '(obsoleted, do not use)', ['a'], true)],
  },
  {
    name: 'delete',
    usage: 'delete any resources held by the container often used with detached container',
    argsUsage: '<container-id>',
    args: ONE,
    flags: [b('force', 'Forcibly deletes the container if it is still running (uses SIGKILL)', ['f'])],
  },
  {
    name: 'list',
    usage: 'lists containers started by tsrun with the given root',
    argsUsage: '',
    args: { exact: 0 },
    flags: [FORMAT, b('quiet', 'display only container IDs', ['q'])],
  },
  {
    name: 'ps',
    usage: 'ps displays the processes running inside a container',
    argsUsage: '<container-id> [ps options]',
    args: { min: 1 },
    stopOnNthArg: 1,
    flags: [FORMAT],
  },
  {
    name: 'exec',
    usage: 'execute new process inside the container',
    argsUsage: '<container-id> <command> [command options] || -p process.json <container-id>',
    args: { min: 1 },
    stopOnNthArg: 1,
    flags: [
      CONSOLE_SOCKET,
      s('pidfd-socket', 'path to an AF_UNIX socket which will receive a file descriptor referencing the exec process'),
      s('cwd', 'current working directory in the container'),
      { name: 'env', aliases: ['e'], type: 'stringSlice', usage: 'set environment variables' },
      b('tty', 'allocate a pseudo-TTY', ['t']),
      s('user', 'UID (format: <uid>[:<gid>])', ['u']),
      { name: 'additional-gids', aliases: ['g'], type: 'int64Slice', usage: 'additional gids' },
      s('process', 'path to the process.json', ['p']),
      DETACH,
      PID_FILE,
      s('process-label', 'set the asm process label for the process commonly used with selinux'),
      s('apparmor', 'set the apparmor profile for the process'),
      b('no-new-privs', 'set the no new privileges value for the process'),
      { name: 'cap', aliases: ['c'], type: 'stringSlice', usage: 'add a capability to the bounding set for the process' },
      PRESERVE_FDS,
      { name: 'cgroup', type: 'stringSlice', usage: 'run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.' },
      b('ignore-paused', 'allow exec in a paused container'),
    ],
  },
  { name: 'pause', usage: 'pause suspends all processes inside the container', argsUsage: '<container-id>', args: ONE, flags: [] },
  { name: 'resume', usage: 'resumes all processes that have been previously paused', argsUsage: '<container-id>', args: ONE, flags: [] },
  {
    name: 'update',
    usage: 'update container resource constraints',
    argsUsage: '<container-id>',
    args: ONE,
    flags: [
      s('resources', "path to the file containing the resources to update or '-' to read from the standard input", ['r']),
      i('blkio-weight', 'Specifies per cgroup weight, range is from 10 to 1000'),
      s('cpu-period', 'CPU CFS period to be used for hardcapping (in usecs). 0 to use system default'),
      s('cpu-quota', 'CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period'),
      s('cpu-burst', 'CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period'),
      s('cpu-share', 'CPU shares (relative weight vs. other containers)'),
      s('cpu-rt-period', 'CPU realtime period to be used for hardcapping (in usecs). 0 to use system default'),
      s('cpu-rt-runtime', 'CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period'),
      s('cpuset-cpus', 'CPU(s) to use'),
      s('cpuset-mems', 'Memory node(s) to use'),
      { name: 'kernel-memory', type: 'string', usage: '(obsoleted; do not use)', hidden: true },
      { name: 'kernel-memory-tcp', type: 'string', usage: '(obsoleted; do not use)', hidden: true },
      s('memory', 'Memory limit (in bytes)'),
      s('cpu-idle', 'set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE'),
      s('memory-reservation', 'Memory reservation or soft_limit (in bytes)'),
      s('memory-swap', "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
      i('pids-limit', 'Maximum number of pids allowed in the container'),
      s('l3-cache-schema', 'The string of Intel RDT/CAT L3 cache schema'),
      s('mem-bw-schema', 'The string of Intel RDT/MBA memory bandwidth schema'),
    ],
  },
  {
    name: 'events',
    usage: 'display container events such as OOM notifications, cpu, memory, and IO usage statistics',
    argsUsage: '<container-id>',
    args: ONE,
    flags: [
      { name: 'interval', type: 'duration', usage: 'set the stats collection interval', default: '5s' },
      b('stats', "display the container's stats then exit"),
    ],
  },
  {
    name: 'spec',
    usage: 'create a new specification file',
    argsUsage: '',
    args: { exact: 0 },
    flags: [s('bundle', 'path to the root of the bundle directory', ['b']), b('rootless', 'generate a configuration for a rootless container')],
  },
  { name: 'features', usage: 'show the enabled features', argsUsage: '', args: { exact: 0 }, flags: [] },
  {
    name: 'checkpoint',
    usage: 'checkpoint a running container (not supported by tsrun)',
    argsUsage: '<container-id>',
    args: ONE,
    unsupported: true,
    flags: [
      s('image-path', 'path for saving criu image files'),
      s('work-path', 'path for saving work files and logs'),
      s('parent-path', 'path for previous criu image files in pre-dump'),
      b('leave-running', 'leave the process running after checkpointing'),
      b('tcp-established', 'allow open tcp connections'),
      b('tcp-skip-in-flight', 'skip in-flight tcp connections'),
      b('link-remap', 'allow one to link unlinked files back when possible'),
      b('ext-unix-sk', 'allow external unix sockets'),
      b('shell-job', 'allow shell jobs'),
      b('lazy-pages', 'use userfaultfd to lazily restore memory pages'),
      i('status-fd', 'criu writes \\0 to this FD once lazy-pages is ready', -1),
      s('page-server', 'ADDRESS:PORT of the page server'),
      b('file-locks', 'handle file locks, for safety'),
      b('pre-dump', "dump container's memory information only, leave the container running after this"),
      s('manage-cgroups-mode', 'cgroups mode: soft|full|strict|ignore (default: soft)'),
      { name: 'empty-ns', type: 'stringSlice', usage: "create a namespace, but don't restore its properties" },
      b('auto-dedup', 'enable auto deduplication of memory images'),
    ],
  },
  {
    name: 'restore',
    usage: 'restore a container from a previous checkpoint (not supported by tsrun)',
    argsUsage: '<container-id>',
    args: ONE,
    unsupported: true,
    flags: [
      CONSOLE_SOCKET,
      s('image-path', 'path to criu image files for restoring'),
      s('work-path', 'path for saving work files and logs'),
      b('tcp-established', 'allow open tcp connections'),
      b('ext-unix-sk', 'allow external unix sockets'),
      b('shell-job', 'allow shell jobs'),
      b('file-locks', 'handle file locks, for safety'),
      s('manage-cgroups-mode', 'cgroups mode: soft|full|strict|ignore (default: soft)'),
      s('bundle', 'path to the root of the bundle directory', ['b']),
      DETACH,
      PID_FILE,
      NO_SUBREAPER,
      NO_PIVOT,
      { name: 'empty-ns', type: 'stringSlice', usage: "create a namespace, but don't restore its properties" },
      b('auto-dedup', 'enable auto deduplication of memory images'),
      b('lazy-pages', 'use userfaultfd to lazily restore memory pages'),
      s('lsm-profile', 'Specify an LSM profile to be used during restore in the form of TYPE:NAME.'),
      s('lsm-mount-context', 'Specify an LSM mount context to be used during restore.'),
      // go-runc's restore reuses its checkpoint options, so containerd may pass --parent-path (§1.2).
      s('parent-path', 'path for previous criu image files in pre-dump'),
    ],
  },
  {
    name: 'image',
    usage: 'pull, import, list, inspect and remove images (tsrun addition)',
    argsUsage: '<subcommand> [arguments...]',
    args: { min: 1 },
    flags: [],
    subcommands: [
      { name: 'pull', usage: 'pull an image from a registry', argsUsage: '<reference>', args: ONE, flags: [CREDS, INSECURE, PLATFORM, PROGRESS] },
      {
        name: 'import',
        aliases: ['load'],
        usage: 'import an OCI layout directory, an oci-archive or a docker save tar (plain, gzip or zstd); "-" or none: stdin',
        argsUsage: '[<path>|-]',
        args: { max: 1 },
        flags: [
          s('name', 'name the imported image (when the archive holds one)'),
          s('input', 'read the archive from this file ("-": stdin), as docker load -i', ['i']),
          PLATFORM,
        ],
      },
      { name: 'ls', aliases: ['list'], usage: 'list images', argsUsage: '', args: { exact: 0 }, flags: [FORMAT, b('quiet', 'only image IDs', ['q'])] },
      { name: 'inspect', usage: 'show an image record and its config as JSON', argsUsage: '<reference|id>', args: ONE, flags: [] },
      {
        name: 'rm',
        aliases: ['rmi', 'remove'],
        usage: 'untag and remove images; content no other image or container uses is deleted',
        argsUsage: '<reference|id>...',
        args: { min: 1 },
        flags: [b('force', 'remove an image containers use (not one a running container uses); by ID, untag all its names', ['f'])],
      },
      { name: 'prune', usage: 'remove untagged images, unused layers and blobs, and stale container layers', argsUsage: '', args: { exact: 0 }, flags: [] },
    ],
  },
  {
    name: 'network',
    usage: 'create, list, inspect and remove networks (tsrun addition, Docker grammar)',
    argsUsage: '<subcommand> [arguments...]',
    args: { min: 1 },
    flags: [],
    subcommands: [
      {
        name: 'create',
        usage: 'create a bridge network with its own subnet',
        argsUsage: 'NETWORK',
        args: ONE,
        flags: [
          s('subnet', 'subnet in CIDR format (default: the next free /24 of 10.68.0.0/14)'),
          s('gateway', 'IPv4 gateway of the subnet (default: its first address)'),
          b('internal', 'restrict external access to the network (no outbound NAT, no default route)'),
          { name: 'label', type: 'stringSlice', usage: 'set metadata on a network (KEY=VALUE)' },
          s('driver', 'driver to manage the network (only "bridge")', ['d'], 'bridge'),
        ],
      },
      {
        name: 'ls',
        aliases: ['list'],
        usage: 'list networks',
        argsUsage: '',
        args: { exact: 0 },
        flags: [
          s('format', 'table or json (default: "table")', undefined, 'table'),
          { name: 'filter', aliases: ['f'], type: 'stringSlice', usage: 'filter: name=, id=, driver=, label=, type=custom|builtin, dangling=true|false' },
          b('quiet', 'only display network IDs', ['q']),
          b('no-trunc', 'do not truncate the output'),
        ],
      },
      { name: 'inspect', usage: 'display detailed information on one or more networks', argsUsage: 'NETWORK...', args: { min: 1 }, flags: [] },
      {
        name: 'rm',
        aliases: ['remove'],
        usage: 'remove one or more networks no container uses',
        argsUsage: 'NETWORK...',
        args: { min: 1 },
        flags: [b('force', 'do not error if a network does not exist', ['f'])],
      },
      {
        name: 'prune',
        usage: 'remove all networks no container uses',
        argsUsage: '',
        args: { exact: 0 },
        flags: [b('force', 'do not prompt for confirmation', ['f']), { name: 'filter', type: 'stringSlice', usage: 'filter: until=, label=' }],
      },
    ],
  },
  {
    name: 'container',
    usage: 'run, create, start, list, log, stop, kill, wait, remove, inspect, exec and prune containers, Docker-style (tsrun addition)',
    argsUsage: 'COMMAND [OPTIONS] [ARG...]',
    args: {},
    flags: [],
    ownGrammar: true,
  },
  {
    name: 'volume',
    usage: 'create, list, inspect, remove and prune volumes, Docker-style (tsrun addition)',
    argsUsage: 'COMMAND [OPTIONS] [ARG...]',
    args: {},
    flags: [],
    ownGrammar: true,
  },
  { name: 'help', aliases: ['h'], usage: 'Shows a list of commands or help for one command', argsUsage: '[command]', args: { max: 1 }, flags: [] },
];

const BY_NAME = new Map<string, CommandSpec>();
for (const c of COMMANDS) {
  BY_NAME.set(c.name, c);
  for (const a of c.aliases ?? []) BY_NAME.set(a, c);
}

/** A command by name or alias; `image pull` names a subcommand. */
export function findCommand(name: string): CommandSpec | undefined {
  const sp = name.indexOf(' ');
  if (sp < 0) return BY_NAME.get(name);
  return findSubcommand(BY_NAME.get(name.slice(0, sp)), name.slice(sp + 1));
}

export function findSubcommand(group: CommandSpec | undefined, name: string): CommandSpec | undefined {
  return group?.subcommands?.find((c) => c.name === name || c.aliases?.includes(name));
}
