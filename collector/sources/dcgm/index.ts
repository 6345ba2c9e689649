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

/** The metrics dcgmGpus() uses: every other line of a scrape is skipped unread. */
const USED = new Set(['DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_POWER_USAGE_INSTANT', 'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_MEM_COPY_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_SM_CLOCK']);

/** Labels dcgmGpus() reads; the others of a line are skipped unread. */
const USED_LABELS = new Set(['gpu', 'modelName', 'UUID', 'pci_bus_id']);

/**
 * dcgmGpus(parsePromText(text)) for a scrape every report interval, without a regex per line:
 * only the lines of the metrics it uses are parsed (a full exporter serves dozens more), and of
 * their labels only those it reads (so a GPU named only by metrics it does not use, which would
 * have no reading, is not listed).
 */
export function dcgmGpusOf(text: string): Map<number, DcgmGpu> {
  const samples: PromSample[] = [];
  for (let i = 0; i < text.length; ) {
    let eol = text.indexOf('\n', i);
    if (eol < 0) eol = text.length;
    const sample = usedSample(text, i, eol);
    if (sample) samples.push(sample);
    i = eol + 1;
  }
  return dcgmGpus(samples);
}

/** The sample of the line [i, eol) where it is one of a metric dcgmGpus() uses. */
function usedSample(text: string, i: number, eol: number): PromSample | undefined {
  while (i < eol && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
  const c = text.charCodeAt(i);
  if (i >= eol || c === 0x23) return undefined;
  let at = i;
  for (let ch = c; at < eol && ch !== 0x7b && ch !== 0x20 && ch !== 0x09; ch = text.charCodeAt(++at));
  const name = text.slice(i, at);
  if (!USED.has(name)) return undefined;
  const labels: Record<string, string> = {};
  if (text.charCodeAt(at) === 0x7b) {
    // name="value", … } with \\, \" and \n escaped in values
    at++;
    for (;;) {
      while (at < eol && (text.charCodeAt(at) === 0x20 || text.charCodeAt(at) === 0x2c)) at++;
      if (at >= eol) return undefined;
      if (text.charCodeAt(at) === 0x7d) {
        at++;
        break;
      }
      const eq = text.indexOf('=', at);
      if (eq < 0 || eq >= eol || text.charCodeAt(eq + 1) !== 0x22) return undefined;
      const key = text.slice(at, eq).trim();
      let v = eq + 2;
      let escaped = false;
      for (; v < eol; v++) {
        const ch = text.charCodeAt(v);
        if (ch === 0x5c) {
          escaped = true;
          v++;
        } else if (ch === 0x22) break;
      }
      if (v >= eol) return undefined;
      if (USED_LABELS.has(key)) {
        const raw = text.slice(eq + 2, v);
        labels[key] = escaped ? raw.replace(/\\(["\\n])/g, (_, e: string) => (e === 'n' ? '\n' : e)) : raw;
      }
      at = v + 1;
    }
  }
  while (at < eol && (text.charCodeAt(at) === 0x20 || text.charCodeAt(at) === 0x09)) at++;
  let end = at;
  while (end < eol && text.charCodeAt(end) !== 0x20 && text.charCodeAt(end) !== 0x09 && text.charCodeAt(end) !== 0x0d) end++;
  const value = Number(text.slice(at, end));
  return end > at && !Number.isNaN(value) ? { name, labels, value } : undefined;
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
      this.latest = dcgmGpusOf(res.body);
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
