/**
 * The one small interface every sensor implements: a plugin in its own folder under
 * ./sources/<name>/ (its code, its options, a README, testdata of real files and a golden file
 * of the points it produces on them), listed once in ./sources/index.ts.
 *
 * A plugin's `discover()` returns undefined when its hardware is not here: a quiet, normal
 * outcome. A source then offers
 * - power channels, integrated at the edge (./integrate.ts): a `counter` returns its running
 *   energy in joules and is read at each report (exact however rarely it is read); a `sampled`
 *   or `averaged` one returns watts and is read at the sample rate; the CPU estimate returns the
 *   mean power since its last read (`meanSinceLastRead`), read at each report too. Each says what it measures and which value it reads (`reading`); which
 *   channels add up to the host's total is decided for all of them at once by ./total.ts — a
 *   source never looks at another's channels;
 * - host metrics (cpu, mem, disk, net, gpu), collected once per report interval as samples;
 * - or work: an inference server's requests and tokens (`workload` points, ./sources/serving).
 * Sources never see InfluxDB: the agent owns batching, the spool and retries. Everything a
 * source reads is input (./sysfs.ts): text it cannot use skips the channel through
 * `SourceContext.problem`, and a read that throws or a value that is not a plausible number is
 * the agent's to count and say once; nothing a source does stops the others.
 */
import type { Config, OptionSpec } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { PowerDomain, PowerMethod, Sample } from '../common/model.js';
import type { HostGpu, HostWorkload } from '../common/host-record.js';
import type { SharedResources } from './resources/index.js';
import type { Measurand } from './total.js';

/** A GPU's per-process use since a time (NVML), from the source that reads the GPU: what attribution (./attribution.ts) splits a GPU's energy by. */
export interface GpuProcessUse {
  /** summed SM utilisation samples per process, since the time asked */
  smUtilByPid: Map<number, number>;
  /** processes with a compute context on the GPU now */
  processes: number[];
}

export interface PowerChannel {
  /** stable id, e.g. `rapl/package-0`, `hwmon/amdgpu-0/power1`, `nvml/0` */
  readonly id: string;
  readonly domain: PowerDomain;
  /**
   * `counter`, `sampled` (an instantaneous power) or `averaged` (a power the sensor averages
   * itself, so it lags load changes): a source offering several reads the best (DESIGN §5
   * "Readings") and says which in `reading`
   */
  readonly method: PowerMethod;
  /**
   * the value it reads, in its sensor's own words (`energy_uj`, `power1_input`,
   * `power.draw.instant`, `nvmlDeviceGetTotalEnergyConsumption`): listed with the source in the
   * host record and in a run's sources (docs/DATA-MODEL.md "Readings")
   */
  readonly reading: string;
  /** the file it reads, where it is one: named in the warnings about its values */
  readonly path?: string;
  /** what it measures, for the host-total policy (./total.ts) */
  readonly measures: Measurand;
  /** among readings of the same thing by the same method, lower is preferred */
  readonly rank: number;
  /**
   * true for the non-overlapping channels whose sum is the host's energy: set by the
   * host-total policy once every source is discovered (docs/DATA-MODEL.md)
   */
  inTotal: boolean;
  /** a fallback (the CPU estimate): left out altogether where the policy does not count it */
  readonly onlyIfCounted?: boolean;
  /** such a fallback's message, logged once where the policy counts it */
  readonly whenCounted?: string;
  /** counters only: the value at which the counter wraps to zero, in joules */
  readonly wrapJ?: number;
  /**
   * counters only: the most this channel can plausibly draw, in watts; a step implying more is
   * a counter reset, not a wrap (default: PLAUSIBLE_MAX_W of its domain, ./integrate.ts)
   */
  readonly maxPowerW?: number;
  /** per-GPU channels: the index of the GPU they measure (as in the `gpu` tag) */
  readonly gpu?: number;
  /**
   * true where read() gives the mean power since the channel's previous read, from counters
   * (the CPU estimate: its model at /proc/stat's utilisation since then): integrated exactly, as
   * that mean over the time between reads, and so read at each report as a counter is, not at
   * the sample rate
   */
  readonly meanSinceLastRead?: boolean;
  /** joules (counter) or watts (sampled, averaged, estimated); undefined when no value is available now */
  read(): number | undefined;
}

export interface Source {
  readonly name: string;
  channels(): readonly PowerChannel[];
  /** host metrics for the interval ending at `timeMs` (wall clock) */
  collect?(timeMs: number): Sample[];
  /**
   * reads of its own timing that failed since the last call (a server it scrapes that did not
   * answer): counted as this source's failed reads (wattscope_collector_source_errors_total
   * {kind="read"}, wattscope_collector_source_success 0)
   */
  failedReads?(): number;
  /** the inference servers it scrapes, for the host record (./sources/serving) */
  workload?(): HostWorkload[];
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
  /** what several sources share, owned once (the NVML binding, the nvidia-smi process) */
  resources: SharedResources;
  /** the collector's monotonic clock (ms), the one the agent reads on: for rates over an interval */
  now: () => number;
  /**
   * Each in-total power channel's energy so far (J, by channel id), read now: a source that
   * reports work (./sources/serving) puts the host's energy of its own intervals beside it.
   * Undefined until the agent runs.
   */
  hostEnergyJ?: (() => Readonly<Record<string, number>> | undefined) | undefined;
  /**
   * A sensor file or tool output this source cannot use (its channel is skipped): logged once
   * per `key` (the file) as a warning, and counted in /metrics
   * (`wattscope_collector_source_errors_total{source,kind}`). Never thrown: the other channels
   * and sources go on.
   */
  problem(kind: SourceProblemKind, key: string, message: string, fields?: Record<string, unknown>): void;
}

/** text: unusable sensor text (a name, a label); value: a reading that is not a finite, plausible number. */
export type SourceProblemKind = 'text' | 'value';

export interface SourceFactory {
  readonly name: string;
  /** its options, merged into the one config table (common/config.ts) and its docs */
  readonly options?: readonly OptionSpec[];
  discover(ctx: SourceContext): Promise<Source | undefined>;
}

/** Thrown by a read that failed for a reason a person must fix (logged once, source kept). */
export class SourceError extends Error {
  override name = 'SourceError';
}

/** A GPU's PCI address as `dddd:bb:dd.f` (lower case, 4-digit domain), from NVML's, DCGM's or sysfs' spelling. */
export function pciAddress(text: string | undefined): string | undefined {
  const m = /([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(text?.trim() ?? '');
  return m ? `${(m[1] as string).slice(-4)}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase() : undefined;
}

/** What a GPU channel measures: the board at its PCI address, else the NVIDIA index. */
export function gpuMeasurand(pci: string | undefined, index: number): Measurand {
  const address = pciAddress(pci);
  return { kind: 'device', key: address ? `gpu:${address}` : `gpu:nvidia-${index}` };
}
