/**
 * `wattscope collect`: discovers the sources, runs the agent, spools every point and sends the
 * spool to InfluxDB, serves /metrics and /healthz, and shuts down cleanly on SIGTERM.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import cron from 'node-cron';
import type { Config } from '../common/config.js';
import { logger } from '../common/log.js';
import { cpuModelFromCpuinfo, derivePlatform } from '../common/platform.js';
import { toLines } from '../common/storage/line-protocol.js';
import { InfluxStore, settingsFromConfig } from '../common/storage/store.js';
import { HOST_TAGS } from '../common/model.js';
import { Agent } from './agent.js';
import { discoverSources } from './discover.js';
import { CollectorMetrics } from './metrics.js';
import { Sender } from './sender.js';
import { Spool } from './spool.js';
import type { Source } from './source.js';
import { readTrimmed } from './sysfs.js';

const log = logger('collector');

export interface Collector {
  readonly metrics: CollectorMetrics;
  readonly agent: Agent;
  readonly spool: Spool;
  /** the HTTP server's port (when the config asks for port 0, the one the OS chose) */
  readonly port: number;
  stop(): Promise<void>;
}

function channelKey(sources: readonly Source[]): string {
  return sources
    .flatMap((s) => [s.name, ...s.channels().map((c) => c.id)])
    .sort()
    .join(',');
}

export async function startCollector(config: Config): Promise<Collector> {
  const hostTags: Record<string, string> = { [HOST_TAGS.host]: config.host, [HOST_TAGS.platform]: '' };
  let sources = await discoverSources(config, hostTags, log);
  // several GPU sources may see the same GPUs (nvidia-smi and DCGM): the first one names them
  const gpuNames = sources.map((s) => s.deviceNames?.() ?? []).find((names) => names.length > 0) ?? [];
  hostTags[HOST_TAGS.platform] = config.platform || derivePlatform(cpuModelFromCpuinfo(readTrimmed(join(config.collector.procfsRoot, 'cpuinfo')) ?? ''), gpuNames);
  const metrics = new CollectorMetrics();
  const spool = new Spool({ dir: config.collector.spoolDir, maxBytes: config.collector.spoolMaxBytes, onDrop: (n) => metrics.pointsDropped.inc(n) });
  if (spool.pendingBytes > 0) log.info('replaying points spooled by an earlier run', { bytes: spool.pendingBytes });

  let sender: Sender | undefined;
  let stopped = false;
  const settings = settingsFromConfig(config);
  let connectTimer: NodeJS.Timeout | undefined;
  const connect = async (attempt: number): Promise<void> => {
    try {
      const store = await InfluxStore.open(settings);
      if (stopped) return;
      sender = new Sender(spool, store.writer({ maxRetries: 0, batchSize: 5000 }), metrics, log);
      log.info(`writing to InfluxDB ${store.version.raw} at ${settings.url}, database "${settings.db}"`);
      sender.kick();
    } catch (e) {
      if (attempt === 0) log.warn('InfluxDB is not reachable yet; collecting into the spool meanwhile', { error: e });
      if (!stopped) {
        connectTimer = setTimeout(() => void connect(attempt + 1), Math.min(30_000, 1000 * 2 ** attempt));
      }
    }
  };
  await connect(0);

  const agent = new Agent({
    sources,
    hostTags,
    sampleHz: config.collector.sampleHz,
    reportIntervalS: config.collector.reportIntervalS,
    metrics,
    log,
    emit: (samples) => {
      const lines = toLines(samples);
      spool.append(lines);
      metrics.pointsSpooled.inc(lines.length);
      sender?.kickWithin(config.collector.flushIntervalS * 1000);
    },
  });
  agent.start();
  log.info('collecting', {
    host: hostTags[HOST_TAGS.host],
    platform: hostTags[HOST_TAGS.platform],
    sources: sources.map((s) => s.name).join(','),
    power: agent.channelIds.join(',') || 'none',
    sample_hz: config.collector.sampleHz,
    report_s: config.collector.reportIntervalS,
  });

  const rediscover = cron.schedule('* * * * *', async () => {
    const found = await discoverSources(config, hostTags, log);
    if (channelKey(found) === channelKey(sources)) {
      for (const s of found) await s.close?.();
      return;
    }
    log.info('devices changed; new set of sources', { sources: found.map((s) => s.name).join(','), power: found.flatMap((s) => s.channels().map((c) => c.id)).join(',') });
    const old = sources;
    sources = found;
    agent.setSources(found);
    for (const s of old) await s.close?.();
  }, { name: 'rediscover', noOverlap: true });
  const housekeeping = cron.schedule('*/5 * * * *', () => {
    spool.enforceBound();
    metrics.spoolBytes.set(spool.pendingBytes);
  }, { name: 'spool-housekeeping', noOverlap: true });

  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (e: unknown) => {
          res.writeHead(500).end(String(e));
        },
      );
      return;
    }
    if (url === '/healthz') {
      const lastWriteAgeS = metrics.lastWriteAt === undefined ? null : (Date.now() - metrics.lastWriteAt) / 1000;
      const pending = spool.pendingBytes;
      const healthy = pending < 1024 * 1024 || (lastWriteAgeS !== null && lastWriteAgeS < 60);
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: healthy ? 'ok' : 'degraded', influx: sender ? 'connected' : 'not connected', last_write_age_s: lastWriteAgeS, spool_pending_bytes: pending, sources: sources.map((s) => s.name), power_channels: agent.channelIds }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.collector.port, config.collector.bind, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.collector.port;
  log.info(`serving /metrics and /healthz on http://${config.collector.bind}:${port}`);

  return {
    metrics,
    agent,
    spool,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(connectTimer);
      await rediscover.stop();
      await housekeeping.stop();
      agent.stop();
      const flushed = sender ? await sender.flush(Date.now() + 10_000) : false;
      sender?.stop();
      if (!flushed) log.warn('InfluxDB did not take every point before shutdown; they stay in the spool and are sent at the next start', { bytes: spool.pendingBytes });
      spool.close();
      for (const s of sources) await s.close?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}
