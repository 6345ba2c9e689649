/**
 * The serving source over real /metrics pages of vLLM, SGLang, TGI and Triton (testdata/
 * SOURCES.md): the Prometheus text read as it is, each engine's counters recognised by the
 * names it documents (and not their `_created`, `_by_source`, `_cached` or histogram neighbours),
 * data-parallel ranks summed, counters turned into work per interval through restarts, and the
 * source itself against a stand-in server: points stamped at the scrape, a server down and back,
 * TGI's model from /info, counters named in the configuration.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePromPage } from '../../../collector/prometheus-text.js';
import { countedSeries, customEngine, ENGINES, type CountedSeries } from '../../../collector/sources/serving/engines.js';
import { EndpointCounters } from '../../../collector/sources/serving/workload.js';
import { parseEndpoints, ServingSource, servingSource } from '../../../collector/sources/serving/index.js';
import { Agent } from '../../../collector/agent.js';
import { CollectorMetrics } from '../../../collector/metrics.js';
import { MEASUREMENT, type Sample } from '../../../common/model.js';
import { contextFor, FIXTURES, recordingLogger, testdata } from '../fixtures.js';
import { advancedPage, startServingStandin, type ServingStandin } from '../serving-standin.js';

const page = (name: string) => readFileSync(testdata('serving', name), 'utf8');
const VLLM = page('vllm-opt-125m.prom');
const SGLANG = page('sglang-llama-3.1-8b.prom');
const TGI = page('tgi-excerpt.prom');
const TRITON = page('triton-excerpt.prom');

/** Per model, the sum of each count's series. */
function totals(series: readonly CountedSeries[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const s of series) {
    const m = (out[`${s.engine}/${s.model}`] ??= {});
    m[s.count] = (m[s.count] ?? 0) + s.value;
  }
  return out;
}

describe('the Prometheus text, as servers write it', () => {
  it('reads every sample of the real pages, their declared types, and skips nothing that is a sample', () => {
    const vllm = parsePromPage(VLLM);
    expect(vllm.skipped).toBe(0);
    expect(vllm.samples).toHaveLength(VLLM.split('\n').filter((l) => l && !l.startsWith('#')).length);
    expect(vllm.types.get('vllm:request_success_total')).toBe('counter');
    expect(vllm.types.get('vllm:e2e_request_latency_seconds')).toBe('histogram');
    expect(vllm.samples.find((s) => s.name === 'vllm:cache_config_info')?.labels).toMatchObject({ block_size: '16', sliding_window: 'None' });
    // TGI's exporter writes blank lines between families and integers without a fraction
    const tgi = parsePromPage(TGI);
    expect(tgi.skipped).toBe(0);
    expect(tgi.samples.find((s) => s.name === 'tgi_request_input_length_bucket' && s.labels.le === '15.330000000000002')?.value).toBe(109);
    expect(parsePromPage(SGLANG).samples.find((s) => s.name === 'sglang:prompt_tokens_total')?.value).toBe(8.128902e6);
  });

  it('unescapes label values, takes NaN and ±Inf as numbers, ignores timestamps and exemplars, and skips what is not a sample', () => {
    const p = parsePromPage(
      [
        'a{path="C:\\\\dir",q="say \\"hi\\"",n="x\\ny"} 1 1700000000000',
        'b NaN',
        'c +Inf',
        'd{} -Inf',
        'e_total{x="1"} 17 # {trace_id="abc"} 1.0 1700000000.000',
        'not a sample at all',
        'f{unterminated="x} 1',
        'g{x="1"}',
        'h 12abc',
        '# EOF',
      ].join('\n'),
    );
    expect(p.samples.map((s) => [s.name, s.value])).toEqual([
      ['a', 1],
      ['b', NaN],
      ['c', Infinity],
      ['d', -Infinity],
      ['e_total', 17],
    ]);
    expect(p.samples[0]?.labels).toEqual({ path: 'C:\\dir', q: 'say "hi"', n: 'x\ny' });
    expect(p.skipped).toBe(4);
  });
});

