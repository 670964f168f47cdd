// The flag tables of `tsrun container …` and `tsrun volume …`, with Docker's names, shorthands and
// meanings (docs.docker.com/reference/cli/docker/container/run/ and siblings). A flag Docker has
// that tsrun does not implement is not listed: it is refused as unknown, never accepted and ignored.
import type { FrontCommand, FrontFlag } from './grammar.js';

const b = (name: string, usage: string, short?: string, extra: Partial<FrontFlag> = {}): FrontFlag => ({ name, short, type: 'bool', usage, ...extra });
const s = (name: string, usage: string, short?: string, extra: Partial<FrontFlag> = {}): FrontFlag => ({ name, short, type: 'string', usage, ...extra });
const l = (name: string, usage: string, short?: string, extra: Partial<FrontFlag> = {}): FrontFlag => ({
  name,
  short,
  type: 'list',
  usage,
  value: 'list',
  ...extra,
});
const n = (name: string, usage: string, short?: string, extra: Partial<FrontFlag> = {}): FrontFlag => ({ name, short, type: 'int', usage, ...extra });

/** The flags `container create` and `container run` share (docker's container options). */
const CREATE_FLAGS: FrontFlag[] = [
  l('add-host', 'Add a custom host-to-IP mapping (host:ip)'),
  l('cap-add', 'Add Linux capabilities'),
  l('cap-drop', 'Drop Linux capabilities'),
  s('cpus', 'Number of CPUs (needs the cgroup v2 cpu controller)', undefined, { value: 'decimal' }),
  l('dns', 'Set custom DNS servers'),
  s('entrypoint', 'Overwrite the default ENTRYPOINT of the image'),
  l('env', 'Set environment variables', 'e'),
  l('env-file', 'Read in a file of environment variables'),
  s('hostname', 'Container host name', 'h'),
  b('init', 'Run an init inside the container that forwards signals and reaps processes'),
  b('interactive', 'Keep STDIN open even if not attached', 'i'),
  l('label', 'Set meta data on a container', 'l'),
  l('log-opt', 'Log driver options (json-file: max-size, max-file)'),
  s('memory', 'Memory limit (needs the cgroup v2 memory controller)', 'm', { value: 'bytes' }),
  l('mount', 'Attach a filesystem mount to the container', undefined, { value: 'mount' }),
  s('name', 'Assign a name to the container'),
  l('network', 'Connect a container to a network (bridge, a user network, none, host, container:ID)', undefined, { aliases: ['net'], value: 'network' }),
  l('network-alias', 'Add network-scoped alias for the container', undefined, { aliases: ['net-alias'] }),
  l('publish', "Publish a container's port(s) to the host", 'p'),
  b('publish-all', 'Publish all exposed ports to random ports', 'P'),
  l('dns-option', 'Set DNS options'),
  l('dns-search', 'Set custom DNS search domains'),
  n('pids-limit', 'Tune container pids limit (-1 for unlimited; needs the pids controller)'),
  s('platform', 'Set platform if server is multi-platform capable'),
  b('privileged', 'Give extended privileges to this container'),
  s('pull', 'Pull image before running ("always", "missing", "never")', undefined, { default: 'missing' }),
  b('quiet', 'Suppress the pull output', 'q'),
  b('read-only', "Mount the container's root filesystem as read only"),
  b('rm', 'Automatically remove the container and its associated anonymous volumes when it exits'),
  l('security-opt', 'Security Options (seccomp=unconfined|FILE, no-new-privileges[=true|false])'),
  s('stop-signal', 'Signal to stop the container'),
  n('stop-timeout', 'Timeout (in seconds) to stop a container'),
  l('tmpfs', 'Mount a tmpfs directory'),
  b('tty', 'Allocate a pseudo-TTY', 't'),
  s('user', 'Username or UID (format: "<name|uid>[:<group|gid>]")', 'u'),
  l('volume', 'Bind mount a volume', 'v'),
  s('workdir', 'Working directory inside the container', 'w'),
  s('creds', 'Registry credentials as user:password (tsrun addition; default: ~/.docker/config.json)'),
  b('insecure', 'Allow plain http to a registry that is not on loopback (tsrun addition)'),
];

export const RUN: FrontCommand = {
  name: 'run',
  usage: 'Create and run a new container from an image',
  args: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  stopAtFirst: true,
  min: 1,
  flags: [
    b('detach', 'Run container in background and print container ID', 'd'),
    b('sig-proxy', 'Proxy received signals to the process', undefined, { default: true }),
    ...CREATE_FLAGS,
  ].sort((x, y) => x.name.localeCompare(y.name)),
};

