// Named and anonymous volumes (Docker's "local" driver), daemonless:
//   <imageRoot>/volumes/            0700, the store
//   <imageRoot>/volumes/<name>/     0700, one volume
//     volume.json                   {Name, CreatedAt, Labels, Anonymous}
//     _data/                        what containers mount
// A volume is made with mkdir (atomic: two makers of one name share it, as `docker volume create`
// of an existing name succeeds). The image's content is copied up into an empty volume on its
// first mount (copyUp): into a fresh directory beside _data, renamed over the empty _data only
// when complete, so a crash mid-copy never leaves a half-filled volume, nor loses data. Which
// containers use a volume is the caller's to know (src/front/); this store never removes a volume
// on its own.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, TsrunError } from '../errors.js';
import { AT_FDCWD, codeOf, O_DIRECTORY, O_PATH, openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS } from '../image/fsx.js';
import { writeAtomic } from '../state/store.js';

export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  /** Made for an image VOLUME or `-v /path` (removed with its container by --rm and rm -v). */
  Anonymous: boolean;
}

/** No such volume (TSRUN_NOT_FOUND, with Docker's words). */
export class VolumeNotFoundError extends TsrunError {
  constructor(name: string) {
    super('TSRUN_NOT_FOUND', `get ${name}: no such volume`);
  }
}

// Docker's rule for names (daemon/names: RestrictedNamePattern).
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function isVolumeName(s: string): boolean {
  return NAME.test(s);
}

export class VolumeStore {
  readonly dir: string;
  constructor(imageRoot: string) {
    this.dir = path.join(path.resolve(imageRoot), 'volumes');
  }

  private volumeDir(name: string): string {
    if (!NAME.test(name)) throw new InvalidArgumentError(`volume name "${name}" includes invalid characters, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
    return path.join(this.dir, name);
  }

  /** The directory containers mount. */
  dataDir(name: string): string {
    return path.join(this.volumeDir(name), '_data');
  }

  /**
   * Makes the volume, or returns the one of that name. `created` says which: a volume made here
   * is the caller's to remove if what it was made for fails.
   */
  ensure(name: string, o: { labels?: Record<string, string>; anonymous?: boolean } = {}): { volume: VolumeRecord; created: boolean } {
    const dir = this.volumeDir(name);
    mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if (codeOf(err) !== 'EEXIST') throw err;
      return { volume: this.inspect(name), created: false };
    }
    mkdirSync(path.join(dir, '_data'), { mode: 0o755 });
    const rec: VolumeRecord = {
      Name: name,
      Driver: 'local',
      Mountpoint: path.join(dir, '_data'),
      CreatedAt: new Date().toISOString(),
      Labels: o.labels ?? {},
      Scope: 'local',
      Anonymous: o.anonymous === true,
    };
    writeAtomic(path.join(dir, 'volume.json'), `${JSON.stringify(rec, null, 2)}\n`);
    return { volume: rec, created: true };
  }

  /** A fresh anonymous volume (64 hex digits, as Docker names them). */
  createAnonymous(): VolumeRecord {
    for (;;) {
      const r = this.ensure(randomBytes(32).toString('hex'), { anonymous: true });
      if (r.created) return r.volume;
    }
  }

  inspect(name: string): VolumeRecord {
    const dir = this.volumeDir(name);
    let text: string;
    try {
      text = readFileSync(path.join(dir, 'volume.json'), 'utf8');
    } catch (err) {
      // Made by mkdir, record not written yet (or a crash between the two): a volume all the same.
      if (codeOf(err) === 'ENOENT' && statSafe(dir)) {
        return {
          Name: name,
          Driver: 'local',
          Mountpoint: path.join(dir, '_data'),
          CreatedAt: statSafe(dir)!.ctime.toISOString(),
          Labels: {},
          Scope: 'local',
          Anonymous: false,
        };
      }
      throw new VolumeNotFoundError(name);
    }
    return JSON.parse(text) as VolumeRecord;
  }

  list(): VolumeRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: VolumeRecord[] = [];
    for (const n of names.sort()) {
      if (!NAME.test(n)) continue;
      try {
        out.push(this.inspect(n));
      } catch {
        /* removed meanwhile */
      }
    }
    return out;
  }

  /** Removes the volume and its data. Whether it is in use is the caller's to check first. */
  remove(name: string): void {
    const dir = this.volumeDir(name);
    if (!statSafe(dir)) throw new VolumeNotFoundError(name);
    // Renamed away first, so a half-removed volume is never mounted by a new container.
    const gone = path.join(this.dir, `.removing-${name}-${randomBytes(4).toString('hex')}`);
    renameSync(dir, gone);
    rmSync(gone, { recursive: true, force: true });
  }

  /** Whether the volume's _data is empty (then the image's content is copied up on mount). */
  isEmpty(name: string): boolean {
    return readdirSync(this.dataDir(name)).length === 0;
  }

  /**
   * Copies what the image has at `dest` (inside the mounted rootfs) into the volume, if the volume
   * is empty and the image has a directory there. The source is opened inside the rootfs only
   * (openat2 RESOLVE_IN_ROOT: an image's symlinks never lead out of it), and copied with `cp -a`
   * (no symlink below it is followed) into a new directory that replaces the empty _data.
   */
  copyUp(name: string, rootfs: string, dest: string): boolean {
    if (!this.isEmpty(name)) return false;
    let rootFd: number;
    try {
      rootFd = openat2(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY, 0, 0);
    } catch (cause) {
      throw new TsrunError('TSRUN_SYSTEM', `volume ${name}: open rootfs ${rootfs}`, { cause });
    }
    let src: number;
    try {
      src = openat2(rootFd, dest, O_PATH | O_DIRECTORY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    } catch {
      return false; // nothing (or no directory) at that path in the image
    } finally {
      closeSync(rootFd);
    }
    const vdir = this.volumeDir(name);
    const tmp = path.join(vdir, `.copy-${randomBytes(4).toString('hex')}`);
    try {
      const r = spawnSync('cp', ['-a', '--', `/proc/${process.pid}/fd/${src}/.`, tmp], { encoding: 'utf8' });
      if (r.status !== 0) {
        throw new TsrunError('TSRUN_SYSTEM', `volume ${name}: copy the image's ${dest} up: ${(r.stderr || r.error?.message || `cp exit ${r.status}`).trim()}`);
      }
      if (!this.isEmpty(name)) return false; // another container filled it meanwhile: theirs stays
      renameSync(tmp, this.dataDir(name)); // replaces the empty directory
      return true;
    } finally {
      closeSync(src);
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

function statSafe(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}
