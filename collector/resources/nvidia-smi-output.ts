/**
 * What `nvidia-smi --query-gpu=… --format=csv,noheader,nounits` prints, read: the fields asked
 * for, a row per GPU, a driver's refusal of a field it does not know, and which power reading a
 * GPU offers. Pure (no process, no I/O): the stream that runs the tool (./nvidia-smi.ts) is loaded
 * only where the tool is installed.
 */
import { MIB, type GpuReading } from './gpu-point.js';

/** The fields every driver knows (nvidia-smi since R304): without them the tool is no use here. */
export const SMI_BASE_FIELDS = ['index', 'pci.bus_id', 'name', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total', 'temperature.gpu', 'clocks.sm'] as const;

/**
 * The power readings, best first (nvidia-smi --help-query-gpu): `power.draw.instant` is the
 * last instantaneous reading; `power.draw.average` a one-second average (Ampere and newer, but
 * GA100); `power.draw` is that average on Ampere and newer (GA100 excepted) and instantaneous on
 * older GPUs. Drivers before these were added know only `power.draw`; `compute_cap` (a newer
 * field too) then tells which it is.
 */
export const SMI_POWER_FIELDS = ['power.draw.instant', 'power.draw.average', 'power.draw'] as const;
export type SmiPowerField = (typeof SMI_POWER_FIELDS)[number];

/** Fields a driver may not know: left out when it refuses them. */
export const OPTIONAL_FIELDS: ReadonlySet<string> = new Set(['power.draw.instant', 'power.draw.average', 'compute_cap']);

export const SMI_WANTED_FIELDS: readonly string[] = [...SMI_BASE_FIELDS, ...SMI_POWER_FIELDS, 'compute_cap'];

export interface SmiRow extends GpuReading {
  /** the GPU's PCI address, as nvidia-smi writes it (00000000:18:00.0) */
  pci: string | undefined;
  /** watts of each power field the driver gave (undefined: [N/A], [Not Supported], or not asked) */
  power: Partial<Record<SmiPowerField, number>>;
  /** CUDA compute capability (`9.0`), where the driver tells it */
  computeCap: number | undefined;
}

/** `[N/A]`, `[Not Supported]`, `[GPU is lost]`, `[Unknown Error]`: no value. */
function value(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '' || t.startsWith('[')) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Text of the tool's output as it may become a tag (a GPU's name): cut at a NUL, no control
 * characters, at most 96 characters; undefined when nothing usable is left.
 */
function text(t: string | undefined): string | undefined {
  if (t === undefined) return undefined;
  const cut = t.split('\u0000', 1)[0] as string;
  // eslint-disable-next-line no-control-regex
  const clean = cut.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '').trim().slice(0, 96).replace(/\\+$/, '');
  return clean === '' || clean.startsWith('[') ? undefined : clean;
}

/**
 * One CSV line of a query of `fields` (in that order); undefined for lines that are not a GPU's
 * row. A name never holds a comma in practice, but the other columns are kept aligned: the
 * columns after `name` are counted from the right.
 */
export function parseSmiLine(line: string, fields: readonly string[] = [...SMI_BASE_FIELDS, 'power.draw']): SmiRow | undefined {
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length < fields.length) return undefined;
  const nameAt = fields.indexOf('name');
  const extra = parts.length - fields.length;
  const at = (field: string): string | undefined => {
    const i = fields.indexOf(field);
    if (i < 0) return undefined;
    if (i === nameAt) return parts.slice(i, i + 1 + extra).join(', ');
    return parts[nameAt >= 0 && i > nameAt ? i + extra : i];
  };
  const index = value(at('index'));
  if (index === undefined || !Number.isInteger(index) || index < 0) return undefined;
  const mem = (v: string | undefined) => {
    const n = value(v);
    return n === undefined ? undefined : n * MIB;
  };
  const power: Partial<Record<SmiPowerField, number>> = {};
  for (const f of SMI_POWER_FIELDS) {
    const w = value(at(f));
    if (w !== undefined) power[f] = w;
  }
  const pci = at('pci.bus_id');
  return {
    index,
    pci: pci === undefined || pci.startsWith('[') ? undefined : text(pci),
    name: text(at('name')) ?? `GPU ${index}`,
    power,
    computeCap: value(at('compute_cap')),
    utilPct: value(at('utilization.gpu')),
    memUtilPct: value(at('utilization.memory')),
    memUsedBytes: mem(at('memory.used')),
    memTotalBytes: mem(at('memory.total')),
    tempC: value(at('temperature.gpu')),
    smClockMhz: value(at('clocks.sm')),
  };
}

/** The field a driver refused, from its message (`Field "power.draw.instant" is not a valid field to query.`). */
export function refusedField(output: string): string | undefined {
  return /Field "([^"]+)" is not a valid field to query/.exec(output)?.[1];
}

/**
 * Which power reading a GPU offers (the power fields it has given a value for), best first, and how it reads: an instantaneous
 * power (`sampled`), or an average (`averaged`, which lags). `power.draw` is an average on
 * Ampere and newer but GA100 (compute capability above 8.0); where the driver does not say the
 * GPU's generation, it is taken for one.
 */
export function chooseSmiReading(seen: ReadonlySet<SmiPowerField>, computeCap: number | undefined, fields: readonly string[]): { field: SmiPowerField; method: 'sampled' | 'averaged' } | undefined {
  if (seen.has('power.draw.instant')) return { field: 'power.draw.instant', method: 'sampled' };
  if (seen.has('power.draw.average')) return { field: 'power.draw.average', method: 'averaged' };
  if (!seen.has('power.draw')) return undefined;
  // a driver that knows power.draw.average and gives none for this GPU: the GPU averages nothing (older than Ampere, or GA100)
  if (fields.includes('power.draw.average')) return { field: 'power.draw', method: 'sampled' };
  return { field: 'power.draw', method: computeCap !== undefined && computeCap <= 8.0 ? 'sampled' : 'averaged' };
}

const POWERS_OF_TEN = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/** The decimal number in bytes [start, end) (blanks around it allowed); undefined for anything else ([N/A], [Not Supported], text). */
export function decimalIn(b: Uint8Array, start: number, end: number): number | undefined {
  while (start < end && b[start] === 0x20) start++;
  while (end > start && (b[end - 1] === 0x20 || b[end - 1] === 0x0d)) end--;
  if (start === end) return undefined;
  let i = start;
  const negative = b[i] === 0x2d;
  if (negative) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = (b[i] as number) - 0x30;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    digits++;
  }
  let decimals = 0;
  if (i < end && b[i] === 0x2e) {
    for (i++; i < end; i++) {
      const c = (b[i] as number) - 0x30;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      decimals++;
      digits++;
    }
  }
  // an integer over a power of ten: rounded once, the same double as Number() makes of the text
  if (decimals > 0) v /= POWERS_OF_TEN[decimals] ?? 10 ** decimals;
  if (i !== end || digits === 0) return undefined;
  return negative ? -v : v;
}

