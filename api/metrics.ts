/**
 * The API's own metrics (prom-client), each documented in docs/METRICS.md (a test holds the two
 * together). Labelled counters start at 0 for every label value known in advance.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { buildInfoLabels } from '../common/build-info.js';
import { RUN_STATUSES } from '../common/model.js';

/** The periodic jobs (./jobs.ts), by the name their failures are counted under */
export const JOB_NAMES = ['abandon', 'recompute', 'rollup'] as const;
export type JobName = (typeof JOB_NAMES)[number];

export class ApiMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'wattscope_api_request_duration_seconds',
    help: 'HTTP request durations by route.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly energyQuery = new Histogram({
    name: 'wattscope_api_energy_query_seconds',
    help: 'Time to compute a run’s energy from InfluxDB.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly jobFailures = new Counter({ name: 'wattscope_api_job_failures_total', help: 'Failed runs of the periodic jobs (abandon, recompute, rollup).', labelNames: ['job'], registers: [this.registry] });
  readonly liveViewers: Gauge;
  readonly liveDropped = new Counter({ name: 'wattscope_api_live_viewers_dropped_total', help: 'Live-stream viewers cut off because they did not keep up (their buffer passed its bound).', registers: [this.registry] });
  readonly liveRefused = new Counter({ name: 'wattscope_api_live_viewers_refused_total', help: 'Live-stream viewers refused (503) because WATTSCOPE_LIVE_MAX_VIEWERS were already watching.', registers: [this.registry] });
  readonly runsByStatus: Gauge;
  constructor(countByStatus: () => Promise<Record<string, number>>, viewers: () => number = () => 0) {
    const live: Gauge = new Gauge({ name: 'wattscope_api_live_viewers', help: 'Viewers of the live stream now.', registers: [this.registry], collect: () => live.set(viewers()) });
    this.liveViewers = live;
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'wattscope_build_info', help: 'Always 1; its labels say which Wattscope and Node.js this process runs.', labelNames: ['component', 'version', 'nodejs'], registers: [this.registry] }).set(buildInfoLabels('api'), 1);
    for (const job of JOB_NAMES) this.jobFailures.inc({ job }, 0);
    // prom-client exports these gauges with a `_total` suffix, which Prometheus keeps for
    // counters (`promtool check metrics` flags them); the same counts stay available per type
    // in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources (sum() them)
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    const gauge = new Gauge({
      name: 'wattscope_api_runs',
      help: 'Runs in InfluxDB by status.',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        try {
          const counts = await countByStatus();
          // every status has its series, 0 where no run has it
          for (const status of RUN_STATUSES) gauge.set({ status }, counts[status] ?? 0);
        } catch {
          // InfluxDB unreachable: /healthz says so; the gauge keeps its last values
        }
      },
    });
    this.runsByStatus = gauge;
  }
}
