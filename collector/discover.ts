/**
 * Runs every plugin of the registry and returns the sources whose hardware is here; then the one
 * host-total policy (./total.ts) decides, over all their channels at once, which add up to the
 * host's energy. A fallback channel the policy does not count (the CPU estimate beside a sensor)
 * is left out altogether, and a GPU read by several sources (NVML and DCGM) gets its `gpu` points
 * from its reading of record alone: one series per board, not two that overwrite each other.
 */
import { ConfigError, type Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import { SOURCES } from './sources/index.js';
import type { SharedResources } from './resources/index.js';
import { GPU, MEASUREMENT, type Sample } from '../common/model.js';
import type { Source, SourceFactory, SourceProblemKind } from './source.js';
import { decideTotals } from './total.js';

export interface DiscoverOptions {
  /** tags every host point carries */
  hostTags: Record<string, string>;
  log: Logger;
  resources: SharedResources;
  /** the plugins to run (default: the registry) */
  factories?: readonly SourceFactory[];
  /** the monotonic clock the agent reads on (default: performance.now) */
  now?: () => number;
  /** each in-total power channel's energy so far, read now (the agent's; SourceContext.hostEnergyJ) */
  hostEnergyJ?: () => Readonly<Record<string, number>> | undefined;
  /**
   * a source found a file or output it cannot use (kind, and the file or thing as `key`): the
   * collector counts it in /metrics, once per key; it is logged here, once per key
   */
  onProblem?: (source: string, kind: SourceProblemKind, key: string) => void;
}

export async function discoverSources(config: Config, { hostTags, log, resources, factories = SOURCES, now = () => performance.now(), onProblem, hostEnergyJ }: DiscoverOptions): Promise<Source[]> {
  const wanted = config.collector.sources;
  const unknown = wanted.filter((w) => !factories.some((f) => f.name === w));
  if (unknown.length > 0) {
    throw new ConfigError(`WATTSCOPE_SOURCES: unknown source(s) ${unknown.join(', ')}; known: ${factories.map((f) => f.name).join(', ')}`);
  }
  const found: Source[] = [];
  for (const factory of factories) {
    if (wanted.length > 0 && !wanted.includes(factory.name)) continue;
    try {
      const problem = (kind: SourceProblemKind, key: string, message: string, fields?: Record<string, unknown>) => {
        log.once(`problem:${factory.name}:${kind}:${key}`, 'warn', message, { source: factory.name, ...fields });
        onProblem?.(factory.name, kind, key);
      };
      const source = await factory.discover({ config, procfs: config.collector.procfsRoot, sysfs: config.collector.sysfsRoot, log, hostTags, resources, now, problem, hostEnergyJ });
      if (source) found.push(source);
      else log.debug(`source ${factory.name}: hardware not here`);
    } catch (e) {
      log.once(`discover:${factory.name}`, 'error', `source ${factory.name} failed to start; the other sources keep running`, { error: e });
    }
  }
  const channels = found.flatMap((s) => s.channels());
  const decisions = decideTotals(channels.map((c) => ({ id: c.id, method: c.method, measures: c.measures, rank: c.rank })));
  for (const c of channels) {
    const d = decisions.get(c.id);
    c.inTotal = d?.inTotal ?? false;
    log.debug(`power source ${c.id}: ${c.inTotal ? 'in the total' : 'not in the total'}, ${d?.reason ?? ''}`);
    if (c.onlyIfCounted && c.inTotal) log.once(`counted:${c.id}`, 'info', c.whenCounted ?? `${c.id} is in the host's total: ${d?.reason ?? ''} (method=${c.method})`);
  }
  const sources: Source[] = [];
  for (const s of found) {
    const useless = s.collect === undefined && s.channels().length > 0 && s.channels().every((c) => c.onlyIfCounted && !c.inTotal);
    if (useless) {
      await s.close?.();
      continue;
    }
    // a board read by several sources gets its `gpu` points from its reading of record alone
    const others = new Set(s.channels().flatMap((c) => (c.gpu !== undefined && decisions.get(c.id)?.primary === false ? [c.gpu] : [])));
    sources.push(others.size > 0 ? new WithoutGpuPoints(s, others) : s);
  }
  return sources;
}

/** A source whose `gpu` points for some of its GPUs are left out: another source reads those boards of record. */
class WithoutGpuPoints implements Source {
  constructor(
    private readonly inner: Source,
    private readonly others: ReadonlySet<number>,
  ) {}
  get name() {
    return this.inner.name;
  }
  channels() {
    return this.inner.channels();
  }
  collect(timeMs: number): Sample[] {
    return (this.inner.collect?.(timeMs) ?? []).filter((p) => !(p.measurement === MEASUREMENT.gpu && this.others.has(Number(p.tags[GPU.tags.gpu]))));
  }
  gpus() {
    return this.inner.gpus?.() ?? [];
  }
  gpuProcessUse(gpu: number, sinceUs: number) {
    return this.inner.gpuProcessUse?.(gpu, sinceUs);
  }
  close() {
    return this.inner.close?.();
  }
}
