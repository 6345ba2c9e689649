/**
 * Inference servers as a source of work (README.md): the Prometheus endpoints named in
 * WATTSCOPE_SERVING_METRICS_URL are scraped once per report interval, and each scrape after the
 * first gives one `workload` point per engine and model — requests, prompt tokens and output
 * tokens done since the previous scrape, exact from the counters' differences — stamped at the
 * scrape, with the interval's length, so that a window's work is prorated at its edges like its
 * energy. No power channel: the energy is the other sources'; each point carries the host's
 * energy over its interval beside the work (read through the agent at each scrape), so that J per
 * token is one query.
 *
 * The scrape is asynchronous and the agent's collect() is not: each report hands over the points
 * of the scrapes finished since the last one and starts the next scrape of every endpoint whose
 * previous one is done (never two at once). A server that does not answer pauses its points with
 * one warning, counted as a failed read of this source; when it answers again, its next point
 * covers the whole pause. Nothing a server sends stops the collector: the page is input
 * (../../prometheus-text.ts), bounded in size and time.
 */
import type { OptionSpec } from '../../../common/config.js';
import { MEASUREMENT, WORKLOAD, WORKLOAD_COUNTS, type Sample } from '../../../common/model.js';
import type { HostWorkload } from '../../../common/host-record.js';
import { optionValue } from '../../../common/option-value.js';
import { send } from '../../../common/storage/http.js';
import { parsePromPage } from '../../prometheus-text.js';
import type { Source, SourceContext, SourceFactory } from '../../source.js';
import { countedSeries, customEngine, ENGINES, type EngineSpec } from './engines.js';
import { EndpointCounters, type WorkloadInterval } from './workload.js';

export const SERVING_METRICS_URL = {
  key: 'collector.servingMetricsUrl',
  env: 'WATTSCOPE_SERVING_METRICS_URL',
  kind: 'list',
  default: [],
  doc: 'Comma list of inference servers’ Prometheus endpoints on this host (vLLM `http://127.0.0.1:8000/metrics`, SGLang `:30000/metrics`, TGI `:8080/metrics`, Triton `:8002/metrics`), scraped every report interval into `workload` points: requests, prompt and output tokens, for energy per request and per token. Empty: none.',
} as const satisfies OptionSpec;

export const SERVING_COUNTERS = {
  key: 'collector.servingCounters',
  env: 'WATTSCOPE_SERVING_COUNTERS',
  kind: 'list',
  default: [],
  doc: 'For a server whose metric names Wattscope does not know: its counters, as `requests=NAME,prompt_tokens=NAME,output_tokens=NAME` (any of them; a histogram’s `_sum` or `_count` works too), with `model_label=LABEL` (the label naming the model) and `engine=NAME` (the `engine` tag; default `custom`). Tried before the known engines on every endpoint.',
} as const satisfies OptionSpec;

/** A page larger than this is not a metrics page (a misconfigured URL): it is refused. */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;
const SCRAPE_TIMEOUT_MS = 5000;

/** A URL as it may be shown: no credentials. */
function shown(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

export function parseEndpoints(urls: readonly string[]): URL[] {
  return urls.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`WATTSCOPE_SERVING_METRICS_URL: "${text.replace(/\/\/[^/@]*@/, '//')}" is not a URL (e.g. http://127.0.0.1:8000/metrics)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`WATTSCOPE_SERVING_METRICS_URL: "${text.replace(/\/\/[^/@]*@/, '//')}" must be http:// or https:// (e.g. http://127.0.0.1:8000/metrics)`);
    return url;
  });
}

interface Finished {
  /** monotonic time of the answer */
  tMs: number;
  intervalS: number;
  intervals: WorkloadInterval[];
  /** the host's energy over the interval (its in-total sources), where the agent could say */
  energyJ: number | undefined;
}

