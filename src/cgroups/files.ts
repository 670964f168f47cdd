// Reading and writing cgroup v2 interface files (Documentation/admin-guide/cgroup-v2.rst
// "Interface Files"). Every failure names the file, the value and the cgroup, because an
// engine shows the user one line (runc PR#4928).
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CgroupError } from '../errors.js';

export function cgroupFile(dir: string, file: string): string {
  // A file name with a slash would escape the cgroup directory (runc fs2 setUnified).
  if (file.includes('/') || file === '..' || file === '.') throw new CgroupError(`cgroup file name ${JSON.stringify(file)} must not contain a slash`);
  return path.join(dir, file);
}

/**
 * One write(2) of value (newline-terminated, as `echo v > file`) to an existing file, never
 * created. O_APPEND changes nothing on cgroupfs, where every write is one command, and lets a
 * fake cgroupfs of regular files keep every write, one per line.
 */
export function writeExisting(file: string, value: string): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND);
  try {
    writeSync(fd, value.endsWith('\n') ? value : `${value}\n`);
  } finally {
    closeSync(fd);
  }
}

export function writeCgroupFile(dir: string, file: string, value: string): void {
  try {
    // O_WRONLY without O_CREAT: a missing file is ENOENT, not a new regular file; write-only
    // files (cgroup.kill, mode 0200) refuse O_RDWR even to root (kernfs_fop_open).
    writeExisting(cgroupFile(dir, file), value);
  } catch (err) {
    if (err instanceof CgroupError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new CgroupError(`write ${JSON.stringify(value)} to ${file} in cgroup ${dir}: ${code}`, { cause: err });
  }
}

export function readCgroupFile(dir: string, file: string): string {
  try {
    return readFileSync(cgroupFile(dir, file), 'utf8');
  } catch (err) {
    if (err instanceof CgroupError) throw err;
    throw new CgroupError(`read ${file} in cgroup ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'EIO'}`, { cause: err });
  }
}

/** The file's content, or undefined when it does not exist (controller off, old kernel). */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(cgroupFile(dir, file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return undefined;
    throw new CgroupError(`read ${file} in cgroup ${dir}: ${code ?? 'EIO'}`, { cause: err });
  }
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, cgroup.events). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = v === 'max' ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  return out;
}

/** A single number file; "max" reads as undefined (no limit). */
export function parseSingle(text: string | undefined): number | undefined {
  const v = text?.trim();
  if (v === undefined || v === '' || v === 'max') return undefined;
  return Number(v);
}

/** The controllers this cgroup may use (cgroup.controllers: what its parent enables). */
export function availableControllers(dir: string): string[] {
  return (readOptional(dir, 'cgroup.controllers') ?? '').trim().split(/\s+/).filter(Boolean);
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  let e: unknown = err;
  while (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && codes.includes(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
