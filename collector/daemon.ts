/**
 * `wattscope collect`: discovers the sources, runs the agent, spools every point and sends the
 * spool to InfluxDB, serves /metrics and /healthz, and shuts down cleanly on SIGTERM.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { Config } from '../common/config.js';
import { logger } from '../common/log.js';
import { lineProblem, toLines } from '../common/storage/line-protocol.js';
import { InfluxStore, settingsFromConfig } from '../common/storage/store.js';
import { StorageError } from '../common/storage/errors.js';
import { HOST_TAGS, MEASUREMENT, type Sample } from '../common/model.js';
import { hostRecordSample } from '../common/host-record.js';
import { VERSION } from '../common/version.js';
import { Agent } from './agent.js';
import { bootId, CounterStateWriter, loadCounterState, type CounterReading } from './counter-state.js';
import { every } from './every.js';
import { RunTracker } from './attribution.js';
import { runRegistration } from './runs-endpoint.js';
import { energyAnswer, energyEndpoint } from './energy-endpoint.js';
import { DeadLetters } from './dead-letter.js';
import { discoverSources } from './discover.js';
import { cpuModelOf, hostRecordOf, platformOf } from './host.js';
import { SharedResources } from './resources/index.js';
import { CollectorMetrics } from './metrics.js';
import { Sender } from './sender.js';
import { Spool } from './spool.js';
import { SpoolLock, SpoolLockedError } from './spool-lock.js';
import { errnoCode } from './sysfs.js';
import type { Source } from './source.js';

const log = logger('collector');

/** What the collector writes; a line read back from the spool must be one of these. */
export const COLLECTOR_MEASUREMENTS: ReadonlySet<string> = new Set([MEASUREMENT.cpu, MEASUREMENT.mem, MEASUREMENT.disk, MEASUREMENT.net, MEASUREMENT.gpu, MEASUREMENT.power, MEASUREMENT.host, MEASUREMENT.workload]);

/**
 * The collector's way from samples to InfluxDB: line protocol, appended to the spool, and a
 * send asked for within the flush interval (the sender goes on from the spool). Exported for
 * the fleet benchmark, whose simulated hosts take this very path. Returns the lines spooled.
 */
export function emitThroughSpool(samples: readonly Sample[], spool: Spool, metrics: CollectorMetrics, sender: Sender | undefined, flushMs: number): number {
  // the agent checks its sources' points; a point that still cannot be written (the host
  // record's platform, a bug) is left out with one line, not the batch and not the collector
  const lines = toLines(samples, (sample, error) => {
    metrics.sourceErrors.inc({ source: 'collector', kind: 'encode' });
    log.once(`refused:${sample.measurement}`, 'error', `a ${sample.measurement} point cannot be written and is left out (wattscope_collector_source_errors_total{source="collector",kind="encode"})`, { error });
  });
  spool.append(lines);
  metrics.pointsSpooled.inc(lines.length);
  metrics.spoolMemoryPoints.set(spool.memoryLines);
  sender?.kickWithin(flushMs);
  return lines.length;
}

/** A clock offset above this is worth a warning: run windows and points disagree by that much. */
const CLOCK_WARN_S = 0.5;

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
    .flatMap((s) => [s.name, ...s.channels().map((c) => `${c.id}:${c.method}:${c.inTotal}`)])
    .sort()
    .join(',');
}


/**
 * One collector per spool: the lock is taken before anything is read from or written to it.
 * A spool on a disk that fails (EIO: dying, a lost network volume) cannot be locked, nor used:
 * the collector then runs with its points in memory only, and says so loudly — they reach
 * InfluxDB as long as it takes them, and are lost if the collector stops before.
 */
function lockSpool(dir: string): SpoolLock | undefined {
  try {
    mkdirSync(dir, { recursive: true });
    return SpoolLock.acquire(dir);
  } catch (e) {
    if (e instanceof SpoolLockedError) throw e;
    log.error(`the spool's disk fails (${errnoCode(e) ?? 'error'}): running WITHOUT A SPOOL — points wait in memory only (WATTSCOPE_SPOOL_MEMORY_BYTES) until InfluxDB takes them, and are lost if the collector stops first; the spool is taken up again as soon as its disk works. Check the disk of ${dir}`, { error: e });
    return undefined;
  }
}