export const CONTAINER_COMMANDS: FrontCommand[] = [
  RUN,
  { name: 'create', usage: 'Create a new container', args: '[OPTIONS] IMAGE [COMMAND] [ARG...]', stopAtFirst: true, min: 1, flags: CREATE_FLAGS },
  {
    name: 'start',
    usage: 'Start one or more stopped containers',
    args: '[OPTIONS] CONTAINER [CONTAINER...]',
    min: 1,
    flags: [b('attach', 'Attach STDOUT/STDERR and forward signals', 'a')],
  },
  {
    name: 'restart',
    usage: 'Restart one or more containers',
    args: '[OPTIONS] CONTAINER [CONTAINER...]',
    min: 1,
    flags: [s('signal', 'Signal to send to the container', 's'), n('timeout', 'Seconds to wait before killing the container', 't', { aliases: ['time'] })],
  },
  {
    name: 'attach',
    usage: 'Attach local standard input, output, and error streams to a running container',
    args: '[OPTIONS] CONTAINER',
    min: 1,
    max: 1,
    flags: [b('no-stdin', 'Do not attach STDIN'), b('sig-proxy', 'Proxy all received signals to the process', undefined, { default: true })],
  },
  {
    name: 'ls',
    aliases: ['ps', 'list'],
    usage: 'List containers',
    args: '[OPTIONS]',
    max: 0,
    flags: [
      b('all', 'Show all containers (default shows just running)', 'a'),
      s('format', 'Format output: table or json', undefined, { default: 'table' }),
      b('no-trunc', "Don't truncate output"),
      b('quiet', 'Only display container IDs', 'q'),
    ],
  },
  {
    name: 'logs',
    usage: 'Fetch the logs of a container',
    args: '[OPTIONS] CONTAINER',
    min: 1,
    max: 1,
    flags: [
      b('follow', 'Follow log output', 'f'),
      s('tail', 'Number of lines to show from the end of the logs', 'n', { default: 'all' }),
      b('timestamps', 'Show timestamps', 't'),
    ],
  },
  {
    name: 'stop',
    usage: 'Stop one or more running containers',
    args: '[OPTIONS] CONTAINER [CONTAINER...]',
    min: 1,
    flags: [s('signal', 'Signal to send to the container', 's'), n('timeout', 'Seconds to wait before killing the container', 't', { aliases: ['time'] })],
  },
  {
    name: 'kill',
    usage: 'Kill one or more running containers',
    args: '[OPTIONS] CONTAINER [CONTAINER...]',
    min: 1,
    flags: [s('signal', 'Signal to send to the container', 's', { default: 'KILL' })],
  },
  { name: 'wait', usage: 'Block until one or more containers stop, then print their exit codes', args: 'CONTAINER [CONTAINER...]', min: 1, flags: [] },
  {
    name: 'rm',
    aliases: ['remove'],
    usage: 'Remove one or more containers',
    args: '[OPTIONS] CONTAINER [CONTAINER...]',
    min: 1,
    flags: [
      b('force', 'Force the removal of a running container (uses SIGKILL)', 'f'),
      b('volumes', 'Remove anonymous volumes associated with the container', 'v'),
    ],
  },
  { name: 'inspect', usage: 'Display detailed information on one or more containers', args: 'CONTAINER [CONTAINER...]', min: 1, flags: [] },
  {
    name: 'exec',
    usage: 'Execute a command in a running container',
    args: '[OPTIONS] CONTAINER COMMAND [ARG...]',
    stopAtFirst: true,
    min: 2,
    flags: [
      b('detach', 'Detached mode: run command in the background', 'd'),
      l('env', 'Set environment variables', 'e'),
      b('interactive', 'Keep STDIN open even if not attached', 'i'),
      b('tty', 'Allocate a pseudo-TTY', 't'),
      s('user', 'Username or UID (format: "<name|uid>[:<group|gid>]")', 'u'),
      s('workdir', 'Working directory inside the container', 'w'),
    ],
  },
  { name: 'prune', usage: 'Remove all stopped containers', args: '[OPTIONS]', max: 0, flags: [b('force', 'Do not prompt for confirmation', 'f')] },
  // The monitor's own step (native/monitor.cc runs it): create the prepared container with the
  // monitor's fds 3-5 as its stdio, then exit so that the init is reparented to the monitor.
  {
    name: '__create',
    usage: 'create a prepared container for its monitor (internal)',
    args: 'ID',
    hidden: true,
    min: 1,
    max: 1,
    flags: [s('bundle', 'bundle'), s('pid-file', 'pid file'), s('console-socket', 'console socket'), b('tty', 'terminal'), b('again', 'a start again')],
  },
];

export const VOLUME_COMMANDS: FrontCommand[] = [
  {
    name: 'create',
    usage: 'Create a volume',
    args: '[OPTIONS] [VOLUME]',
    max: 1,
    flags: [
      s('driver', 'Specify volume driver name (only "local")', 'd', { default: 'local' }),
      l('label', 'Set metadata for a volume'),
      s('name', 'Specify volume name'),
    ],
  },
  {
    name: 'ls',
    aliases: ['list'],
    usage: 'List volumes',
    args: '[OPTIONS]',
    max: 0,
    flags: [s('format', 'Format output: table or json', undefined, { default: 'table' }), b('quiet', 'Only display volume names', 'q')],
  },
  { name: 'inspect', usage: 'Display detailed information on one or more volumes', args: 'VOLUME [VOLUME...]', min: 1, flags: [] },
  {
    name: 'rm',
    aliases: ['remove'],
    usage: 'Remove one or more volumes. You cannot remove a volume that is in use by a container.',
    args: '[OPTIONS] VOLUME [VOLUME...]',
    min: 1,
    flags: [b('force', 'Do not report an error for a volume that does not exist', 'f')],
  },
  {
    name: 'prune',
    usage: 'Remove unused local volumes',
    args: '[OPTIONS]',
    max: 0,
    flags: [b('all', 'Remove all unused volumes, not just anonymous ones', 'a'), b('force', 'Do not prompt for confirmation', 'f')],
  },
];
