/**
 * The one small interface every sensor implements (one file each under ./sources/).
 *
 * A source is found by `discover()`, which returns undefined when its hardware is not here: a
 * quiet, normal outcome. A source then offers
 * - power channels, read at the fast sample rate and integrated at the edge (./integrate.ts):
 *   a `counter` returns its running energy in joules, a `sampled` or `estimated` one returns watts;
 * - host metrics (cpu, mem, disk, net, gpu), collected once per report interval as samples.
 * Sources never see InfluxDB: the agent owns batching, the spool and retries.
 */
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { PowerDomain, PowerMethod, Sample } from '../common/model.js';
import type { HostGpu } from '../common/host-record.js';
import type { GpuProcessUse } from './attribution.js';

export interface PowerChannel {
  /** stable id, e.g. `rapl/package-0`, `hwmon/amdgpu-0/power1`, `nvml/0` */
  readonly id: string;
  readonly domain: PowerDomain;
  readonly method: PowerMethod;
  /** true for the non-overlapping channels whose sum is the host's energy (docs/DATA-MODEL.md) */
  readonly inTotal: boolean;
  /** counters only: the value at which the counter wraps to zero, in joules */
  readonly wrapJ?: number;
  /**
   * counters only: the most this channel can plausibly draw, in watts; a step implying more is
   * a counter reset, not a wrap (default: PLAUSIBLE_MAX_W of its domain, collector/integrate.ts)
   */
  readonly maxPowerW?: number;
  /** per-GPU channels: the index of the GPU they measure (as in the `gpu` tag) */
  readonly gpu?: number;
  /** joules (counter) or watts (sampled, estimated); undefined when no value is available now */
  read(): number | undefined;
}

export interface Source {
  readonly name: string;
  channels(): readonly PowerChannel[];
  /** host metrics for the interval ending at `timeMs` (wall clock) */
  collect?(timeMs: number): Sample[];
  /** the GPUs it found (index, model name, UUID), for the platform tag and the host record */
  gpus?(): HostGpu[];
  /**
   * per-process use of one of its GPUs since `sinceUs` (µs since the epoch), for attributing a
   * shared GPU to a run's processes; undefined where the device cannot tell (./attribution.ts)
   */
  gpuProcessUse?(gpu: number, sinceUs: number): GpuProcessUse | undefined;
  close?(): Promise<void> | void;
}

export interface SourceContext {
  config: Config;
  procfs: string;
  sysfs: string;
  log: Logger;
  /** tags every host point carries */
  hostTags: Record<string, string>;
  /** power channels found by the sources discovered before this one */
  channelsSoFar: readonly PowerChannel[];
}

export interface SourceFactory {
  readonly name: string;
  discover(ctx: SourceContext): Promise<Source | undefined>;
}

/** Thrown by a read that failed for a reason a person must fix (logged once, source kept). */
export class SourceError extends Error {
  override name = 'SourceError';
}