describe('engines, by the names they document', () => {
  it('vLLM: requests summed over finished_reason, prompt and generation tokens — not their _by_source, _cached or histogram neighbours', () => {
    const { engines, series } = countedSeries(parsePromPage(VLLM).samples, ENGINES);
    expect(engines).toEqual(['vllm']);
    // the capture: one finished request (length), 5 prompt tokens, 7 generated; prompt_tokens_by_source (117) and _cached (64) are other counts
    expect(totals(series)).toEqual({ 'vllm/facebook/opt-125m': { requests: 1, prompt_tokens: 5, output_tokens: 7 } });
  });

  it('vLLM with data-parallel ranks: every `engine` label summed, every finished_reason counted', () => {
    // ours: the real page as two data-parallel ranks report it (engine="0" as captured, engine="1" with more work)
    const rank = (engine: string, scale: number) => advancedPage(VLLM, { 'vllm:request_success_total': 0, 'vllm:prompt_tokens_total': 0, 'vllm:generation_tokens_total': 0 }, 0, scale).replace(/\{([^}]*model_name="facebook\/opt-125m"[^}]*)\}/g, `{engine="${engine}",$1}`);
    const text = `${rank('0', 1)}\n${rank('1', 3).split('\n').filter((l) => l.startsWith('vllm:')).join('\n')}\nvllm:request_success_total{engine="1",finished_reason="stop",model_name="facebook/opt-125m"} 4.0\n`;
    const { series } = countedSeries(parsePromPage(text).samples, ENGINES);
    expect(totals(series)).toEqual({ 'vllm/facebook/opt-125m': { requests: 1 + 3 + 4, prompt_tokens: 5 + 15, output_tokens: 7 + 21 } });
  });

  it('SGLang: finished requests from its end-to-end latency histogram’s _count where the server has no request counter', () => {
    const { engines, series } = countedSeries(parsePromPage(SGLANG).samples, ENGINES);
    expect(engines).toEqual(['sglang']);
    expect(totals(series)).toEqual({ 'sglang/meta-llama/Llama-3.1-8B-Instruct': { requests: 11228, prompt_tokens: 8128902, output_tokens: 7557572 } });
    // newer servers count requests themselves: that counter is preferred
    const newer = `${SGLANG}sglang:num_requests_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 11300\n`;
    expect(totals(countedSeries(parsePromPage(newer).samples, ENGINES).series)['sglang/meta-llama/Llama-3.1-8B-Instruct']?.requests).toBe(11300);
  });

  it('TGI: requests from tgi_request_success, tokens from its per-request histograms’ _sum; the model from /info or unknown', () => {
    const samples = parsePromPage(TGI).samples;
    expect(totals(countedSeries(samples, ENGINES).series)).toEqual({ 'tgi/unknown': { requests: 109, prompt_tokens: 662, output_tokens: 3423 } });
    expect(Object.keys(totals(countedSeries(samples, ENGINES, () => 'bigscience/bloom-560m').series))).toEqual(['tgi/bigscience/bloom-560m']);
  });

  it('Triton: successful requests per model; no tokens (Triton has no token counters)', () => {
    const { engines, series } = countedSeries(parsePromPage(TRITON).samples, ENGINES);
    expect(engines).toEqual(['triton']);
    const t = totals(series);
    expect(Object.keys(t)).toHaveLength(8);
    expect(t['triton/densenet_onnx']).toEqual({ requests: 3 });
  });

  it('a page of no known engine: none recognised (the collector’s own /metrics, for one)', () => {
    expect(countedSeries(parsePromPage('wattscope_energy_joules_total{source="rapl/package-0"} 12\nprocess_cpu_seconds_total 3\n').samples, ENGINES).engines).toEqual([]);
  });

  it('counters named in the configuration, before the known engines; a bad configuration is refused with the option’s name', () => {
    const custom = customEngine(['requests=ray_vllm:request_success_total', 'output_tokens=ray_vllm:generation_tokens_total', 'model_label=model_name', 'engine=ray-vllm']);
    const text = 'ray_vllm:generation_tokens_total{WorkerId="a",model_name="m"} 300.0\nray_vllm:generation_tokens_total{WorkerId="b",model_name="m"} 12.0\nray_vllm:request_success_total{model_name="m"} 3\n';
    expect(totals(countedSeries(parsePromPage(text).samples, [custom!, ...ENGINES]).series)).toEqual({ 'ray-vllm/m': { requests: 3, output_tokens: 312 } });
    expect(customEngine([])).toBeUndefined();
    expect(() => customEngine(['requests'])).toThrow(/WATTSCOPE_SERVING_COUNTERS: "requests" is not key=value/);
    expect(() => customEngine(['tokens=x'])).toThrow(/unknown key "tokens"/);
    expect(() => customEngine(['requests=not a name'])).toThrow(/is not a metric name/);
    expect(() => customEngine(['engine=x'])).toThrow(/names no counter/);
  });

  it('endpoints must be http(s) URLs, said with the option’s name and without credentials', () => {
    expect(parseEndpoints(['http://127.0.0.1:8000/metrics']).map((u) => u.host)).toEqual(['127.0.0.1:8000']);
    expect(() => parseEndpoints(['localhost:8000/metrics'])).toThrow(/WATTSCOPE_SERVING_METRICS_URL: "localhost:8000\/metrics" must be http/);
    expect(() => parseEndpoints(['127.0.0.1:8000'])).toThrow(/WATTSCOPE_SERVING_METRICS_URL: "127\.0\.0\.1:8000" is not a URL/);
    expect(() => parseEndpoints(['not a url'])).toThrow(/WATTSCOPE_SERVING_METRICS_URL: "not a url" is not a URL/);
    expect(() => parseEndpoints(['ftp://user:secret@host/metrics'])).toThrow(/^(?!.*secret).*must be http/);
  });
});

