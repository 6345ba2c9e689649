/**
 * How many test files run at once, from how busy this machine is when the suite starts (as
 * `make -l` holds back jobs on a loaded machine). On a quiet machine: five files at a time, and
 * tests that only wait run side by side within their file (`sideBySide` in ../helpers.ts). With
 * other work keeping the cores busy: three at a time, each file's tests one after another — its
 * e2e tests wait on real processes whose timing a busy machine already stretches, and beside two
 * busy loops the quiet machine's setting failed timing bounds (and, before its autogroup was
 * set, saw the suite's influxd not answer for 5–10 s).
 * WATTSCOPE_TEST_WORKERS=N sets the number (and N ≤ 3 runs each file's tests one after another).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { CPU } from '../../common/model.js';
import { cpuUsage, parseProcStat } from '../../collector/procstat.js';

export const QUIET_WORKERS = 5;
export const BUSY_WORKERS = 3;
/** Above this share of the CPUs in use by others, the machine counts as busy. */
const BUSY_SHARE = 0.5;

/**
 * The share of the CPUs that other work used over `ms` (the collector's own /proc/stat reading,
 * less this process's CPU time: vitest's own start-up runs beside the sample), or undefined
 * where it cannot be read.
 */
async function busyShare(ms: number): Promise<number | undefined> {
  const read = () => parseProcStat(readFileSync('/proc/stat', 'utf8')).get(CPU.all);
  try {
    const [a, ownBefore, t0] = [read(), process.cpuUsage(), performance.now()];
    await new Promise((r) => setTimeout(r, ms));
    const [b, own, seconds] = [read(), process.cpuUsage(ownBefore), (performance.now() - t0) / 1000];
    const usage = a && b ? cpuUsage(a, b) : undefined;
    if (!usage) return undefined;
    const cpus = availableParallelism();
    const othersS = (usage.usagePct / 100) * cpus * seconds - (own.user + own.system) / 1e6;
    return Math.max(0, othersS) / (cpus * seconds);
  } catch {
    return undefined;
  }
}

export interface SuiteLoad {
  workers: number;
  /** tests of one file that only wait may run side by side */
  sideBySide: boolean;
  /** what was decided, and why, for the suite's first line */
  said: string;
}

export async function suiteLoad(env: NodeJS.ProcessEnv = process.env): Promise<SuiteLoad> {
  const set = env.WATTSCOPE_TEST_WORKERS;
  if (set !== undefined && set !== '') {
    const n = Number(set);
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`WATTSCOPE_TEST_WORKERS takes a whole number from 1 to 16, got ${set}`);
    return { workers: n, sideBySide: n > BUSY_WORKERS, said: `${n} test files at a time (WATTSCOPE_TEST_WORKERS)` };
  }
  const share = await busyShare(1000);
  if (share !== undefined && share > BUSY_SHARE) {
    return { workers: BUSY_WORKERS, sideBySide: false, said: `this machine is busy (${Math.round(share * 100)} % of its CPUs used by other work as the suite starts): ${BUSY_WORKERS} test files at a time, each file's tests one after another` };
  }
  return { workers: QUIET_WORKERS, sideBySide: true, said: `${QUIET_WORKERS} test files at a time${share === undefined ? '' : ` (${Math.round(share * 100)} % of the CPUs used by other work as the suite starts)`}` };
}
