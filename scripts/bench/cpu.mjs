// CPU time (user + system) of waited-for child processes, from getrusage(RUSAGE_CHILDREN)
// (getrusage(2)). On a loaded machine wall time swings with the scheduler; CPU time per call is
// far steadier, so the bench reports both. Loaded through koffi (a dependency of tsrun); without
// it the bench reports wall time only.
import { createRequire } from 'node:module';

const RUSAGE_CHILDREN = -1;

/** @returns {(() => number) | null} a reader of cumulative children CPU ms, or null */
export function childCpuReader(repo) {
  let koffi;
  try {
    koffi = createRequire(`${repo}/package.json`)('koffi');
  } catch {
    return null;
  }
  const timeval = koffi.struct('bench_timeval', { tv_sec: 'long', tv_usec: 'long' });
  // struct rusage: two timevals, then 14 longs (ru_maxrss ... ru_nivcsw).
  koffi.struct('bench_rusage', { ru_utime: timeval, ru_stime: timeval, rest: koffi.array('long', 14) });
  const getrusage = koffi.load('libc.so.6').func('int getrusage(int who, _Out_ bench_rusage *usage)');
  return () => {
    const r = {};
    if (getrusage(RUSAGE_CHILDREN, r) !== 0) return NaN;
    const ms = (t) => Number(t.tv_sec) * 1000 + Number(t.tv_usec) / 1000;
    return ms(r.ru_utime) + ms(r.ru_stime);
  };
}
