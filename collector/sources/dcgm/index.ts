/**
 * NVIDIA GPUs through a dcgm-exporter endpoint (WATTSCOPE_DCGM_URL): its Prometheus text is
 * scraped once per report interval. `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION` (mJ) is the energy
 * counter; where the exporter leaves it out, `DCGM_FI_DEV_POWER_USAGE_INSTANT` (W) is sampled,
 * else `DCGM_FI_DEV_POWER_USAGE` (W, a running average on Ampere and newer: `averaged`). Beside NVML on
 * the same GPUs (by PCI address) the host-total policy counts one of them (../../total.ts).
 */
import type { Sample } from '../../../common/model.js';
import type { HostGpu } from '../../../common/host-record.js';
import type { Logger } from '../../../common/log.js';
import { gpuSample, MIB, type GpuReading } from '../../resources/gpu-point.js';
import type { OptionSpec } from '../../../common/config.js';
import { optionValue } from '../../../common/option-value.js';
import { send } from '../../../common/storage/http.js';
import { gpuMeasurand, type PowerChannel, type Source, type SourceFactory } from '../../source.js';
import { labelText, parsePromText, type PromSample } from '../../prometheus-text.js';

/** The page's parser, shared with the serving source (../../prometheus-text.ts); re-exported for this plugin's tests. */
export { parsePromText };

export const DCGM_URL = { key: 'collector.dcgmUrl', env: 'WATTSCOPE_DCGM_URL', kind: 'string', default: '', doc: 'dcgm-exporter metrics URL (e.g. http://localhost:9400/metrics). Empty: no DCGM source.' } as const satisfies OptionSpec;

/** Among readings of one GPU by the same method: after NVML, before nvidia-smi. */
const RANK = 1;

export interface DcgmGpu extends GpuReading {
  uuid: string | undefined;
  /** pci_bus_id label: what other readers of the same board know it by */
  pci: string | undefined;
  energyMj: number | undefined;
  /** DCGM_FI_DEV_POWER_USAGE: NVML's power reading, a running average on Ampere and newer */
  powerW: number | undefined;
  /** DCGM_FI_DEV_POWER_USAGE_INSTANT (field 157, DCGM 3.1+), where the exporter's counters list it */
  powerInstantW: number | undefined;
}

/** How a GPU's power is read from the exporter: its energy counter, else the instantaneous field, else the averaged one. */
export function dcgmReading(g: Pick<DcgmGpu, 'energyMj' | 'powerW' | 'powerInstantW'>): { reading: string; method: 'counter' | 'sampled' | 'averaged' } | undefined {
  if (g.energyMj !== undefined) return { reading: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', method: 'counter' };
  if (g.powerInstantW !== undefined) return { reading: 'DCGM_FI_DEV_POWER_USAGE_INSTANT', method: 'sampled' };
  if (g.powerW !== undefined) return { reading: 'DCGM_FI_DEV_POWER_USAGE', method: 'averaged' };
  return undefined;
}

/** Per GPU index, what dcgm-exporter reported. */
export function dcgmGpus(samples: readonly PromSample[]): Map<number, DcgmGpu> {
  const gpus = new Map<number, DcgmGpu>();
  const free = new Map<number, number>();
  for (const s of samples) {
    const index = Number(s.labels.gpu);
    if (!Number.isInteger(index) || index < 0 || !Number.isFinite(s.value)) continue;
    const g = gpus.get(index) ?? { index, name: labelText(s.labels.modelName) ?? `GPU ${index}`, uuid: labelText(s.labels.UUID), pci: labelText(s.labels.pci_bus_id), energyMj: undefined, powerW: undefined, powerInstantW: undefined };
    gpus.set(index, g);
    switch (s.name) {
      case 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION':
        g.energyMj = s.value;
        break;
      case 'DCGM_FI_DEV_POWER_USAGE':
        g.powerW = s.value;
        break;
      case 'DCGM_FI_DEV_POWER_USAGE_INSTANT':
        g.powerInstantW = s.value;
        break;
      case 'DCGM_FI_DEV_GPU_UTIL':
        g.utilPct = s.value;
        break;
      case 'DCGM_FI_DEV_MEM_COPY_UTIL':
        g.memUtilPct = s.value;
        break;
      case 'DCGM_FI_DEV_FB_USED':
        g.memUsedBytes = s.value * MIB;
        break;
      case 'DCGM_FI_DEV_FB_FREE':
        free.set(index, s.value * MIB);
        break;
      case 'DCGM_FI_DEV_GPU_TEMP':
        g.tempC = s.value;
        break;
      case 'DCGM_FI_DEV_SM_CLOCK':
        g.smClockMhz = s.value;
        break;
    }
  }
  for (const [index, f] of free) {
    const g = gpus.get(index);
    if (g?.memUsedBytes !== undefined) g.memTotalBytes = g.memUsedBytes + f;
  }
  return gpus;
}

class DcgmScraper {
  latest = new Map<number, DcgmGpu>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}
  async scrape(): Promise<boolean> {
    if (this.inFlight) return false;
    this.inFlight = true;
    try {
      // node:http, not fetch: undici's fetch cost this collector ~15 MB of memory and ~20 % of
      // its busy time scraping once a second (measured with 8 GPUs)
      const res = await send(new URL(this.url), { timeoutMs: 3000 });
      if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
      this.latest = dcgmGpus(parsePromText(res.body));
      return true;
    } catch (e) {
      this.latest = new Map();
      this.log.once('dcgm-scrape', 'warn', `cannot scrape dcgm-exporter at ${this.url}; GPU readings from it pause until it answers`, { error: e });
      return false;
    } finally {
      this.inFlight = false;
    }
  }
  start(periodMs: number): void {
    this.timer = setInterval(() => void this.scrape(), periodMs);
    this.timer.unref();
  }
  close(): void {
    clearInterval(this.timer);
  }
}

