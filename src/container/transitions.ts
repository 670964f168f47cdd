// Which verb is legal in which status, with runc's words for every refusal (engines match them:
// containerd checkKillError looks for "container not running"). One table, read by every verb
// through openContainer's handle (handle.ts), and checked cell by cell in
// test/unit/transitions.test.ts. Sources: runc start.go, delete.go, exec.go, events.go, pause.go,
// and libcontainer/container_linux.go (Signal, Pause, Resume).
import { InvalidStateError } from '../errors.js';
import type { ContainerStatus } from '../spec/types.js';

export const STATUSES: readonly ContainerStatus[] = ['creating', 'created', 'running', 'paused', 'stopped'];

/** A verb, or a verb with the flag that changes its rules ('delete --force', 'exec --ignore-paused'). */
export type TransitionVerb =
  'start' | 'kill' | 'delete' | 'delete --force' | 'pause' | 'resume' | 'exec' | 'exec --ignore-paused' | 'update' | 'events' | 'ps' | 'state';

/** null: allowed. A string: refused with these words ({id} is the container's id). */
type Row = Record<ContainerStatus, string | null>;

const NOT_RUNNING = 'container not running';
const notStopped = (s: ContainerStatus) => `cannot delete container {id} that is not stopped: ${s}`;
const ALL_ALLOWED: Row = { creating: null, created: null, running: null, paused: null, stopped: null };

export const TRANSITIONS: Readonly<Record<TransitionVerb, Readonly<Row>>> = {
  // runc start.go: a switch on the status, its default names the state.
  start: {
    creating: 'cannot start a container in the creating state',
    created: null,
    running: 'cannot start an already running container',
    paused: 'cannot start a container in the paused state',
    stopped: 'cannot start a container that has stopped',
  },
  // runc Signal: no process to signal once stopped; a creating container has no recorded init yet.
  kill: { creating: NOT_RUNNING, created: null, running: null, paused: null, stopped: NOT_RUNNING },
  // runc delete.go: stopped is destroyed, created is killed first, anything else needs --force.
  delete: { creating: notStopped('creating'), created: null, running: notStopped('running'), paused: notStopped('paused'), stopped: null },
  'delete --force': ALL_ALLOWED,
  // runc Pause: only a running (or created) container; one already paused is "not running" too.
  pause: { creating: NOT_RUNNING, created: null, running: null, paused: NOT_RUNNING, stopped: NOT_RUNNING },
  resume: { creating: 'container not paused', created: 'container not paused', running: 'container not paused', paused: null, stopped: 'container not paused' },
  // runc exec.go: stopped and (without --ignore-paused) paused are refused; created is allowed.
  exec: {
    creating: 'cannot exec in a creating container',
    created: null,
    running: null,
    paused: 'cannot exec in a paused container (use --ignore-paused to override)',
    stopped: 'cannot exec in a stopped container',
  },
  'exec --ignore-paused': {
    creating: 'cannot exec in a creating container',
    created: null,
    running: null,
    paused: null,
    stopped: 'cannot exec in a stopped container',
  },
  update: { creating: NOT_RUNNING, created: null, running: null, paused: null, stopped: NOT_RUNNING },
  // runc events.go (also for --stats and the library's stats()).
  events: {
    creating: 'container with id {id} is not running',
    created: null,
    running: null,
    paused: null,
    stopped: 'container with id {id} is not running',
  },
  // ps reads the cgroup whatever the status (runc ps.go checks nothing); state always answers.
  ps: ALL_ALLOWED,
  state: ALL_ALLOWED,
};

/** The refusal's words for this verb in this status, or undefined when the verb is allowed. */
export function refusal(verb: TransitionVerb, status: ContainerStatus, id: string): string | undefined {
  const words = TRANSITIONS[verb][status];
  return words === null ? undefined : words.replaceAll('{id}', id);
}

/** Throws InvalidStateError (TSRUN_INVALID_STATE) with runc's words when the verb is refused. */
export function assertTransition(verb: TransitionVerb, status: ContainerStatus, id: string): void {
  const words = refusal(verb, status, id);
  if (words !== undefined) throw new InvalidStateError(words);
}
