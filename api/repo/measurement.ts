/**
 * Everything a run's measurement reads (../domain/measure.ts), in one batch of named statements:
 * the host records of its window, its energy sums and edge points, host metrics, what its
 * processes were attributed, its power curve, its hosts' latest baselines and the work of the
 * serving engines on its hosts (./workload.ts). A second request
 * follows only where a series' rollups have gaps (or the rollup job is behind) or a baseline is
 * not yet known to this process (completed baselines never change what net energy reads of them,
 * so they are kept).
 */
import type { HostRecord } from '../../common/host-record.js';
import type { InfluxStore, StatementResult } from '../../common/storage/store.js';
import { curvePlan, type MeasureInputs } from '../domain/measure.js';
import { planWindow } from '../domain/window-plan.js';
import type { Run } from '../domain/run-record.js';
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
}

/** Baselines kept at most (a bound on memory; they are read again once dropped). */
const BASELINES_KEPT = 10_000;

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
    const curve = req.steady ? curvePlan(t0, t1, planWindow(t0, t1, this.power.bucketMs), this.power.bucketMs) : null;
    const window = this.power.windowRead(run.hosts, t0, t1, curve);
    const hasHosts = run.hosts.length > 0;
    if (hasHosts) await this.runs.indexOlderBaselines(); // once per process
    const first = await this.store.queryNamed({
      ...window.statements,
      ...(req.records ? {} : this.hosts.duringStatements(run.hosts, t0, t1)),
      ...(hasHosts ? { 'a.attributed': this.power.attributedStatement(run.run_id, run.hosts, t0, t1), 'b.index': this.runs.baselineIndexStatement(run.hosts, t0) } : {}),
      ...(curve ? this.power.curveStatements(curve, window.plan, run, t0, t1) : {}),
      ...this.workload.windowStatements(run.hosts, t0, t1),
    });
    const follow = window.read(first);
    const index = this.runs.readBaselineIndex(first['b.index'] as StatementResult | undefined);
    const unknown = [...new Set(index.values())].filter((id) => !this.baselines.has(id));
    const second = await this.store.queryNamed({ ...follow.statements, 'b.runs': this.runs.byIdsStatements(unknown) });
    for (const [id, baseline] of this.runs.readRuns(second['b.runs'] as Array<StatementResult | undefined>)) this.keep(id, baseline);
    const { series, metrics } = follow.finish(second as Record<string, Array<StatementResult | undefined>>);
    return {
      run,
      endMs: t1,
      records: req.records ?? this.hosts.readDuring(first),
      series,
      metrics,
      attributed: this.power.readAttributed(first['a.attributed'] as StatementResult | undefined),
      baselines: this.runs.baselinesOf(index, this.baselines, t0),
      curve: curve ? this.power.readCurve(curve, first, follow.curve) : null,
      workload: this.workload.readWindow(first),
    };
  }

  private keep(id: string, baseline: Run): void {
    if (baseline.kind !== 'baseline' || baseline.status !== 'completed') return;
    if (this.baselines.size >= BASELINES_KEPT) this.baselines.clear();
    this.baselines.set(id, baseline);
  }
}