describe('work per interval, from counter differences', () => {
  const series = (values: Record<string, number>, created?: Record<string, number>): CountedSeries[] =>
    Object.entries(values).map(([key, value]) => ({ engine: 'vllm', model: 'm', count: key.startsWith('out') ? 'output_tokens' : 'requests', key, value, created: created?.[key] }));

  it('the first scrape is the baseline; then each is the difference, over the time between them', () => {
    const c = new EndpointCounters();
    expect(c.observe(series({ out0: 1000, out1: 500, req: 10 }), 0)).toBeUndefined();
    expect(c.primed).toBe(true);
    expect(c.observe(series({ out0: 1030, out1: 520, req: 12 }), 1000)).toEqual({ intervalS: 1, intervals: [{ engine: 'vllm', model: 'm', counts: { output_tokens: 50, requests: 2 } }], resets: 0, rejected: 0 });
    // a time that does not move forward is no interval
    expect(c.observe(series({ out0: 1040, out1: 520, req: 12 }), 1000)).toBeUndefined();
  });

  it('a restarted server (a counter that goes down) counts from 0 again; a series that appears later counts from 0, one that vanishes is forgotten', () => {
    const c = new EndpointCounters();
    c.observe(series({ out0: 1000, req: 10 }), 0);
    const restarted = c.observe(series({ out0: 40, req: 1 }), 2000);
    expect(restarted?.resets).toBe(2);
    expect(restarted?.intervals[0]?.counts).toEqual({ output_tokens: 40, requests: 1 });
    const appeared = c.observe(series({ out0: 60, req: 1, out1: 7 }), 3000);
    expect(appeared?.intervals[0]?.counts).toEqual({ output_tokens: 20 + 7, requests: 0 });
    c.observe(series({ out0: 70, req: 1 }), 4000);
    // out1 vanished at 4000; back at 5000 it is a new series: its whole value is new work
    expect(c.observe(series({ out0: 70, req: 1, out1: 3 }), 5000)?.intervals[0]?.counts.output_tokens).toBe(3);
  });

  it('a counter whose _created time moves on was restarted, even where its value grew past the old one', () => {
    const c = new EndpointCounters();
    c.observe(series({ out0: 100 }, { out0: 1.7e9 }), 0);
    const w = c.observe(series({ out0: 130 }, { out0: 1.7e9 + 60 }), 1000);
    expect(w?.resets).toBe(1);
    expect(w?.intervals[0]?.counts.output_tokens).toBe(130);
    // read from a real page: vLLM's counters named `x_total` have `x_created` beside them
    const text = (v: number, created: number) => `vllm:generation_tokens_total{model_name="m"} ${v}\nvllm:generation_tokens_created{model_name="m"} ${created}\n`;
    const d = new EndpointCounters();
    d.observe(countedSeries(parsePromPage(text(100, 1.7e9)).samples, ENGINES).series, 0);
    expect(d.observe(countedSeries(parsePromPage(text(150, 1.7e9)).samples, ENGINES).series, 1000)?.intervals[0]?.counts.output_tokens).toBe(50);
    expect(d.observe(countedSeries(parsePromPage(text(170, 1.8e9)).samples, ENGINES).series, 2000)?.intervals[0]?.counts.output_tokens).toBe(170);
  });

  it('values that are not finite, non-negative numbers are left out; the series keeps its last reading', () => {
    const c = new EndpointCounters();
    c.observe(series({ out0: 100 }), 0);
    const bad = c.observe(series({ out0: NaN }), 1000);
    expect(bad?.rejected).toBe(1);
    expect(bad?.intervals).toEqual([]);
    expect(c.observe(series({ out0: -5 }), 2000)?.rejected).toBe(1);
    expect(c.observe(series({ out0: 130 }), 3000)?.intervals[0]?.counts.output_tokens).toBe(30);
  });
});

