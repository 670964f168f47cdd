// linux.resources.unified (runtime-spec 1.1): "cgroup v2 file name → value", written verbatim
// after every other controller so it may override them (runc fs2 setUnified). Keys are plain
// file names; a file that cannot be written is reported with its controller when that controller
// is not available to the cgroup.
import { CgroupError } from '../errors.js';
import { availableControllers, isErrno, writeCgroupFile } from './files.js';

/** The controller a unified key belongs to ("memory.high" → "memory"); cgroup.* files have none. */
export function unifiedController(key: string): string | undefined {
  const dot = key.indexOf('.');
  if (dot <= 0) return undefined;
  const c = key.slice(0, dot);
  return c === 'cgroup' ? undefined : c;
}

export function checkUnifiedKeys(unified: Record<string, string> | undefined): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(unified ?? {})) {
    if (key.includes('/') || key === '.' || key === '..') problems.push(`linux.resources.unified: ${JSON.stringify(key)} must be a file name (no slashes)`);
    else if (!key.includes('.')) problems.push(`linux.resources.unified: ${JSON.stringify(key)} must be in the form CONTROLLER.PARAMETER`);
  }
  return problems;
}

export function setUnified(dir: string, unified: Record<string, string> | undefined): void {
  const problems = checkUnifiedKeys(unified);
  if (problems.length) throw new CgroupError(problems.join('; '));
  for (const [key, value] of Object.entries(unified ?? {})) {
    try {
      // One write per line (runc WriteFileByLine): io.max and rdma.max take one device per write.
      const lines = value.split('\n').filter((l) => l !== '');
      for (const line of lines.length ? lines : ['']) writeCgroupFile(dir, key, line);
    } catch (err) {
      const c = unifiedController(key);
      if (c && isErrno(err, 'ENOENT', 'EACCES', 'EPERM') && !availableControllers(dir).includes(c)) {
        throw new CgroupError(`linux.resources.unified: ${JSON.stringify(key)} can't be set: controller "${c}" is not available in cgroup ${dir}`, {
          cause: err,
        });
      }
      throw new CgroupError(`linux.resources.unified: ${JSON.stringify(key)} can't be set: ${(err as Error).message}`, { cause: err });
    }
  }
}
