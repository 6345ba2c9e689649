/**
 * The Prometheus text exposition format (0.0.4, and the OpenMetrics text that servers such as
 * vLLM's may send), as the sources that scrape an exporter read it: dcgm-exporter's GPUs
 * (./sources/dcgm) and an inference server's counters (./sources/serving). Shared here, not in
 * one plugin that the other imports.
 *
 * Everything in a page is input: a line that is not a sample is skipped, label values are
 * unescaped (`\\`, `\"`, `\n`), `NaN` and `±Inf` come through as numbers (the caller decides
 * what a non-finite value means), a timestamp or an OpenMetrics exemplar after the value is
 * ignored, and a page of any size is read line by line without a regex over the whole of it.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromPage {
  samples: PromSample[];
  /** `# TYPE` of each family as the page declares it (family name → counter, gauge, histogram…) */
  types: Map<string, string>;
  /** lines that were neither a comment nor a sample */
  skipped: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string): number | undefined {
  switch (text) {
    case 'NaN':
      return NaN;
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
  }
  if (text === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** One sample line: `name{a="x",b="y"} value [timestamp]`; undefined when it is not one. */
function parseSample(line: string): PromSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (!name) return undefined;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const label = LABEL_NAME.exec(line.slice(i))?.[0];
      if (!label) return undefined;
      i += label.length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') return undefined;
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : (next ?? '');
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++;
      labels[label] = value;
    }
  }
  if (line[i] !== ' ' && line[i] !== '\t') return undefined;
  const rest = line.slice(i).trim();
  const value = parseValue(rest.split(/[ \t]/, 1)[0] ?? '');
  return value === undefined ? undefined : { name, labels, value };
}

/** A whole page: its samples, its families' declared types, and how many lines were not samples. */
export function parsePromPage(text: string): PromPage {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  let skipped = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1] as string, m[2] as string);
      continue;
    }
    const sample = parseSample(line);
    if (sample) samples.push(sample);
    else skipped++;
  }
  return { samples, types, skipped };
}

/** The samples of a page (dcgm-exporter's, which writes no timestamps). */
export function parsePromText(text: string): PromSample[] {
  return parsePromPage(text).samples;
}

/** A label as it may become a tag: cut at a NUL, no control characters, bounded; undefined when nothing is left. */
export function labelText(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  // eslint-disable-next-line no-control-regex
  const t = (v.split('\u0000', 1)[0] as string).replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '').trim().slice(0, 96).replace(/\\+$/, '');
  return t === '' ? undefined : t;
}