describe('the serving source against a stand-in server', () => {
  const standins: ServingStandin[] = [];
  const sources: ServingSource[] = [];
  afterEach(async () => {
    for (const s of sources.splice(0)) await s.close();
    for (const s of standins.splice(0)) await s.close();
  });

  async function setup(pages: Array<{ page: string; perS: Record<string, number>; modelId?: string }>, env: Record<string, string> = {}) {
    for (const p of pages) standins.push(await startServingStandin(testdata('serving', p.page), p.perS, { modelId: p.modelId }));
    for (const s of standins) s.setSeconds(0);
    const clock = { t: 0 };
    const log = recordingLogger();
    const ctx = { ...contextFor(`${FIXTURES}vm-epyc`, { log, env: { WATTSCOPE_SERVING_METRICS_URL: standins.map((s) => s.url).join(','), ...env } }), now: () => clock.t };
    const source = (await servingSource.discover(ctx)) as ServingSource;
    sources.push(source);
    return { source, clock, log };
  }

  it('no URL, no source: quiet, like absent hardware', async () => {
    expect(await servingSource.discover(contextFor(`${FIXTURES}vm-epyc`))).toBeUndefined();
  });

  it('one workload point per model per scrape after the first, stamped at the scrape, with its interval; the host record names the endpoint and engine', async () => {
    const { source, clock } = await setup([{ page: 'vllm-opt-125m.prom', perS: { 'vllm:request_success_total': 2, 'vllm:generation_tokens_total': 50, 'vllm:prompt_tokens_total': 120 } }]);
    expect(source.workload()).toEqual([{ instance: new URL(standins[0]!.url).host, engine: null }]);
    await source.scrapeAll();
    expect(source.collect(1_000)).toEqual([]); // the baseline
    await source.scrapeAll(); // the scrape the report started, at the same time: no interval
    clock.t = 2000;
    standins[0]!.setSeconds(2);
    await source.scrapeAll();
    clock.t = 2300; // the report comes 300 ms after the scrape
    const points = source.collect(1_800_000_002_300);
    expect(points).toEqual([
      {
        measurement: MEASUREMENT.workload,
        tags: { host: 'fixture-host', platform: 'fixture', engine: 'vllm', model_name: 'facebook/opt-125m', instance: new URL(standins[0]!.url).host },
        fields: { requests: 4, prompt_tokens: 240, output_tokens: 100, interval_s: 2 },
        timeMs: 1_800_000_002_000,
      },
    ]);
    expect(source.workload()[0]?.engine).toBe('vllm');
    // handed over once
    expect(source.collect(1_800_000_002_400)).toEqual([]);
  });

  it('a server down: one warning, failed reads counted; back up: its next point covers the whole pause; restarted: counted from 0', async () => {
    const { source, clock, log } = await setup([{ page: 'vllm-opt-125m.prom', perS: { 'vllm:generation_tokens_total': 50 } }]);
    const server = standins[0]!;
    await source.scrapeAll();
    await server.pause();
    for (const t of [1000, 2000]) {
      clock.t = t;
      await source.scrapeAll();
    }
    expect(source.failedReads()).toBe(2);
    expect(source.failedReads()).toBe(0);
    expect(log.lines.filter((l) => l.level === 'warn' && /cannot scrape the inference server/.test(l.message))).toHaveLength(1);
    await server.resume();
    server.setSeconds(3);
    clock.t = 3000;
    await source.scrapeAll();
    expect(log.lines.some((l) => /answers again/.test(l.message))).toBe(true);
    expect(source.collect(3000)).toMatchObject([{ fields: { output_tokens: 150, interval_s: 3 } }]);
    await source.scrapeAll(); // the scrape that report started, at the same time
    server.restart();
    server.setSeconds(0.5);
    clock.t = 4000;
    await source.scrapeAll();
    // the restarted counters read 0 + 25 (half a second at 50/s): that, not a negative difference
    expect(source.collect(4000)).toMatchObject([{ fields: { output_tokens: 25 } }]);
    expect(log.lines.some((l) => /started again from 0/.test(l.message))).toBe(true);
  });

  it('TGI: the model from its /info; Triton: requests only; several endpoints at once', async () => {
    const { source, clock } = await setup([
      { page: 'tgi-excerpt.prom', perS: { tgi_request_success: 3, tgi_request_generated_tokens_sum: 94 }, modelId: 'bigscience/bloom-560m' },
      { page: 'triton-excerpt.prom', perS: { nv_inference_request_success: 5 } },
    ]);
    await source.scrapeAll();
    clock.t = 1000;
    for (const s of standins) s.setSeconds(1);
    await source.scrapeAll();
    const points = source.collect(1000);
    const tgi = points.find((p) => p.tags.engine === 'tgi');
    expect(tgi).toMatchObject({ tags: { model_name: 'bigscience/bloom-560m' }, fields: { requests: 3, prompt_tokens: 0, output_tokens: 94, interval_s: 1 } });
    const triton = points.filter((p) => p.tags.engine === 'triton');
    expect(triton).toHaveLength(8);
    for (const p of triton) expect(p.fields).toEqual({ requests: 5, interval_s: 1 });
  });

  it('a page of no engine it knows: said once, naming the option for its counters; no points', async () => {
    standins.push(await startServingStandin(testdata('dcgm', 'h100x2.prom'), {}));
    const { source, log } = await setup([]);
    await source.scrapeAll();
    await source.scrapeAll();
    expect(source.collect(0)).toEqual([]);
    expect(log.lines.filter((l) => /WATTSCOPE_SERVING_COUNTERS/.test(l.message))).toHaveLength(1);
  });

  it('through the agent: the points reach the report, a failed scrape makes the source’s success 0 and counts a read error', async () => {
    const { source, clock } = await setup([{ page: 'sglang-llama-3.1-8b.prom', perS: { 'sglang:generation_tokens_total': 1400 } }]);
    const out: Sample[] = [];
    const metrics = new CollectorMetrics();
    const agent = new Agent({ sources: [source], hostTags: { host: 'h', platform: 'p' }, sampleHz: 10, reportIntervalS: 1, emit: (s) => out.push(...s), metrics, log: recordingLogger(), now: () => clock.t, wallNow: () => 1_800_000_000_000 + clock.t });
    await source.scrapeAll();
    clock.t = 1000;
    standins[0]!.setSeconds(1);
    await source.scrapeAll();
    agent.report();
    expect(out.find((s) => s.measurement === MEASUREMENT.workload)?.fields.output_tokens).toBe(1400);
    await source.scrapeAll(); // the scrape that report started
    await standins[0]!.pause();
    clock.t = 2000;
    await source.scrapeAll();
    agent.report();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/wattscope_collector_source_success\{source="serving"\} 0/);
    expect(text).toMatch(/wattscope_collector_source_errors_total\{source="serving",kind="read"\} 1/);
    await standins[0]!.resume();
  });

  it('a bad configuration stops the source with the option’s name', async () => {
    await expect(servingSource.discover(contextFor(`${FIXTURES}vm-epyc`, { env: { WATTSCOPE_SERVING_METRICS_URL: 'localhost:8000' } }))).rejects.toThrow(/WATTSCOPE_SERVING_METRICS_URL/);
    await expect(servingSource.discover(contextFor(`${FIXTURES}vm-epyc`, { env: { WATTSCOPE_SERVING_METRICS_URL: 'http://127.0.0.1:1/metrics', WATTSCOPE_SERVING_COUNTERS: 'foo' } }))).rejects.toThrow(/WATTSCOPE_SERVING_COUNTERS/);
  });
});
