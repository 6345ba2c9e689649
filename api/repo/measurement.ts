/**
 * Everything a run's measurement reads (../domain/measure.ts), in one batch of named statements:
 * the host records of its window, its energy sums and edge points, host metrics, what its
 * processes were attributed, its power curve, its hosts' latest baselines and the work of the
 * serving engines on its hosts (./workload.ts). A second request
 * follows only where a series' rollups have gaps (or the rollup job is behind) or a baseline is
 * not yet known to this process (completed baselines never change what net energy reads of them,
 * so they are kept).
 *
 * Hosts whose clock is off the API's (../domain/clock.ts) are read in their own clock — their
 * window shifted by their offset, in statements of their own — and what comes back is brought
 * to the API's clock, so the measurement sees one clock. Their offsets come from the host
 * records: when the caller has none, the batch reads them, and a run that turns out to have such
 * a host is read once more with the shifted windows.
 */
import type { HostRecord } from '../../common/host-record.js';
import type { InfluxStore, NamedStatements, StatementResult } from '../../common/storage/store.js';
import { clockShifts, shiftGroups, type ApiClock, type ClockShifts } from '../domain/clock.js';
import type { EdgePoint, SeriesWindowData } from '../domain/energy.js';
import { curvePlan, latestRecords, type AttributedRow, type MeasureInputs, type PowerCurve } from '../domain/measure.js';
import { planWindow } from '../domain/window-plan.js';
import type { Run } from '../domain/run-record.js';
import type { WorkloadEdge, WorkloadWindowData } from '../domain/workload.js';
import type { HostRepository } from './hosts.js';
import type { PowerRepository } from './power.js';
import type { RunRepository } from './runs.js';
import type { WorkloadRepository } from './workload.js';

export interface GatherRequest {
  run: Run;
  endMs: number;
  /** the window's host records, when the caller has them already (a stop read them to wait for arrival) */
  records?: readonly HostRecord[] | undefined;
  /** read the power curve for the steady part */
  steady: boolean;
  /** this API's clock minus InfluxDB's, with its error (undefined: not known yet, taken as 0) */
  apiClock?: ApiClock | undefined;
}

/** Baselines kept at most (a bound on memory; they are read again once dropped). */
const BASELINES_KEPT = 10_000;

type Results = Record<string, StatementResult | undefined | Array<StatementResult | undefined>>;

/** Statements under a prefix of their group, and results read back without it. */
const prefixed = (statements: NamedStatements, prefix: string): NamedStatements => Object.fromEntries(Object.entries(statements).map(([k, v]) => [prefix + k, v]));
function unprefixed<T>(results: Record<string, T>, prefix: string): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(results)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

const shiftEdge = (p: EdgePoint | undefined, ms: number): EdgePoint | undefined => (p && ms !== 0 ? { ...p, timeMs: p.timeMs - ms } : p);
const shiftWorkEdge = (p: WorkloadEdge | undefined, ms: number): WorkloadEdge | undefined => (p && ms !== 0 ? { ...p, timeMs: p.timeMs - ms } : p);
const shiftWork = (d: WorkloadWindowData, ms: number): WorkloadWindowData => (ms === 0 ? d : { ...d, firstInside: shiftWorkEdge(d.firstInside, ms), firstAfter: shiftWorkEdge(d.firstAfter, ms) });
const shiftSeries = (d: SeriesWindowData, ms: number): SeriesWindowData => (ms === 0 ? d : { ...d, firstInside: shiftEdge(d.firstInside, ms), firstAfter: shiftEdge(d.firstAfter, ms) });

export class MeasurementReads {
  private readonly baselines = new Map<string, Run>();

  constructor(
    private readonly store: InfluxStore,
    private readonly power: PowerRepository,
    private readonly hosts: HostRepository,
    private readonly runs: RunRepository,
    private readonly workload: WorkloadRepository,
  ) {}

  async gather(req: GatherRequest): Promise<Omit<MeasureInputs, 'gridIntensity'>> {
    const { run } = req;
    const t0 = run.started_at_ms;
    const t1 = Math.max(t0, req.endMs);
    const clock = req.records ? clockShifts(run.hosts, latestRecords(req.records), req.apiClock) : undefined;
    const groups = shiftGroups(run.hosts, clock ?? { shiftMs: new Map(), applied: {}, unknown: [] });
    const curve = req.steady ? curvePlan(t0, t1, planWindow(t0, t1, this.power.bucketMs), this.power.bucketMs) : null;
    const hasHosts = run.hosts.length > 0;
    if (hasHosts) await this.runs.indexOlderBaselines(); // once per process
    // each group of hosts (one, unless clocks are off) in its own clock, its statements under `g<i>.`
    const reads = groups.map((g, i) => {
      const from = t0 + g.shiftMs;
      const to = t1 + g.shiftMs;
      const window = this.power.windowRead(g.hosts, from, to, curve);
      const prefix = `g${i}.`;
      const statements: NamedStatements = {
        ...window.statements,
        ...this.power.attributedStatements(run.run_id, g.hosts, from, to),
        ...(curve ? this.power.curveStatements(curve, window.plan, { ...run, hosts: g.hosts }, from, to) : {}),
        ...this.workload.windowStatements(g.hosts, from, to),
      };
      return { group: g, window, prefix, statements: prefixed(statements, prefix) };
    });
    const first = await this.store.queryNamed({
      ...Object.assign({}, ...reads.map((r) => r.statements)),
      ...(req.records ? {} : this.hosts.duringStatements(run.hosts, t0, t1)),
      ...(hasHosts ? { 'b.index': this.runs.baselineIndexStatement(run.hosts, t0) } : {}),
    });
    if (!req.records) {
      // the records were read with the rest: a host whose clock is off is read again in its own
      const records = this.hosts.readDuring(first, t0, t1);
      const shifts = clockShifts(run.hosts, latestRecords(records), req.apiClock);
      if (shifts.shiftMs.size > 0) return this.gather({ ...req, records });
      return this.finish(req, t0, t1, reads, first, records, shifts, curve);
    }
    return this.finish(req, t0, t1, reads, first, req.records, clock as ClockShifts, curve);
  }

