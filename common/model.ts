/**
 * The data model of Wattscope (docs/DATA-MODEL.md): every measurement, tag and field name,
 * and the unit each field carries, defined once. The collector, the API, the dashboards
 * generator and the tests import these names; no other file spells them.
 */

export const MEASUREMENT = {
  cpu: 'cpu',
  mem: 'mem',
  disk: 'disk',
  net: 'net',
  gpu: 'gpu',
  power: 'power',
  run: 'run',
  /** 10-minute sums of `power` per series, for long windows (docs/DATA-MODEL.md "Rollups") */
  powerRollup: 'power_10m',
  /** 10-minute sums and counts of `gpu` and `cpu` fields, for long-window averages */
  gpuRollup: 'gpu_10m',
  cpuRollup: 'cpu_10m',
  /** the API's own bookkeeping: the rollup watermark, and the log of runs changed (RUN_CHANGES) */
  state: 'wattscope_state',
  /** each collector's record of itself (docs/DATA-MODEL.md "host") */
  host: 'host',
  /**
   * where each host's completed baseline runs are: one point per host of such a run, at its
   * start (docs/DATA-MODEL.md "baseline"), so that the latest one is found without reading
   * every run
   */
  baseline: 'baseline',
  /**
   * a serving engine's work (vLLM, SGLang, TGI, Triton) in the interval ending at the point,
   * from its Prometheus counters (docs/DATA-MODEL.md "workload")
   */
  workload: 'workload',
} as const;
export type Measurement = (typeof MEASUREMENT)[keyof typeof MEASUREMENT];

/** Tags every host point carries. */
export const HOST_TAGS = { host: 'host', platform: 'platform' } as const;

export const CPU = {
  tags: { cpu: 'cpu' },
  fields: { usagePct: 'usage_pct', userPct: 'user_pct', systemPct: 'system_pct', iowaitPct: 'iowait_pct' },
  /** value of the `cpu` tag for the whole machine */
  all: 'all',
} as const;

export const MEM = {
  fields: {
    totalBytes: 'total_bytes',
    usedBytes: 'used_bytes',
    availableBytes: 'available_bytes',
    usedPct: 'used_pct',
  },
} as const;

export const DISK = {
  tags: { device: 'device' },
  fields: {
    readBytesPerS: 'read_bytes_per_s',
    writeBytesPerS: 'write_bytes_per_s',
    readIops: 'read_iops',
    writeIops: 'write_iops',
    busyPct: 'busy_pct',
  },
} as const;

export const NET = {
  tags: { iface: 'iface' },
  fields: { rxBytesPerS: 'rx_bytes_per_s', txBytesPerS: 'tx_bytes_per_s' },
} as const;

export const GPU = {
  tags: { gpu: 'gpu', gpuName: 'gpu_name' },
  fields: {
    utilPct: 'util_pct',
    memUsedBytes: 'mem_used_bytes',
    memTotalBytes: 'mem_total_bytes',
    memUtilPct: 'mem_util_pct',
    tempC: 'temp_c',
    smClockMhz: 'sm_clock_mhz',
  },
} as const;

export const POWER = {
  tags: { source: 'source', domain: 'domain', method: 'method', inTotal: 'in_total' },
  fields: {
    energyJ: 'energy_j',
    powerW: 'power_w',
    intervalS: 'interval_s',
    powerMinW: 'power_min_w',
    powerMaxW: 'power_max_w',
    /**
     * counter channels, on the first point after a collector's restart in the same boot: the
     * seconds of its interval during which no collector ran, bridged exactly by the counter
     * (its reading before the restart, kept beside the spool, and its first after)
     */
    bridgedS: 'bridged_s',
    /** attributed points: the run's share of the source's energy in the interval (0–1) */
    share: 'share',
    /** attributed points: how a share was found when it is not the usual way (a shared GPU attributed whole) */
    note: 'note',
  },
} as const;

/**
 * `workload`: what an inference server did in the interval that ends at the point, as the
 * difference of its Prometheus counters between two scrapes (collector/sources/serving). Like a
 * `power` point it covers the interval that ends at its timestamp, so the work of any window is a
 * sum prorated at the two edges, exactly as its energy (api/domain/workload.ts).
 */
