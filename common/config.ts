/**
 * Configuration of every part, from one table: each option has an environment variable, a key
 * in the JSON config file, a default and a description. The environment wins over the file, the
 * file over the default. Here: the core options (the collector's core, the API, the clients) and
 * the loader; the whole table — these and each source's own options — is assembled at the top,
 * by the command (cli/config.ts), so that nothing here looks up into the collector.
 * `docs/CONFIGURATION.md` and `collector/sample-config.json` list the whole table (a test keeps
 * them in step).
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { dataDir, defaultConfigFile } from './paths.js';
import { registerSecret } from './log.js';

export type Kind = 'string' | 'secret' | 'int' | 'number' | 'bool' | 'list';

export interface OptionSpec {
  /** dotted key in the config file, e.g. `collector.port` */
  key: string;
  env: string;
  kind: Kind;
  default: string | number | boolean | string[] | undefined;
  min?: number;
  max?: number;
  doc: string;
}

/** The options of the collector's core, the API and the clients; the sources declare theirs. */
export const CORE_OPTIONS: readonly OptionSpec[] = [
  { key: 'influx.url', env: 'WATTSCOPE_INFLUX_URL', kind: 'string', default: undefined, doc: 'InfluxDB base URL. Unset: `wattscope up` starts its own influxd; other commands use http://127.0.0.1:8086.' },
  { key: 'influx.token', env: 'WATTSCOPE_INFLUX_TOKEN', kind: 'secret', default: undefined, doc: 'InfluxDB 2.x/3.x token (sent as `Authorization: Token …`); for 1.x with auth, `user:password`. Never logged, never sent to a browser.' },
  { key: 'influx.org', env: 'WATTSCOPE_INFLUX_ORG', kind: 'string', default: '', doc: 'InfluxDB 2.x organisation (ignored by 1.x).' },
  { key: 'influx.db', env: 'WATTSCOPE_INFLUX_DB', kind: 'string', default: 'wattscope', doc: 'Database (1.x) or bucket (2.x, 3.x).' },
  { key: 'influx.timeoutMs', env: 'WATTSCOPE_INFLUX_TIMEOUT_MS', kind: 'int', default: 10000, min: 100, max: 600000, doc: 'Timeout of one request to InfluxDB, in ms.' },
  { key: 'host', env: 'WATTSCOPE_HOST', kind: 'string', default: hostname(), doc: 'The `host` tag of this machine’s points.' },
  { key: 'platform', env: 'WATTSCOPE_PLATFORM', kind: 'string', default: '', doc: 'The `platform` tag (e.g. `A100-40G`). Empty: derived from the CPU and GPU model names.' },
  {
    key: 'gridIntensity',
    env: 'WATTSCOPE_GRID_INTENSITY',
    kind: 'number',
    default: undefined,
    min: 0,
    max: 5000,
    doc: 'Carbon intensity of the electricity, g CO₂ per kWh, for runs’ `carbon_g`. On a collector: its host’s grid (sent in its host record). On the API: the deployment’s, for hosts that say none. Unset everywhere: 436, the world average of 2022 (Ember, Global Electricity Review 2023); set your grid’s figure.',
  },
  { key: 'collector.port', env: 'WATTSCOPE_COLLECTOR_PORT', kind: 'int', default: 9101, min: 0, max: 65535, doc: 'Port of the collector’s /metrics and /healthz.' },
  { key: 'collector.bind', env: 'WATTSCOPE_COLLECTOR_BIND', kind: 'string', default: '127.0.0.1', doc: 'Address the collector’s HTTP server binds.' },
  { key: 'collector.procfsRoot', env: 'WATTSCOPE_PROCFS_ROOT', kind: 'string', default: '/proc', doc: 'Root of procfs (a fixture tree in tests, /host/proc in a container).' },
  { key: 'collector.sysfsRoot', env: 'WATTSCOPE_SYSFS_ROOT', kind: 'string', default: '/sys', doc: 'Root of sysfs (powercap and hwmon are read below it).' },
  { key: 'collector.sampleHz', env: 'WATTSCOPE_SAMPLE_HZ', kind: 'number', default: 10, min: 0.1, max: 1000, doc: 'Rate at which sampled and averaged power sources are read and integrated. Energy counters (and the CPU estimate) are exact however rarely they are read: they are read at each report, and at this rate only where the collector wakes at it anyway for a sampled source.' },
  { key: 'collector.reportIntervalS', env: 'WATTSCOPE_REPORT_INTERVAL_S', kind: 'number', default: 1, min: 0.1, max: 3600, doc: 'One point per source per report interval, in seconds.' },
  { key: 'collector.flushIntervalS', env: 'WATTSCOPE_FLUSH_INTERVAL_S', kind: 'number', default: 5, min: 0, max: 3600, doc: 'How often spooled points are sent to InfluxDB, in seconds (0: after every report). Sending less often costs less CPU; `wattscope up` sends every second for the live page.' },
  { key: 'collector.spoolDir', env: 'WATTSCOPE_SPOOL_DIR', kind: 'string', default: join(dataDir(), 'spool'), doc: 'On-disk spool: every point is written here first and sent from here, so nothing is lost while InfluxDB is down or after a crash.' },
  { key: 'collector.spoolMaxBytes', env: 'WATTSCOPE_SPOOL_MAX_BYTES', kind: 'int', default: 2 * 1024 ** 3, min: 1024 * 1024, max: 1024 ** 4, doc: 'Bound of the spool; past it the oldest segment is dropped first, sent or not (counted in wattscope_collector_points_dropped_total). At default rates a 64-core host with 8 GPUs and 16 power sources spools ~1.7 GB a day (per-core CPU points are most of it), a 2-core VM ~0.2 GB: the 2 GiB default holds 24 h of either.' },
  { key: 'collector.spoolMemoryBytes', env: 'WATTSCOPE_SPOOL_MEMORY_BYTES', kind: 'int', default: 16 * 1024 * 1024, min: 0, max: 1024 ** 3, doc: 'While the spool’s disk refuses writes (full), points wait in memory up to this many bytes (past it they are dropped and counted), go to disk once it takes writes again, and are sent from memory meanwhile.' },
  { key: 'collector.unhealthyAfterS', env: 'WATTSCOPE_COLLECTOR_UNHEALTHY_AFTER_S', kind: 'number', default: 60, min: 1, max: 86400, doc: 'The collector’s /healthz turns unhealthy (503) once InfluxDB has not taken points for this many seconds; spooling goes on.' },
  {
    key: 'collector.url',
    env: 'WATTSCOPE_COLLECTOR_URL',
    kind: 'string',
    default: '',
    doc: 'Where the clients on this host (`wattscope window`, the Python and TypeScript windows) reach its collector for GET /energy. Empty: http://127.0.0.1:<WATTSCOPE_COLLECTOR_PORT>.',
  },
  {
    key: 'collector.clientTimeoutS',
    env: 'WATTSCOPE_COLLECTOR_TIMEOUT',
    kind: 'number',
    default: 0.1,
    min: 0.001,
    max: 60,
    doc: 'The most a window’s edge waits for the collector’s GET /energy, in seconds; past it the edge has no reading (the window’s energy is null, said once) and the program goes on.',
  },
  { key: 'collector.sources', env: 'WATTSCOPE_SOURCES', kind: 'list', default: [], doc: 'Comma list of sources to run (their names: the sources’ table below). Empty: all that find their hardware.' },
  { key: 'api.port', env: 'WATTSCOPE_API_PORT', kind: 'int', default: 8080, min: 0, max: 65535, doc: 'Port of the API and the built-in page.' },
  { key: 'api.bind', env: 'WATTSCOPE_API_BIND', kind: 'string', default: '127.0.0.1', doc: 'Address the API binds (0.0.0.0 in a container).' },
  { key: 'api.url', env: 'WATTSCOPE_API_URL', kind: 'string', default: 'http://127.0.0.1:8080', doc: 'Where clients (CLI, Python) reach the API.' },
  { key: 'api.token', env: 'WATTSCOPE_API_TOKEN', kind: 'secret', default: undefined, doc: 'When set, write routes require `Authorization: Bearer <token>`.' },
  { key: 'api.protectReads', env: 'WATTSCOPE_API_PROTECT_READS', kind: 'bool', default: false, doc: 'Also require the token on read routes.' },
  { key: 'api.runTimeoutMin', env: 'WATTSCOPE_RUN_TIMEOUT', kind: 'number', default: 30, min: 0.05, max: 100000, doc: 'Minutes without heartbeat after which a running run becomes `abandoned`.' },
  { key: 'api.stopWaitMaxS', env: 'WATTSCOPE_STOP_WAIT_MAX_S', kind: 'number', default: 30, min: 0, max: 3600, doc: 'The most a run’s stop (and a baseline) waits for the collectors’ points that cover its end: each host’s flush and report intervals plus 2 s, bounded by this. Past it the run comes back partial, naming the silent sources, and is measured again as late points arrive. 0: never wait.' },
  { key: 'api.liveMaxViewers', env: 'WATTSCOPE_LIVE_MAX_VIEWERS', kind: 'int', default: 100, min: 1, max: 100000, doc: 'Most viewers of the live stream at once; past it /api/live/stream answers 503 with Retry-After.' },
  { key: 'api.bodyLimitBytes', env: 'WATTSCOPE_API_BODY_LIMIT', kind: 'int', default: 1024 * 1024, min: 1024, max: 1024 ** 3, doc: 'Largest accepted request body (413 past it).' },
  { key: 'api.rateLimitPerMin', env: 'WATTSCOPE_API_RATE_LIMIT', kind: 'int', default: 6000, min: 1, max: 10_000_000, doc: 'Requests per minute per client address.' },
  { key: 'api.netscoreAlpha', env: 'WATTSCOPE_NETSCORE_ALPHA', kind: 'number', default: 2, min: 0, max: 100, doc: 'NetScore exponent α of accuracy.' },
  { key: 'api.netscoreBeta', env: 'WATTSCOPE_NETSCORE_BETA', kind: 'number', default: 0.5, min: 0, max: 100, doc: 'NetScore exponent β of parameters.' },
  { key: 'api.netscoreGamma', env: 'WATTSCOPE_NETSCORE_GAMMA', kind: 'number', default: 0.5, min: 0, max: 100, doc: 'NetScore exponent γ of MACs.' },
  { key: 'api.energyPrice', env: 'WATTSCOPE_ENERGY_PRICE', kind: 'number', default: undefined, min: 0, max: 1e6, doc: 'Price of a kWh, for runs’ `energy_cost` (in that price’s currency). Unset: no cost.' },
];