  private async finish(
    req: GatherRequest,
    t0: number,
    t1: number,
    reads: Array<{ group: { shiftMs: number; hosts: string[] }; window: ReturnType<PowerRepository['windowRead']>; prefix: string }>,
    first: Results,
    records: readonly HostRecord[],
    clock: ClockShifts,
    curve: ReturnType<typeof curvePlan> | null,
  ): Promise<Omit<MeasureInputs, 'gridIntensity'>> {
    const { run } = req;
    const follows = reads.map((r) => ({ ...r, follow: r.window.read(unprefixed(first, r.prefix)) }));
    const index = this.runs.readBaselineIndex(first['b.index'] as StatementResult | undefined);
    const unknown = [...new Set(index.values())].filter((id) => !this.baselines.has(id));
    const second = await this.store.queryNamed({
      ...Object.assign({}, ...follows.map((f) => prefixed(f.follow.statements, f.prefix))),
      'b.runs': this.runs.byIdsStatements(unknown),
    });
    for (const [id, baseline] of this.runs.readRuns(second['b.runs'] as Array<StatementResult | undefined>)) this.keep(id, baseline);
    const series: SeriesWindowData[] = [];
    const metrics: MeasureInputs['metrics'][number][] = [];
    const attributed: AttributedRow[] = [];
    const curves: PowerCurve[] = [];
    const workload: WorkloadWindowData[] = [];
    for (const f of follows) {
      const ms = f.group.shiftMs;
      const done = f.follow.finish(unprefixed(second, f.prefix) as Record<string, Array<StatementResult | undefined>>);
      series.push(...done.series.map((d) => shiftSeries(d, ms)));
      metrics.push(...done.metrics);
      attributed.push(...this.power.readAttributed(unprefixed(first, f.prefix)).map((a) => ({ ...a, window: shiftSeries(a.window, ms) })));
      if (curve) curves.push(shiftCurve(this.power.readCurve(curve, unprefixed(first, f.prefix), f.follow.curve), ms));
      workload.push(...this.workload.readWindow(unprefixed(first, f.prefix)).map((w) => shiftWork(w, ms)));
    }
    return {
      run,
      endMs: t1,
      records,
      series,
      metrics,
      attributed,
      baselines: this.runs.baselinesOf(index, this.baselines, t0),
      curve: curve ? mergeCurves(curves, curve.bucketMs) : null,
      clock,
      workload,
    };
  }

  private keep(id: string, baseline: Run): void {
    if (baseline.kind !== 'baseline' || baseline.status !== 'completed') return;
    if (this.baselines.size >= BASELINES_KEPT) this.baselines.clear();
    this.baselines.set(id, baseline);
  }
}

/**
 * A curve read in a host's clock, brought to the API's: its buckets moved by the shift rounded to
 * whole buckets (the steady part sums the sources bucket by bucket; a bucket is at most half of
 * one away from where the points of another clock fall — the steady part is found to a bucket).
 */
function shiftCurve(c: PowerCurve, ms: number): PowerCurve {
  if (ms === 0) return c;
  const by = Math.round(ms / c.bucketMs) * c.bucketMs;
  return {
    bucketMs: c.bucketMs,
    series: c.series.map((s) => ({ ...s, buckets: s.buckets.map((b) => ({ ...b, timeMs: b.timeMs - by })) })),
    attributed: c.attributed.map((a) => ({ ...a, timeMs: a.timeMs - by })),
  };
}

function mergeCurves(curves: readonly PowerCurve[], bucketMs: number): PowerCurve {
  if (curves.length === 1) return curves[0] as PowerCurve;
  const attributed = new Map<number, number>();
  for (const c of curves) for (const a of c.attributed) attributed.set(a.timeMs, (attributed.get(a.timeMs) ?? 0) + a.energyJ);
  return {
    bucketMs,
    series: curves.flatMap((c) => c.series),
    attributed: [...attributed.entries()].sort(([a], [b]) => a - b).map(([timeMs, energyJ]) => ({ timeMs, energyJ })),
  };
}