export const WORKLOAD = {
  tags: {
    /** the engine recognised by its metric names: `vllm`, `sglang`, `tgi`, `triton`, or the configured name */
    engine: 'engine',
    /** the model it served (the engine's `model_name` or `model` label, TGI's /info) */
    modelName: 'model_name',
    /** the endpoint scraped, `host:port` (two servers of one model on one host are two series) */
    instance: 'instance',
  },
  fields: {
    /** requests finished in the interval */
    requests: 'requests',
    /** prompt (prefill) tokens processed in the interval */
    promptTokens: 'prompt_tokens',
    /** output (generated) tokens in the interval */
    outputTokens: 'output_tokens',
    /** the interval's length: from the previous scrape of the endpoint to this one */
    intervalS: 'interval_s',
    /**
     * the host's energy over the same interval (its in-total power sources, read at the two
     * scrapes): energy per token in one query where no join exists (Grafana's InfluxQL), and
     * GET /api/workload's per-server figures (a server that started inside a range is not
     * charged for the time before). A run's figures come from the `power` points (scoped,
     * coverage-checked). Several engines on one host each carry the whole host's energy.
     */
    energyJ: 'energy_j',
  },
} as const;

/** The counted fields of a `workload` point, in the order they are shown. */
export const WORKLOAD_COUNTS = [WORKLOAD.fields.requests, WORKLOAD.fields.promptTokens, WORKLOAD.fields.outputTokens] as const;
export type WorkloadCount = (typeof WORKLOAD_COUNTS)[number];

/**
 * The `host` record: what only the collector knows about its host — platform, hardware, the
 * power sources it reads and how late its points can arrive — written at start, whenever its
 * sources change and every minute (common/host-record.ts reads and writes it).
 */
export const HOST_RECORD = {
  fields: {
    cpuModel: 'cpu_model',
    /** JSON: [{ index, name, uuid }] of the GPUs found */
    gpus: 'gpus',
    /**
     * JSON: [{ id, domain, method, in_total, gpu, reading }] of every power source read;
     * `reading` is the value each reads in its sensor's own words (`power.draw.instant`,
     * `power1_average`, `energy_uj`: common/host-record.ts HostSource), which a run's sources
     * name too
     */
    sources: 'sources',
    sampleHz: 'sample_hz',
    reportIntervalS: 'report_interval_s',
    flushIntervalS: 'flush_interval_s',
    version: 'version',
    /** this host's clock minus InfluxDB's, from the Date of InfluxDB's responses */
    clockOffsetS: 'clock_offset_s',
    /** ± bound of that estimate */
    clockOffsetErrorS: 'clock_offset_error_s',
    startedAtMs: 'started_at_ms',
    /** its grid's carbon intensity, g CO₂ per kWh (WATTSCOPE_GRID_INTENSITY of the collector); absent when not set */
    gridIntensity: 'grid_intensity_g_per_kwh',
    /**
     * JSON: [{ instance, engine }] of the inference servers it scrapes (WATTSCOPE_SERVING_METRICS_URL),
     * whose `workload` points a run's stop waits for like its power points; absent where none
     */
    workload: 'workload',
  },
} as const;

export const ROLLUP = {
  bucketMs: 10 * 60 * 1000,
  fields: { energyJ: 'energy_j', intervalS: 'interval_s', points: 'points', sumSuffix: '_sum', countSuffix: '_count' },
  state: { key: 'key', watermarkMs: 'watermark_ms', rollupKey: 'rollup_10m' },
} as const;

/**
 * The log of ended runs written (in `wattscope_state`, key `run_changes`): one point per write of
 * a run that is no longer running, at the writer's clock, naming the run, in a series of its
 * writer's own (tag `writer`: one per API process, whose entries' times never repeat, so no two
 * entries are one point) — so that every API
 * replica keeps its comparison of models × platforms up to date by reading the runs changed
 * since it last looked, instead of every run (docs/DATA-MODEL.md "The comparison").
 */
export const RUN_CHANGES = { key: 'run_changes', tags: { writer: 'writer' }, fields: { runId: 'run_id' } } as const;

export const BASELINE = {
  tags: { host: 'host' },
  fields: { runId: 'run_id' },
} as const;

export const POWER_DOMAINS = ['cpu', 'dram', 'gpu', 'soc', 'system', 'other'] as const;
export type PowerDomain = (typeof POWER_DOMAINS)[number];