class DcgmChannel implements PowerChannel {
  readonly domain = 'gpu' as const;
  readonly rank = RANK;
  inTotal = false;
  readonly id: string;
  readonly gpu: number;
  readonly measures;
  constructor(
    private readonly scraper: DcgmScraper,
    private readonly index: number,
    readonly method: 'counter' | 'sampled' | 'averaged',
    readonly reading: string,
    pci: string | undefined,
  ) {
    this.id = `dcgm/${index}`;
    this.gpu = index;
    this.measures = gpuMeasurand(pci, index);
  }
  read(): number | undefined {
    const g = this.scraper.latest.get(this.index);
    if (!g) return undefined;
    if (this.method === 'counter') return g.energyMj === undefined ? undefined : g.energyMj / 1000;
    return this.method === 'sampled' ? g.powerInstantW : g.powerW;
  }
}

class DcgmSource implements Source {
  readonly name = 'dcgm';
  constructor(
    private readonly scraper: DcgmScraper,
    private readonly list: PowerChannel[],
    private readonly devices: HostGpu[],
    private readonly hostTags: Record<string, string>,
  ) {}
  channels() {
    return this.list;
  }
  gpus() {
    return this.devices;
  }
  collect(timeMs: number): Sample[] {
    return [...this.scraper.latest.values()].map((g) => gpuSample(this.hostTags, g, timeMs)).filter((s): s is Sample => s !== undefined);
  }
  close() {
    this.scraper.close();
  }
}

export const dcgmSource: SourceFactory = {
  name: 'dcgm',
  options: [DCGM_URL],
  async discover(ctx) {
    const url = optionValue(ctx.config, DCGM_URL);
    if (!url) return undefined;
    const scraper = new DcgmScraper(url, ctx.log);
    if (!(await scraper.scrape()) || scraper.latest.size === 0) {
      ctx.log.once('dcgm-empty', 'warn', `dcgm-exporter at ${url} reports no GPU; the DCGM source stays off until the next rediscovery`);
      return undefined;
    }
    const gpus = [...scraper.latest.values()].sort((a, b) => a.index - b.index);
    const channels = gpus.flatMap((g) => {
      const how = dcgmReading(g);
      return how ? [new DcgmChannel(scraper, g.index, how.method, how.reading, g.pci)] : [];
    });
    scraper.start(Math.max(200, ctx.config.collector.reportIntervalS * 1000));
    return new DcgmSource(scraper, channels, gpus.map((g) => ({ index: g.index, name: g.name, uuid: g.uuid })), ctx.hostTags);
  },
};
