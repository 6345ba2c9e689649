/**
 * A run's own share of a shared host (docs/SCIENCE.md "Attribution"). The clients tell the
 * collector on their host which processes are a run's (`POST /runs` on its loopback port: the
 * CLI its child, the Python module itself); every report interval the collector follows their
 * process trees and attributes to the run:
 * - CPU and DRAM energy by the tree's share of the host's busy CPU time in the interval
 *   (`/proc/<pid>/stat`, children included — reaped children through cutime/cstime);
 * - a GPU's energy by the tree's share of the GPU's per-process SM utilisation (NVML), or the
 *   whole device when the tree's processes are the only ones on it; a GPU shared with others
 *   where per-process utilisation is not available is attributed whole, with a note.
 * Attributed energy goes out as `power` points with `method=attributed`, `in_total=false` and
 * the run's `run_id` tag, beside the host's points, never added to them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CPU, MEASUREMENT, POWER, RUN, type PowerDomain, type Sample } from '../common/model.js';
import { parseProcStat, type CpuTimes } from './procstat.js';
import { ProcFile } from './sysfs.js';
import type { GpuProcessUse, PowerChannel, Source } from './source.js';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks: the process and its reaped children */
  ticks: number;
  /** field 22: tells a reused PID from the one registered */
  start: number;
}

/** One line of /proc/<pid>/stat; undefined when it is not one. */
export function parsePidStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(' ')));
  // fields from the 3rd on, after the command name (which may hold spaces and parentheses)
  const f = text.slice(close + 2).split(' ');
  const n = (i: number) => Number(f[i - 3]);
  const stat = { pid, ppid: n(4), ticks: n(14) + n(15) + n(16) + n(17), start: n(22) };
  return Object.values(stat).every(Number.isFinite) ? stat : undefined;
}