class Endpoint {
  readonly counters = new EndpointCounters();
  readonly instance: string;
  engines: string[] = [];
  /** the scrape going on, if any (never two at once) */
  current: Promise<void> | undefined;
  /** its last scrape failed (said once per outage) */
  down = false;
  finished: Finished[] = [];
  /** each in-total channel's energy at the last answered scrape, for the energy of the next interval */
  energyAt: Readonly<Record<string, number>> | undefined;
  /** TGI's model, from its /info */
  infoModel: string | undefined;
  infoAsked = false;
  constructor(readonly url: URL) {
    this.instance = url.host;
  }
}

/** The energy between two readings of the in-total channels: over the channels in both (one found in between has no start). */
function energyBetween(before: Readonly<Record<string, number>> | undefined, after: Readonly<Record<string, number>> | undefined): number | undefined {
  if (!before || !after) return undefined;
  let sum = 0;
  let any = false;
  for (const [id, j] of Object.entries(after)) {
    const b = before[id];
    if (b === undefined) continue;
    sum += Math.max(0, j - b);
    any = true;
  }
  return any ? sum : undefined;
}

export class ServingSource implements Source {
  readonly name = 'serving';
  private readonly endpoints: Endpoint[];
  private failed = 0;
  private closed = false;
  private readonly tags = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    urls: readonly URL[],
    private readonly specs: readonly EngineSpec[],
    private readonly ctx: Pick<SourceContext, 'now' | 'hostTags' | 'log' | 'hostEnergyJ'>,
  ) {
    this.endpoints = urls.map((u) => new Endpoint(u));
  }

  channels() {
    return [];
  }

  workload(): HostWorkload[] {
    return this.endpoints.map((e) => ({ instance: e.instance, engine: e.engines[0] ?? null }));
  }

  /** Failed scrapes since the last call (the agent counts them as this source's failed reads). */
  failedReads(): number {
    const n = this.failed;
    this.failed = 0;
    return n;
  }

  /** The points of the scrapes finished since the last report, stamped at their scrapes; starts the next scrape of each endpoint. */
  collect(timeMs: number): Sample[] {
    const now = this.ctx.now();
    const out: Sample[] = [];
    for (const e of this.endpoints) {
      for (const f of e.finished) {
        const at = timeMs - Math.max(0, now - f.tMs);
        for (const iv of f.intervals) out.push(this.point(e, iv, f, at));
      }
      e.finished = [];
    }
    void this.scrapeAll();
    return out;
  }

  private point(e: Endpoint, iv: WorkloadInterval, f: Finished, timeMs: number): Sample {
    const id = `${iv.engine}\u0000${iv.model}\u0000${e.instance}`;
    let tags = this.tags.get(id);
    if (!tags) {
      tags = Object.freeze({ ...this.ctx.hostTags, [WORKLOAD.tags.engine]: iv.engine, [WORKLOAD.tags.modelName]: iv.model, [WORKLOAD.tags.instance]: e.instance });
      this.tags.set(id, tags);
    }
    const fields: Sample['fields'] = {};
    for (const count of WORKLOAD_COUNTS) {
      const v = iv.counts[count];
      if (v !== undefined) fields[count] = v;
    }
    fields[WORKLOAD.fields.intervalS] = f.intervalS;
    if (f.energyJ !== undefined) fields[WORKLOAD.fields.energyJ] = f.energyJ;
    return { measurement: MEASUREMENT.workload, tags, fields, timeMs: Math.round(timeMs) };
  }

  /** Scrapes every endpoint (one whose scrape is still going is not asked twice); resolves when every endpoint's scrape is done. */
  scrapeAll(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return Promise.all(this.endpoints.map((e) => e.current ?? this.scrape(e))).then(() => undefined);
  }

  private scrape(e: Endpoint): Promise<void> {
    const p = this.scrapeOnce(e).finally(() => {
      e.current = undefined;
    });
    e.current = p;
    return p;
  }

  private async scrapeOnce(e: Endpoint): Promise<void> {
    const { log } = this.ctx;
    let body: string;
    try {
      const res = await send(e.url, { timeoutMs: SCRAPE_TIMEOUT_MS, headers: { accept: 'text/plain;version=0.0.4' } });
      if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
      if (res.bytes > MAX_PAGE_BYTES) throw new Error(`a page of ${res.bytes} bytes is not a metrics page`);
      body = res.body;
    } catch (err) {
      if (this.closed) return;
      this.failed++;
      if (!e.down) log.warn(`cannot scrape the inference server at ${shown(e.url)}; its workload points pause until it answers (the next one covers the pause; failed scrapes count in wattscope_collector_source_errors_total{source="serving",kind="read"})`, { error: err instanceof Error ? err.message : String(err) });
      e.down = true;
      return;
    }
    const tMs = this.ctx.now();
    // the host's energy at the answer: the next interval's energy is the difference, channel by channel
    const energyAt = this.ctx.hostEnergyJ?.();
    if (this.closed) return;
    if (e.down) log.info(`the inference server at ${shown(e.url)} answers again`);
    e.down = false;
    const page = parsePromPage(body);
    if (!e.infoAsked && page.samples.some((s) => s.name.startsWith('tgi_'))) await this.askInfo(e);
    const { engines, series } = countedSeries(page.samples, this.specs, () => e.infoModel);
    if (engines.length === 0) {
      log.once(`serving-unknown:${e.instance}`, 'warn', `${shown(e.url)} answers, but with no counters of a serving engine Wattscope knows (vLLM, SGLang, TGI, Triton): name them in WATTSCOPE_SERVING_COUNTERS`, { lines: page.samples.length });
    } else if (engines.join() !== e.engines.join()) {
      log.once(`serving-up:${e.instance}:${engines.join()}`, 'info', `scraping ${engines.join(', ')} at ${shown(e.url)} for requests and tokens`);
    }
    e.engines = engines;
    const baseline = !e.counters.primed;
    const work = e.counters.observe(series, tMs);
    const before = e.energyAt;
    // the energy reading moves on with the counters (the baseline, or an interval), never alone
    if (work || baseline) e.energyAt = energyAt;
    if (!work) return;
    if (work.resets > 0) log.once(`serving-reset:${e.instance}`, 'info', `the counters of ${shown(e.url)} started again from 0 (the server restarted): counted from there, the work since its previous scrape before the restart is not known`, { resets: work.resets });
    if (work.rejected > 0) log.once(`serving-value:${e.instance}`, 'warn', `${shown(e.url)} gave counter values that are not finite, non-negative numbers; they are left out`);
    e.finished.push({ tMs, intervalS: work.intervalS, intervals: work.intervals, energyJ: energyBetween(before, energyAt) });
  }

  /** TGI names its model at /info (`model_id`), not on its metrics page. */
  private async askInfo(e: Endpoint): Promise<void> {
    e.infoAsked = true;
    try {
      const res = await send(new URL('/info', e.url), { timeoutMs: SCRAPE_TIMEOUT_MS });
      const id = (JSON.parse(res.body) as { model_id?: unknown }).model_id;
      if (res.status === 200 && typeof id === 'string') e.infoModel = id;
    } catch {
      // the model stays unknown; the counts are right all the same
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.endpoints.map((e) => e.current));
  }
}

export const servingSource: SourceFactory = {
  name: 'serving',
  options: [SERVING_METRICS_URL, SERVING_COUNTERS],
  async discover(ctx: SourceContext) {
    const urls = parseEndpoints(optionValue(ctx.config, SERVING_METRICS_URL));
    if (urls.length === 0) return undefined;
    // a configuration that cannot work stops this source, said once at start with the option's name
    const custom = customEngine(optionValue(ctx.config, SERVING_COUNTERS));
    return new ServingSource(urls, custom ? [custom, ...ENGINES] : ENGINES, { now: ctx.now, hostTags: ctx.hostTags, log: ctx.log, hostEnergyJ: ctx.hostEnergyJ });
  },
};
