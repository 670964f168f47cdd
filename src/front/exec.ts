// docker exec: a process in a running front container, based on the container's own process
// (its env, cwd, user, capabilities), with -e/-w/-u/-t applied. -u names are resolved in the
// container's rootfs (through the root-confined reader of image/user.ts).
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { startExec, type StartedExec } from '../container/exec.js';
import { containerDirOf } from '../image/image-rootfs.js';
import { mergeEnv } from '../image/bundle.js';
import { callerEnv } from '../process/caller-env.js';
import { readAccounts, resolveUser } from '../image/user.js';
import type { Spec } from '../spec/types.js';
import type { FrontRoots } from './containers.js';
import type { FrontRecord } from './store.js';

export interface FrontExecOptions {
  command: string[];
  env: string[];
  user?: string;
  workdir?: string;
  tty: boolean;
  interactive: boolean;
  detach: boolean;
}

export async function startFrontExec(roots: FrontRoots, rec: FrontRecord, o: FrontExecOptions): Promise<StartedExec> {
  if (o.detach && o.tty) throw new InvalidArgumentError('exec -d with -t is not supported: nobody would hold the terminal');
  const dir = containerDirOf(roots.imageRoot, rec.id);
  const spec = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Spec;
  const p = structuredClone(spec.process!);
  p.args = o.command;
  p.terminal = o.tty;
  // `-e NAME` takes the value the user has: the environment bin/tsrun's caller gave it, not the
  // launcher's additions for its JS engine (callerEnv).
  p.env = mergeEnv(p.env ?? [], o.env, callerEnv());
  if (o.workdir) {
    if (!o.workdir.startsWith('/')) throw new InvalidArgumentError(`the working directory '${o.workdir}' is invalid, it needs to be an absolute path`);
    p.cwd = o.workdir;
  }
  if (o.user) {
    const acc = readAccounts(path.join(dir, 'rootfs'));
    const u = resolveUser(o.user, acc.passwd, acc.group);
    p.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length ? { additionalGids: u.additionalGids } : {}) };
  }
  // Detached, or attached without -i: the process gets no stdin (and, detached, no output).
  const nulls: number[] = [];
  const nul = (flags: string) => {
    const fd = openSync('/dev/null', flags);
    nulls.push(fd);
    return fd;
  };
  const stdio: [number, number, number] | undefined = o.tty
    ? undefined
    : o.detach
      ? [nul('r'), nul('w'), nul('w')]
      : o.interactive
        ? undefined
        : [nul('r'), 1, 2];
  try {
    return await startExec({ root: roots.root, id: rec.id, process: p, detach: o.detach, logger: roots.logger, ...(stdio ? { stdio } : {}) });
  } finally {
    for (const fd of nulls) closeSync(fd);
  }
}