/**
 * counter: a hardware energy counter, differenced (exact);
 * sampled: instantaneous power integrated at the edge at a high rate;
 * averaged: a power the sensor averages itself (nvidia-smi's `power.draw` on Ampere and newer,
 * NVML's `nvmlDeviceGetPowerUsage` there, hwmon `power*_average`: about a second), integrated at
 * the edge like a sampled one but lagging every load change by about half its window: read only
 * where the device offers neither a counter nor an instantaneous power (docs/SCIENCE.md
 * "Averaged readings");
 * estimated: a model (TDP × utilisation) where no sensor exists;
 * attributed: a run's share of a source's energy (docs/SCIENCE.md "Attribution"), tagged with
 * the run's `run_id`, never in the host's total.
 */
export const POWER_METHODS = ['counter', 'sampled', 'averaged', 'estimated', 'attributed'] as const;
export type PowerMethod = (typeof POWER_METHODS)[number];

/** The `run` point's tags (its fields are defined with the run, api/domain/run-record.ts). */
export const RUN = {
  tags: {
    runId: 'run_id',
    model: 'model',
    platform: 'platform',
    /**
     * the series of repeated runs it belongs to (`wattscope bench`); a tag, so that Grafana can
     * group a series' runs (InfluxQL groups by tags only); absent on runs outside a series
     */
    seriesId: 'series_id',
  },
} as const;

export const RUN_STATUSES = ['running', 'completed', 'failed', 'abandoned'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const RUN_KINDS = ['inference', 'training', 'baseline', 'imported'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** Units of every numeric field, for the dashboards (Grafana unit ids) and the docs. */
export const UNITS: Record<string, { unit: string; grafana: string }> = {
  usage_pct: { unit: '%', grafana: 'percent' },
  user_pct: { unit: '%', grafana: 'percent' },
  system_pct: { unit: '%', grafana: 'percent' },
  iowait_pct: { unit: '%', grafana: 'percent' },
  used_pct: { unit: '%', grafana: 'percent' },
  busy_pct: { unit: '%', grafana: 'percent' },
  util_pct: { unit: '%', grafana: 'percent' },
  mem_util_pct: { unit: '%', grafana: 'percent' },
  total_bytes: { unit: 'B', grafana: 'bytes' },
  used_bytes: { unit: 'B', grafana: 'bytes' },
  available_bytes: { unit: 'B', grafana: 'bytes' },
  mem_used_bytes: { unit: 'B', grafana: 'bytes' },
  mem_total_bytes: { unit: 'B', grafana: 'bytes' },
  read_bytes_per_s: { unit: 'B/s', grafana: 'Bps' },
  write_bytes_per_s: { unit: 'B/s', grafana: 'Bps' },
  rx_bytes_per_s: { unit: 'B/s', grafana: 'Bps' },
  tx_bytes_per_s: { unit: 'B/s', grafana: 'Bps' },
  read_iops: { unit: '1/s', grafana: 'iops' },
  write_iops: { unit: '1/s', grafana: 'iops' },
  temp_c: { unit: '°C', grafana: 'celsius' },
  sm_clock_mhz: { unit: 'MHz', grafana: 'rotmhz' },
  energy_j: { unit: 'J', grafana: 'joule' },
  energy_net_j: { unit: 'J', grafana: 'joule' },
  power_w: { unit: 'W', grafana: 'watt' },
  power_min_w: { unit: 'W', grafana: 'watt' },
  power_max_w: { unit: 'W', grafana: 'watt' },
  avg_power_w: { unit: 'W', grafana: 'watt' },
  interval_s: { unit: 's', grafana: 's' },
  report_interval_s: { unit: 's', grafana: 's' },
  flush_interval_s: { unit: 's', grafana: 's' },
  clock_offset_s: { unit: 's', grafana: 's' },
  sample_hz: { unit: 'Hz', grafana: 'hertz' },
  duration_s: { unit: 's', grafana: 's' },
  energy_per_inference_uwh: { unit: 'µWh', grafana: 'none' },
  energy_per_inference_steady_uwh: { unit: 'µWh', grafana: 'none' },
  steady_power_w: { unit: 'W', grafana: 'watt' },
  steady_rise_s: { unit: 's', grafana: 's' },
  steady_tail_s: { unit: 's', grafana: 's' },
  energy_per_request_j: { unit: 'J', grafana: 'joule' },
  energy_per_output_token_j: { unit: 'J', grafana: 'joule' },
};

/** A field value as it goes into line protocol: floats, integers (marked), strings, booleans. */
export type FieldValue = number | string | boolean | { int: number };

/** One point, in the form every part builds before it becomes line protocol. */
export interface Sample {
  measurement: Measurement;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** wall-clock time, milliseconds since the epoch */
  timeMs: number;
}