/** The roots and every process below them. */
export function descendants(procs: ReadonlyMap<number, ProcStat>, roots: ReadonlySet<number>): Set<number> {
  const children = new Map<number, number[]>();
  for (const p of procs.values()) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const out = new Set<number>();
  const stack = [...roots].filter((r) => procs.has(r));
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    if (out.has(pid)) continue;
    out.add(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

/**
 * CPU time the host spent running anything: user, nice, system, irq, softirq — not idle, not
 * waiting on I/O, not stolen by a hypervisor. Interrupt time is not any process's: it stays
 * unattributed.
 */
export function busyTicks(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.irq + t.softirq;
}

/** A GPU's per-process use since a time (NVML), from the source that reads the GPU (declared with the sources' interface). */
export type { GpuProcessUse };

export interface GpuShare {
  share: number;
  note?: string;
}

/** A GPU's share that is a run's: by SM utilisation, whole when it is alone there, else whole with a note. */
export function gpuShare(use: GpuProcessUse | undefined, tree: ReadonlySet<number>): GpuShare | undefined {
  if (!use) return undefined;
  let mine = 0;
  let all = 0;
  for (const [pid, util] of use.smUtilByPid) {
    all += util;
    if (tree.has(pid)) mine += util;
  }
  if (all > 0) return { share: mine / all };
  const ours = use.processes.filter((p) => tree.has(p)).length;
  if (ours === 0) return { share: 0 };
  if (ours === use.processes.length) return { share: 1 };
  return { share: 1, note: 'shared with other processes and no per-process utilisation: attributed whole' };
}

interface TrackedRun {
  runId: string;
  roots: Map<number, number>; // pid → start time
  /** the tree's CPU ticks and the host's busy ticks at the last report (or at registration) */
  lastTicks: number;
  lastBusy: number | undefined;
  ending: boolean;
}

/** What the agent hands over each report: a channel's interval, ended at `timeMs`. */
export interface ChannelInterval {
  channel: PowerChannel;
  source: Source;
  energyJ: number;
  intervalS: number;
  timeMs: number;
}

/** CPU and DRAM energy is attributed by CPU time; GPU energy by the GPU's per-process use. */
const BY_CPU_TIME: ReadonlySet<PowerDomain> = new Set(['cpu', 'dram']);

export class RegistrationError extends Error {
  override name = 'RegistrationError';
}

export class RunTracker {
  private readonly runs = new Map<string, TrackedRun>();
  private lastGpuUs = Date.now() * 1000;

  /** /proc/stat, shared with the cpu source and the CPU estimate within a tick */
  private readonly procStat: ProcFile;

  constructor(
    private readonly procfs: string,
    private readonly hostTags: Record<string, string>,
  ) {
    this.procStat = new ProcFile(join(procfs, 'stat'), true);
  }

  get size(): number {
    return this.runs.size;
  }

  list(): Array<{ run_id: string; pids: number[] }> {
    return [...this.runs.values()].map((r) => ({ run_id: r.runId, pids: [...r.roots.keys()] }));
  }

  /** Follows these processes (and their children) as the run's; throws for a PID that is not there. */
  register(runId: string, pids: readonly number[]): void {
    const roots = new Map<number, number>();
    for (const pid of pids) {
      const stat = this.stat(pid);
      if (!stat) throw new RegistrationError(`no process ${pid} on this host (the collector reads ${this.procfs})`);
      roots.set(pid, stat.start);
    }
    const run = this.runs.get(runId);
    if (run) {
      for (const [pid, start] of roots) run.roots.set(pid, start);
      return;
    }
    // counted from now: the first interval attributes what the tree did since it was registered
    this.runs.set(runId, { runId, roots, lastTicks: this.treeTicks(this.processes(), roots), lastBusy: this.busy(), ending: false });
  }

  private busy(): number | undefined {
    const cpu = parseProcStat(this.procStat.read()).get(CPU.all);
    return cpu ? busyTicks(cpu) : undefined;
  }

  private treeTicks(procs: ReadonlyMap<number, ProcStat>, roots: ReadonlyMap<number, number>): number {
    let ticks = 0;
    for (const pid of descendants(procs, new Set(roots.keys()))) ticks += (procs.get(pid) as ProcStat).ticks;
    return ticks;
  }

  /** The run ended: one last interval is attributed to it at the next report, then it is forgotten. */
  unregister(runId: string): boolean {
    const run = this.runs.get(runId);
    if (run) run.ending = true;
    return run !== undefined;
  }

  private stat(pid: number): ProcStat | undefined {
    try {
      return parsePidStat(readFileSync(join(this.procfs, String(pid), 'stat'), 'utf8'));
    } catch {
      return undefined;
    }
  }

  private processes(): Map<number, ProcStat> {
    const out = new Map<number, ProcStat>();
    for (const name of readdirSync(this.procfs)) {
      if (!/^\d+$/.test(name)) continue;
      const s = this.stat(Number(name));
      if (s) out.set(s.pid, s);
    }
    return out;
  }

  /** The attributed points for the intervals the agent just reported. */
  attribute(intervals: readonly ChannelInterval[]): Sample[] {
    if (this.runs.size === 0) return [];
    const busy = this.busy();
    const procs = this.processes();
    const nowUs = Date.now() * 1000;
    const gpuUse = new Map<string, GpuProcessUse | undefined>();
    const out: Sample[] = [];
    for (const run of [...this.runs.values()]) {
      // a registered root that is gone, or whose PID now names another process, is no longer the run's
      for (const [pid, start] of run.roots) if (procs.get(pid)?.start !== start) run.roots.delete(pid);
      const tree = descendants(procs, new Set(run.roots.keys()));
      const ticks = this.treeTicks(procs, run.roots);
      // a root's ticks leave the tree with it (reaped by a process outside): count from what remains
      const dTicks = Math.max(0, ticks - run.lastTicks);
      const dBusy = busy !== undefined && run.lastBusy !== undefined ? busy - run.lastBusy : undefined;
      run.lastTicks = ticks;
      run.lastBusy = busy;
      const cpuShare = dBusy !== undefined && dBusy > 0 ? Math.min(1, dTicks / dBusy) : undefined;
      for (const iv of intervals) {
        const { channel } = iv;
        if (!channel.inTotal || iv.intervalS <= 0) continue;
        let share: number | undefined;
        let note: string | undefined;
        if (BY_CPU_TIME.has(channel.domain)) share = cpuShare;
        else if (channel.domain === 'gpu' && channel.gpu !== undefined) {
          const key = `${iv.source.name}:${channel.gpu}`;
          if (!gpuUse.has(key)) gpuUse.set(key, iv.source.gpuProcessUse?.(channel.gpu, this.lastGpuUs));
          const g = gpuShare(gpuUse.get(key), tree);
          share = g?.share;
          note = g?.note;
        }
        if (share === undefined) continue;
        const energyJ = iv.energyJ * share;
        out.push({
          measurement: MEASUREMENT.power,
          tags: {
            ...this.hostTags,
            [POWER.tags.source]: `attributed/${channel.id}`,
            [POWER.tags.domain]: channel.domain,
            [POWER.tags.method]: 'attributed',
            [POWER.tags.inTotal]: 'false',
            [RUN.tags.runId]: run.runId,
          },
          fields: { [POWER.fields.energyJ]: energyJ, [POWER.fields.powerW]: energyJ / iv.intervalS, [POWER.fields.intervalS]: iv.intervalS, [POWER.fields.share]: share, ...(note ? { [POWER.fields.note]: note } : {}) },
          timeMs: iv.timeMs,
        });
      }
      if (run.ending || (run.roots.size === 0 && tree.size === 0)) this.runs.delete(run.runId);
    }
    this.lastGpuUs = nowUs;
    return out;
  }
}
