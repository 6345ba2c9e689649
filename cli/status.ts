/** `wattscope baseline` and `wattscope status`. */
import { loadConfig } from './config.js';
import { ApiClientError, type RunSummary, type WattscopeClient } from '../clients/ts/client.js';
import { client, num, numberOption, parseOptions, table, UsageError } from './format.js';
import { countdown, WAITING_FOR_COLLECTORS, whilePending } from './terminal.js';
import type { Command } from './command.js';

const BASELINE_USAGE = `Usage: wattscope baseline --seconds N [--host H] [--platform P]

Measures this host's idle power: counts down N seconds (leave the machine idle), then records a
baseline run over them; the API answers once the collectors' points past the end have arrived
(a few seconds). Net energy of later runs subtracts each source's idle power.`;

/**
 * Counts down `seconds` (the machine left idle), then records a baseline run over them; the API
 * answers once the collectors' points past the end have arrived.
 */
export async function measureBaseline(api: WattscopeClient, apiUrl: string, host: string, seconds: number, platform: string | undefined): Promise<RunSummary> {
  // fail before the wait, not after it
  const health = await api.health();
  if (!health.influxdb.reachable) throw new ApiClientError(`the API at ${apiUrl} cannot reach its InfluxDB (${health.influxdb.error ?? 'unknown error'}): see \`wattscope status\``);
  await countdown(seconds, (left) =>
    left === undefined ? `[wattscope] measuring idle power of ${host} for ${seconds} s; leave the machine idle…` : `[wattscope] measuring idle power of ${host}; leave the machine idle… ${left} s left`,
  );
  // the window is the last N seconds before this request: no extra sleep, the API waits for the points past its end
  return whilePending(api.baseline(host, seconds, platform), WAITING_FOR_COLLECTORS);
}

export const baselineCommand: Command = {
  name: 'baseline',
  usage: BASELINE_USAGE,
  async main(argv) {
    const { values } = parseOptions({ args: argv, options: { seconds: { type: 'string' }, host: { type: 'string' }, platform: { type: 'string' } } });
    if (values.seconds === undefined) throw new UsageError('--seconds N is required (1–86400)');
    const seconds = numberOption(values.seconds, 'seconds', { min: 1, max: 86_400 }) as number;
    const config = loadConfig();
    const host = values.host ?? config.host;
    const run = await measureBaseline(client(config), config.api.url, host, seconds, values.platform ?? (config.platform || undefined));
    console.log(table(['source', 'method', 'idle W', 'coverage'], run.sources.map((s) => [s.source, s.method, num(s.avg_power_w, 2), `${num(s.coverage * 100, 1)} %`])));
    console.log(`\nbaseline ${run.run_id}: ${num(run.avg_power_w, 2)} W idle in total`);
    return 0;
  },
};

const STATUS_USAGE = `Usage: wattscope status

Checks the stack: the API (WATTSCOPE_API_URL), its InfluxDB, and this host's collector
(http://127.0.0.1:WATTSCOPE_COLLECTOR_PORT/healthz). Exit status 0 when all are healthy.`;

export const statusCommand: Command = {
  name: 'status',
  usage: STATUS_USAGE,
  async main(argv) {
    if (argv.length > 0) throw new UsageError(`wattscope status takes no arguments (got ${argv.join(' ')})`);
    const config = loadConfig();
    const rows: string[][] = [];
    let healthy = true;
    try {
      // a 503 is an answer: the API is up and says why its InfluxDB is not
      const h = await client(config).health();
      rows.push(['API', 'ok', config.api.url]);
      rows.push(['InfluxDB', h.influxdb.reachable ? 'ok' : 'DOWN', h.influxdb.reachable ? `${h.influxdb.version ?? ''} database ${h.influxdb.database ?? ''}` : (h.influxdb.error ?? '')]);
      healthy &&= h.influxdb.reachable;
    } catch (e) {
      rows.push(['API', 'DOWN', (e as Error).message]);
      healthy = false;
    }
    const collectorUrl = `http://127.0.0.1:${config.collector.port}/healthz`;
    try {
      const res = await fetch(collectorUrl, { signal: AbortSignal.timeout(3000) });
      const body = (await res.json()) as { status: string; spool_pending_bytes: number; power_channels: string[]; last_write_age_s: number | null };
      rows.push(['collector', body.status === 'ok' ? 'ok' : 'DEGRADED', `${body.power_channels.length} power sources, last write ${num(body.last_write_age_s, 1)} s ago, ${body.spool_pending_bytes} B spooled`]);
      healthy &&= res.ok;
    } catch {
      rows.push(['collector', 'DOWN', `nothing answers ${collectorUrl}: start it with \`wattscope collect\` (or \`wattscope up\`)`]);
      healthy = false;
    }
    console.log(table(['part', 'state', 'detail'], rows));
    return healthy ? 0 : 1;
  },
};
