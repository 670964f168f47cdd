// Which verb is legal in which status, and runc's exact words for each refusal (engines match
// them: containerd checkKillError, Podman, CRI-O). Every verb × status cell of
// src/container/transitions.ts is listed here; a new verb or status fails until it is added.
import test from 'ava';
import { InvalidStateError } from '../../src/errors.js';
import { assertTransition, refusal, STATUSES, TRANSITIONS, type TransitionVerb } from '../../src/container/transitions.js';
import type { ContainerStatus } from '../../src/spec/types.js';

const OK = null;
const id = 'c1';
const notStopped = (s: string) => `cannot delete container ${id} that is not stopped: ${s}`;

// columns: creating, created, running, paused, stopped
const EXPECTED: Record<TransitionVerb, [string | null, string | null, string | null, string | null, string | null]> = {
  start: [
    'cannot start a container in the creating state',
    OK,
    'cannot start an already running container',
    'cannot start a container in the paused state',
    'cannot start a container that has stopped',
  ],
  kill: ['container not running', OK, OK, OK, 'container not running'],
  delete: [notStopped('creating'), OK, notStopped('running'), notStopped('paused'), OK],
  'delete --force': [OK, OK, OK, OK, OK],
  pause: ['container not running', OK, OK, 'container not running', 'container not running'],
  resume: ['container not paused', 'container not paused', 'container not paused', OK, 'container not paused'],
  exec: [
    'cannot exec in a creating container',
    OK,
    OK,
    'cannot exec in a paused container (use --ignore-paused to override)',
    'cannot exec in a stopped container',
  ],
  'exec --ignore-paused': ['cannot exec in a creating container', OK, OK, OK, 'cannot exec in a stopped container'],
  update: ['container not running', OK, OK, OK, 'container not running'],
  events: [`container with id ${id} is not running`, OK, OK, OK, `container with id ${id} is not running`],
  ps: [OK, OK, OK, OK, OK],
  state: [OK, OK, OK, OK, OK],
};

test('the statuses are the runtime-spec ones plus runc paused, in lifecycle order', (t) => {
  t.deepEqual([...STATUSES], ['creating', 'created', 'running', 'paused', 'stopped']);
});

test('every verb of the table is covered here, and nothing else', (t) => {
  t.deepEqual(Object.keys(TRANSITIONS).sort(), Object.keys(EXPECTED).sort());
});

for (const [verb, row] of Object.entries(EXPECTED) as [TransitionVerb, (string | null)[]][]) {
  STATUSES.forEach((status: ContainerStatus, i) => {
    const want = row[i];
    test(`${verb} when ${status}: ${want ?? 'allowed'}`, (t) => {
      t.is(refusal(verb, status, id), want ?? undefined);
      if (want === null) t.notThrows(() => assertTransition(verb, status, id));
      else t.throws(() => assertTransition(verb, status, id), { instanceOf: InvalidStateError, message: want, code: 'TSRUN_INVALID_STATE' } as never);
    });
  });
}
