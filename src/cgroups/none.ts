// The none driver: no cgroup v2 hierarchy is mounted, so the container has no cgroup of its own
// (crun's "disabled" manager). Placement does nothing; limits, freezing and stats fail naming
// the reason, so a config that asks for them fails at create rather than running unlimited.
import { CgroupError } from '../errors.js';
import type { LinuxResources } from '../spec/types.js';
import type { FreezerState } from './freezer.js';
import type { CgroupOccupancy, CgroupRecord, Manager } from './manager.js';
import { checkResources } from './resources.js';
import type { Stats } from './stats.js';
import type { CgroupPlacement } from './v2.js';

export class NoCgroupManager implements Manager {
  readonly driver = 'none' as const;
  readonly dir = '';

  constructor(private readonly id: string) {}

  async create(): Promise<CgroupPlacement> {
    return { dir: '', created: [], fd: -1 };
  }

  check(resources: LinuxResources | undefined): string[] {
    return checkResources(resources, null);
  }

  apply(_pid: number, sub?: string): void {
    if (sub) throw this.#missing(`put a process in sub-cgroup ${sub} of`);
  }

  openDir(sub?: string): number {
    if (sub) throw this.#missing(`open sub-cgroup ${sub} of`);
    return -1;
  }

  async placed(): Promise<void> {}

  async set(resources: LinuxResources | undefined): Promise<void> {
    const problems = this.check(resources);
    if (problems.length) throw new CgroupError(`container ${this.id}: ${problems.join('; ')}`);
  }

  async freeze(): Promise<void> {
    throw this.#missing('freeze');
  }

  async thaw(): Promise<void> {
    throw this.#missing('thaw');
  }

  freezerState(): FreezerState {
    return 'thawed';
  }

  killAll(): boolean {
    return false;
  }

  signalAll(): boolean {
    return false;
  }

  populated(): boolean {
    return false;
  }

  async waitEmpty(): Promise<boolean> {
    return true;
  }

  oomKills(): number {
    return 0;
  }

  watchMemoryEvents(): () => void {
    return () => {};
  }

  pids(): number[] {
    throw this.#missing('list the processes of');
  }

  occupancy(): CgroupOccupancy {
    return { pids: [], frozen: false };
  }

  stats(): Stats {
    throw this.#missing('read the statistics of');
  }

  async destroy(): Promise<void> {}

  record(): CgroupRecord | undefined {
    return undefined;
  }

  #missing(what: string): CgroupError {
    return new CgroupError(`cannot ${what} container ${this.id}: it has no cgroup (no cgroup v2 hierarchy was mounted when it was created)`);
  }
}
