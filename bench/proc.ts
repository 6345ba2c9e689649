/** Process accounting for the benchmarks (CPU seconds and resident memory from /proc/<pid>), and the RAPL stand-in they drive. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

export interface ProcUsage {
  cpuS: number;
  rssBytes: number;
  peakRssBytes: number;
}

export function usage(pid: number): ProcUsage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] utime, fields[12] stime (proc(5), counted from the field after the command)
  const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { cpuS, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function fmt(n: number, digits = 2): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/**
 * CPU seconds the whole machine has been busy (all cores, from /proc/stat): what the other
 * processes took is this minus what the measured ones took. This machine is shared, so the
 * benchmarks say how busy it was around them.
 */
export function machineBusyS(): number {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const f = (cpu ?? '').trim().split(/\s+/).slice(1).map(Number);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy / TICKS_PER_S;
}

/** A RAPL counter advanced at `watts` in 1 ms steps by a process of its own (as in the tests). */
export function raplDriver(file: string, watts: number): ChildProcess {
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(file)}, 'r+');
    const t0 = process.hrtime.bigint();
    const step = () => {
      const uj = Math.floor(1e9 + ${watts} * Number(process.hrtime.bigint() - t0) / 1e3);
      fs.writeSync(fd, String(uj).padStart(20, '0') + '\\n', 0);
      setTimeout(step, 1);
    };
    step();`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}
