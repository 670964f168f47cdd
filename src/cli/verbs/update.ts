// runc update.go: -r/--resources FILE or "-" (stdin) with a LinuxResources JSON, otherwise the
// individual flags. Intel RDT schemata are not supported by tsrun.
import { InvalidArgumentError } from '../../errors.js';
import { readFileSync } from 'node:fs';
import { parseResourcesJson, resourcesFromFlags, updateContainer } from '../../container/update.js';
import type { LinuxResources } from '../../spec/types.js';
import type { VerbContext } from '../main.js';
import { str } from './flags.js';

/** -r FILE, or "-": the caller's standard input (containerd and CRI-O send it that way). */
function readResources(source: string): LinuxResources {
  const text = readFileSync(source === '-' ? 0 : source, 'utf8');
  return parseResourcesJson(text, source === '-' ? 'standard input' : source);
}

export default async function update({ cl, id }: VerbContext): Promise<number> {
  if (str(cl, 'l3-cache-schema') || str(cl, 'mem-bw-schema')) {
    throw new InvalidArgumentError('update: Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported by tsrun');
  }
  if (str(cl, 'kernel-memory') || str(cl, 'kernel-memory-tcp')) {
    throw new InvalidArgumentError('update: kernel memory limits are not supported (cgroup v2 accounts kernel memory in memory.max)');
  }
  const source = str(cl, 'resources');
  const pidsLimit = cl.flags['pids-limit'];
  const r = source
    ? readResources(source)
    : resourcesFromFlags({
        blkioWeight: typeof cl.flags['blkio-weight'] === 'number' ? (cl.flags['blkio-weight'] as number) : undefined,
        cpuPeriod: str(cl, 'cpu-period'),
        cpuQuota: str(cl, 'cpu-quota'),
        cpuBurst: str(cl, 'cpu-burst'),
        cpuShare: str(cl, 'cpu-share'),
        cpuRtPeriod: str(cl, 'cpu-rt-period'),
        cpuRtRuntime: str(cl, 'cpu-rt-runtime'),
        cpusetCpus: str(cl, 'cpuset-cpus'),
        cpusetMems: str(cl, 'cpuset-mems'),
        memory: str(cl, 'memory'),
        memoryReservation: str(cl, 'memory-reservation'),
        memorySwap: str(cl, 'memory-swap'),
        cpuIdle: str(cl, 'cpu-idle'),
        pidsLimit: typeof pidsLimit === 'number' ? pidsLimit : undefined,
      });
  await updateContainer({ root: cl.global.root, id, resources: r });
  return 0;
}
