// Whether these tests run on an emulated CPU: the test VM (TSRUN_IN_VM=1, vagrant/vm-run.sh)
// under qemu TCG, which runs JavaScript about 14 times slower than the host and whose virtual
// CPUs are threads of a host process that is itself scheduled among the host's load
// (shared/reference/vm.md). There a wall-clock or CPU-time bound in milliseconds measures the
// emulator, not tsrun; functional assertions hold the same.
import fs from 'node:fs';

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * A sentence naming the emulator when the CPU is emulated (TCG), else undefined. Under KVM the
 * guest has the kvm-clock clocksource (arch/x86/kernel/kvmclock.c), which TCG never offers.
 */
export function emulatedCpu(): string | undefined {
  if (process.env.TSRUN_IN_VM !== '1') return undefined;
  if (read('/sys/devices/system/clocksource/clocksource0/available_clocksource').includes('kvm-clock')) return undefined;
  const model = /^model name\s*:\s*(.*)$/m.exec(read('/proc/cpuinfo'))?.[1]?.trim() ?? 'unknown CPU';
  return `running in the test VM under qemu TCG (no kvm-clock; CPU "${model}"), where time bounds measure the emulator`;
}
