/**
 * The inference servers the serving source recognises, by the metric names each documents
 * (README.md says where each name comes from), and the rules it counts them by. Pure: a page in,
 * per engine and model the raw counter series that make up each count.
 *
 * A count is the sum of every series of its counter for one model: vLLM's `engine` label (one
 * per data-parallel rank) and `finished_reason`, and every other label but the model's, are summed
 * over. Names are matched exactly, so `vllm:prompt_tokens_by_source_total`,
 * `vllm:prompt_tokens_cached_total` and the `_created` pseudo-samples of a counter are never
 * taken for the counter itself. Where an engine offers several counters for one count, the first
 * present on the page is used (SGLang's `num_requests_total` where the server has it, else its
 * end-to-end latency histogram's `_count`, which counts the same finished requests).
 */
import type { WorkloadCount } from '../../../common/model.js';
import { labelText, type PromSample } from '../../prometheus-text.js';

export interface EngineSpec {
  /** the `engine` tag */
  engine: string;
  /** how it is recognised: a sample whose name begins with this */
  prefix: string;
  /** the label naming the model; undefined where the page has none (TGI: asked at /info) */
  modelLabel: string | undefined;
  /** per count, the counters that make it up, best first: the first present on the page is used */
  counts: Partial<Record<WorkloadCount, readonly string[]>>;
  /** the model is on the server's /info (`model_id`), not on its metrics page */
  modelFromInfo?: boolean;
}

export const ENGINES: readonly EngineSpec[] = [
  {
    engine: 'vllm',
    prefix: 'vllm:',
    modelLabel: 'model_name',
    counts: {
      requests: ['vllm:request_success_total'],
      prompt_tokens: ['vllm:prompt_tokens_total'],
      output_tokens: ['vllm:generation_tokens_total'],
    },
  },
  {
    engine: 'sglang',
    prefix: 'sglang:',
    modelLabel: 'model_name',
    counts: {
      requests: ['sglang:num_requests_total', 'sglang:e2e_request_latency_seconds_count'],
      prompt_tokens: ['sglang:prompt_tokens_total'],
      output_tokens: ['sglang:generation_tokens_total'],
    },
  },
  {
    engine: 'tgi',
    prefix: 'tgi_',
    modelLabel: undefined,
    modelFromInfo: true,
    counts: {
      requests: ['tgi_request_success'],
      // histograms of tokens per request: their _sum is the running total
      prompt_tokens: ['tgi_request_input_length_sum'],
      output_tokens: ['tgi_request_generated_tokens_sum'],
    },
  },
  {
    engine: 'triton',
    prefix: 'nv_inference_',
    modelLabel: 'model',
    // Triton counts requests per model; it has no token counters of its own
    counts: { requests: ['nv_inference_request_success'] },
  },
];

/** A model name no label gives. */
export const UNKNOWN_MODEL = 'unknown';

/**
 * WATTSCOPE_SERVING_COUNTERS: `requests=NAME,prompt_tokens=NAME,output_tokens=NAME` (any of
 * them), with `model_label=LABEL` and `engine=NAME` (default `custom`). Throws a message naming
 * the option on anything else.
 */
export function customEngine(items: readonly string[]): EngineSpec | undefined {
  if (items.length === 0) return undefined;
  const spec: EngineSpec = { engine: 'custom', prefix: '', modelLabel: undefined, counts: {} };
  const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (eq < 0 || value === '') throw new Error(`WATTSCOPE_SERVING_COUNTERS: "${item}" is not key=value (requests=, prompt_tokens=, output_tokens=, model_label=, engine=)`);
    switch (key) {
      case 'requests':
      case 'prompt_tokens':
      case 'output_tokens':
        if (!METRIC.test(value)) throw new Error(`WATTSCOPE_SERVING_COUNTERS: ${key}=${value} is not a metric name`);
        spec.counts[key] = [value];
        break;
      case 'model_label':
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(value)) throw new Error(`WATTSCOPE_SERVING_COUNTERS: model_label=${value} is not a label name`);
        spec.modelLabel = value;
        break;
      case 'engine':
        if (labelText(value) !== value || /[,= ]/.test(value)) throw new Error(`WATTSCOPE_SERVING_COUNTERS: engine=${value} must be a plain name`);
        spec.engine = value;
        break;
      default:
        throw new Error(`WATTSCOPE_SERVING_COUNTERS: unknown key "${key}" (requests, prompt_tokens, output_tokens, model_label, engine)`);
    }
  }
  if (Object.keys(spec.counts).length === 0) throw new Error('WATTSCOPE_SERVING_COUNTERS names no counter: give requests=, prompt_tokens= or output_tokens=');
  return spec;
}

/** One raw series that goes into a count. */
export interface CountedSeries {
  engine: string;
  model: string;
  count: WorkloadCount;
  /** identity of the series on its endpoint: name and every label */
  key: string;
  value: number;
  /** its `_created` time, where the page has one (a changed one is a restarted counter) */
  created: number | undefined;
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;
}

/** The `_created` sample of a counter or histogram sample: `x_total` → `x_created`, `x_sum` → `x_created`. */
function createdNames(name: string): string[] {
  const base = name.replace(/_(total|sum|count)$/, '');
  return base === name ? [`${name}_created`] : [`${base}_created`, `${name}_created`];
}

/**
 * The engines a page shows (the configured counters first, then the known engines by name), and
 * per engine the series of each count. `model` comes from the engine's label, else `infoModel`
 * (TGI's /info), else `unknown`.
 */
export function countedSeries(samples: readonly PromSample[], specs: readonly EngineSpec[], infoModel?: (engine: string) => string | undefined): { engines: string[]; series: CountedSeries[] } {
  const byName = new Map<string, PromSample[]>();
  for (const s of samples) {
    const list = byName.get(s.name);
    if (list) list.push(s);
    else byName.set(s.name, [s]);
  }
  const created = new Map<string, number>();
  const engines: string[] = [];
  const series: CountedSeries[] = [];
  for (const spec of specs) {
    const present = (Object.entries(spec.counts) as Array<[WorkloadCount, readonly string[]]>).flatMap(([count, names]) => {
      const name = names.find((n) => byName.has(n));
      return name ? [{ count, name }] : [];
    });
    if (present.length === 0) continue;
    if (spec.prefix !== '' && !samples.some((s) => s.name.startsWith(spec.prefix))) continue;
    engines.push(spec.engine);
    for (const { count, name } of present) {
      for (const s of byName.get(name) ?? []) {
        const labelled = spec.modelLabel === undefined ? undefined : labelText(s.labels[spec.modelLabel]);
        const model = labelled ?? infoModel?.(spec.engine) ?? UNKNOWN_MODEL;
        let c: number | undefined;
        for (const cn of createdNames(name)) {
          const key = seriesKey(cn, s.labels);
          if (!created.has(key)) for (const cs of byName.get(cn) ?? []) created.set(seriesKey(cn, cs.labels), cs.value);
          c ??= created.get(key);
        }
        series.push({ engine: spec.engine, model, count, key: seriesKey(name, s.labels), value: s.value, created: c });
      }
    }
  }
  return { engines, series };
}