export async function startCollector(config: Config): Promise<Collector> {
  const startedAt = Date.now();
  const startedMono = performance.now();
  // settings that cannot work (credentials given twice, a URL that is none) stop the start here
  const settings = settingsFromConfig(config);
  // one collector per spool: taken before anything is read from or written to it
  const lock = lockSpool(config.collector.spoolDir);
  const hostTags: Record<string, string> = { [HOST_TAGS.host]: config.host, [HOST_TAGS.platform]: '' };
  const resources = new SharedResources(log);
  const metrics = new CollectorMetrics();
  // a sensor file a source cannot use is counted once (it is logged once), however many rediscoveries see it
  const problems = new Set<string>();
  const onProblem = (source: string, kind: string, key: string) => {
    const k = `${source}\u0000${kind}\u0000${key}`;
    if (problems.has(k)) return;
    problems.add(k);
    metrics.sourceErrors.inc({ source, kind });
  };
  // the agent comes after discovery: a source that reports work reads the host's energy through it once it runs
  const running: { agent?: Agent } = {};
  const hostEnergyJ = () => running.agent?.inTotalEnergyJ();
  let sources: Source[];
  try {
    sources = await discoverSources(config, { hostTags, log, resources, onProblem, hostEnergyJ });
  } catch (e) {
    lock?.release();
    resources.close();
    throw e;
  }
  const cpuModel = cpuModelOf(config);
  hostTags[HOST_TAGS.platform] = platformOf(config, cpuModel, sources);
  const spool = new Spool({
    dir: config.collector.spoolDir,
    maxBytes: config.collector.spoolMaxBytes,
    memoryMaxBytes: config.collector.spoolMemoryBytes,
    validate: (line) => lineProblem(line, COLLECTOR_MEASUREMENTS),
    onDrop: (n, reason) => metrics.pointsDropped.inc({ reason }, n),
    onDiskError: (code, error) => {
      metrics.spoolDiskErrors.inc({ code });
      log.once(`spool-disk:${code}`, 'error', `the spool's disk failed (${code}): new points wait in memory (up to WATTSCOPE_SPOOL_MEMORY_BYTES) and are sent from there, those on the disk once it reads again; they go to disk once it takes writes again (wattscope_collector_spool_disk_errors_total)`, { dir: config.collector.spoolDir, error });
    },
    onDiskRecovered: (n) => log.info('the spool’s disk takes writes again; the points kept in memory are on disk now', { points: n }),
    onRepair: (what) => log.warn(`spool: ${what}`, { dir: config.collector.spoolDir }),
  });
  const deadLetters = new DeadLetters(config.collector.spoolDir);
  if (spool.pendingBytes > 0) log.info('replaying points spooled by an earlier run', { bytes: spool.pendingBytes });

  let sender: Sender | undefined;
  let store: InfluxStore | undefined;
  let stopped = false;
  let connectError: string | undefined;
  metrics.unreachableSince = startedAt;
  metrics.readClockOffset = () => store?.clock.estimate()?.offsetS;
  let connectTimer: NodeJS.Timeout | undefined;
  const connect = async (attempt: number): Promise<void> => {
    try {
      const opened = await InfluxStore.open(settings);
      if (stopped) return;
      store = opened;
      sender = new Sender(spool, opened.writer({ maxRetries: 0, batchSize: 5000 }), deadLetters, metrics, log);
      log.info(`writing to InfluxDB ${opened.version.raw} at ${settings.url}, database "${settings.db}"`);
      connectError = undefined;
      sender.kick();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // a refusal needs a person (credentials, rights, a bucket): said again whenever it changes
      const refused = e instanceof StorageError && e.refused;
      if (refused && message !== connectError) log.error(`InfluxDB refuses this collector; collecting into the spool meanwhile and trying again: ${message}`);
      else if (attempt === 0 && !refused) log.warn('InfluxDB is not reachable yet; collecting into the spool meanwhile', { error: e });
      connectError = message;
      if (!stopped) {
        connectTimer = setTimeout(() => void connect(attempt + 1), Math.min(15_000, 1000 * 2 ** attempt));
      }
    }
  };
  await connect(0);

  const emit = (samples: Sample[]) => {
    emitThroughSpool(samples, spool, metrics, sender, config.collector.flushIntervalS * 1000);
  };

  /** The host record (docs/DATA-MODEL.md): what the API needs to know of this host. */
  const writeHostRecord = () => {
    const clock = store?.clock.estimate();
    if (clock) {
      // warn only when the bound is tight enough to be sure
      if (Math.abs(clock.offsetS) - clock.errorS > CLOCK_WARN_S) {
        log.once('clock-offset', 'warn', `this host's clock is ${Math.abs(clock.offsetS).toFixed(1)} s ${clock.offsetS > 0 ? 'ahead of' : 'behind'} InfluxDB's: run windows and points disagree by that much; synchronise clocks (NTP, chrony)`, { offset_s: clock.offsetS.toFixed(3), error_s: clock.errorS.toFixed(3) });
      }
    }
    emit([
      hostRecordSample(hostRecordOf(config, sources, { platform: hostTags[HOST_TAGS.platform] ?? '', cpuModel, version: VERSION, clock, startedAtMs: startedAt, timeMs: Date.now() })),
    ]);
    // sent at once, not at the next flush: the API files runs under this host's platform and
    // waits for its sources only once it has this record
    sender?.kick();
  };

  const tracker = new RunTracker(config.collector.procfsRoot, hostTags);
  // a restart in the same boot: the counters' last readings bridge the time it took, exactly
  const boot = bootId(config.collector.procfsRoot);
  const counterState = new CounterStateWriter(config.collector.spoolDir, boot);
  const saved = loadCounterState(config.collector.spoolDir, boot);
  const agent = new Agent({
    sources,
    hostTags,
    sampleHz: config.collector.sampleHz,
    reportIntervalS: config.collector.reportIntervalS,
    metrics,
    log,
    emit,
    attribute: (intervals) => tracker.attribute(intervals),
    onCounters: (readings) => counterState.save(readings),
  });
  running.agent = agent;
  const bridged = agent.seedCounters(saved);
  if (bridged.length > 0) {
    const since = Math.min(...bridged.map((id) => (saved[id] as CounterReading).timeMs));
    log.info(`restarted in the same boot: the energy counters bridge the ${((Date.now() - since) / 1000).toFixed(1)} s since their last readings (bridged_s on their first points)`, { counters: bridged.join(',') });
  } else if (boot === undefined) {
    log.once('no-boot-id', 'info', 'this boot’s id is unreadable (/proc/sys/kernel/random/boot_id): a restart’s gap is not bridged by the energy counters');
  }
  agent.start();
  writeHostRecord();
  log.info('collecting', {
    host: hostTags[HOST_TAGS.host],
    platform: hostTags[HOST_TAGS.platform],
    sources: sources.map((s) => s.name).join(','),
    power: agent.channelIds.join(',') || 'none',
    sample_hz: config.collector.sampleHz,
    report_s: config.collector.reportIntervalS,
  });

  const rediscover = every(60_000, 'rediscover', async () => {
    const found = await discoverSources(config, { hostTags, log, resources, onProblem, hostEnergyJ });
    if (channelKey(found) === channelKey(sources)) {
      for (const s of found) await s.close?.();
    } else {
      log.info('devices changed; new set of sources', { sources: found.map((s) => s.name).join(','), power: found.flatMap((s) => s.channels().map((c) => c.id)).join(',') });
      const old = sources;
      sources = found;
      agent.setSources(found);
      for (const s of old) await s.close?.();
    }
    writeHostRecord();
  }, log);
  const housekeeping = every(5 * 60_000, 'spool housekeeping', () => {
    spool.enforceBound();
    metrics.spoolBytes.set(spool.pendingBytes);
  }, log);

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
      const now = Date.now();
      const lastWriteAgeS = metrics.lastWriteAt === undefined ? null : (now - metrics.lastWriteAt) / 1000;
      const since = metrics.unreachableSince;
      const downS = since === undefined ? 0 : (now - since) / 1000;
      // spooling goes on meanwhile; unhealthy means "points are not reaching InfluxDB"
      const healthy = downS <= config.collector.unhealthyAfterS;
      const influx =
        since === undefined
          ? { state: 'ok' }
          : { state: sender ? 'not taking points' : 'unreachable', since: new Date(since).toISOString(), seconds: Math.round(downS), error: sender?.lastError ?? connectError ?? null };
      // a failing spool disk: points still reach InfluxDB (200), but nothing keeps them through an outage or a restart
      const failure = spool.diskFailure;
      const spoolState = spool.diskless
        ? { state: 'memory only', code: failure?.code ?? null, since: failure ? new Date(failure.since).toISOString() : null, dir: config.collector.spoolDir }
        : failure
          ? { state: 'failing', code: failure.code, since: new Date(failure.since).toISOString(), dir: config.collector.spoolDir }
          : { state: 'ok' };
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: healthy && spoolState.state === 'ok' ? 'ok' : 'degraded',
          influx,
          spool: spoolState,
          last_write_age_s: lastWriteAgeS,
          spool_pending_bytes: spool.pendingBytes,
          spool_memory_points: spool.memoryLines,
          sources: sources.map((s) => s.name),
          power_channels: agent.channelIds,
        }),
      );
      return;
    }
    if (url === '/energy' || url.startsWith('/energy?')) {
      energyEndpoint(req, res, () => energyAnswer(agent, config.host, { wallMs: startedAt, monoMs: startedMono }));
      return;
    }
    if (url === '/runs' || url.startsWith('/runs/')) {
      runRegistration(req, res, tracker, log);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /energy or /runs\n');
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
      counterState.close();
      lock?.release();
      for (const s of sources) await s.close?.();
      resources.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}