export interface Config {
  influx: { url: string | undefined; token: string | undefined; org: string; db: string; timeoutMs: number };
  host: string;
  platform: string;
  gridIntensity: number | undefined;
  collector: {
    port: number;
    bind: string;
    procfsRoot: string;
    sysfsRoot: string;
    sampleHz: number;
    reportIntervalS: number;
    flushIntervalS: number;
    spoolDir: string;
    spoolMaxBytes: number;
    spoolMemoryBytes: number;
    unhealthyAfterS: number;
    url: string;
    clientTimeoutS: number;
    sources: string[];
    // each source's own options (collector/sources/<name>/options.ts) are read with optionValue()
  };
  api: {
    port: number;
    bind: string;
    url: string;
    token: string | undefined;
    protectReads: boolean;
    runTimeoutMin: number;
    stopWaitMaxS: number;
    liveMaxViewers: number;
    bodyLimitBytes: number;
    rateLimitPerMin: number;
    netscoreAlpha: number;
    netscoreBeta: number;
    netscoreGamma: number;
    energyPrice: number | undefined;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Raw = string | number | boolean | string[] | undefined;

function parse(spec: OptionSpec, value: unknown, where: string): Raw {
  if (value === undefined || value === null || value === '') return spec.default;
  const bad = (rule: string) => new ConfigError(`${where}: ${rule} (got ${JSON.stringify(value)})`);
  switch (spec.kind) {
    case 'string':
    case 'secret':
      if (typeof value !== 'string') throw bad('must be a string');
      return value;
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      throw bad('must be true or false');
    case 'list':
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
      if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
      throw bad('must be a comma list or an array of strings');
    case 'int':
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw bad('must be a number');
      if (spec.kind === 'int' && !Number.isInteger(n)) throw bad('must be a whole number');
      if (spec.min !== undefined && n < spec.min) throw bad(`must be ≥ ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`must be ≤ ${spec.max}`);
      return n;
    }
  }
}

function lookup(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function assign(obj: Record<string, unknown>, dotted: string, value: Raw): void {
  const parts = dotted.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

/** Reads the config file named by WATTSCOPE_CONFIG (or the default one, if it exists). */
function readFileConfig(env: NodeJS.ProcessEnv): { file: string | undefined; data: unknown } {
  const explicit = env.WATTSCOPE_CONFIG;
  const file = explicit || defaultConfigFile(env);
  if (!existsSync(file)) {
    if (explicit) throw new ConfigError(`WATTSCOPE_CONFIG names ${file}, which does not exist`);
    return { file: undefined, data: {} };
  }
  try {
    return { file, data: JSON.parse(readFileSync(file, 'utf8')) as unknown };
  } catch (e) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * The configuration from the environment and the config file, read against `options`: the core
 * table by default (the API, the clients); the command passes the whole table, sources' options
 * included (cli/config.ts).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: readonly OptionSpec[] = CORE_OPTIONS): Config {
  const { file, data } = readFileConfig(env);
  const out: Record<string, unknown> = {};
  const known = new Set(options.map((o) => o.key));
  for (const key of flattenKeys(data)) {
    if (!known.has(key)) throw new ConfigError(`config file ${file}: unknown option "${key}"`);
  }
  for (const spec of options) {
    const fromEnv = env[spec.env];
    const value =
      fromEnv !== undefined && fromEnv !== ''
        ? parse(spec, fromEnv, spec.env)
        : parse(spec, lookup(data, spec.key), `${file ?? 'config'}: ${spec.key}`);
    if (spec.kind === 'secret' && typeof value === 'string') registerSecret(value);
    assign(out, spec.key, value);
  }
  // The table above is the schema; `out` was assembled from it key by key.
  return out as unknown as Config;
}

function flattenKeys(data: unknown, prefix = ''): string[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return prefix ? [prefix] : [];
  return Object.entries(data as Record<string, unknown>).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? flattenKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

export const DEFAULT_INFLUX_URL = 'http://127.0.0.1:8086';
