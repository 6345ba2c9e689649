/** Runs every factory of the registry in order and returns the sources whose hardware is here. */
import { ConfigError, type Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import { SOURCES } from './registry.js';
import type { PowerChannel, Source, SourceFactory } from './source.js';

export async function discoverSources(
  config: Config,
  hostTags: Record<string, string>,
  log: Logger,
  factories: readonly SourceFactory[] = SOURCES,
): Promise<Source[]> {
  const wanted = config.collector.sources;
  const unknown = wanted.filter((w) => !factories.some((f) => f.name === w));
  if (unknown.length > 0) {
    throw new ConfigError(`WATTSCOPE_SOURCES: unknown source(s) ${unknown.join(', ')}; known: ${factories.map((f) => f.name).join(', ')}`);
  }
  const sources: Source[] = [];
  const channels: PowerChannel[] = [];
  for (const factory of factories) {
    if (wanted.length > 0 && !wanted.includes(factory.name)) continue;
    try {
      const source = await factory.discover({
        config,
        procfs: config.collector.procfsRoot,
        sysfs: config.collector.sysfsRoot,
        log,
        hostTags,
        channelsSoFar: channels,
      });
      if (!source) {
        log.debug(`source ${factory.name}: hardware not here`);
        continue;
      }
      sources.push(source);
      channels.push(...source.channels());
    } catch (e) {
      log.once(`discover:${factory.name}`, 'error', `source ${factory.name} failed to start; the other sources keep running`, { error: e });
    }
  }
  return sources;
}
