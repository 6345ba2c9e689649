/**
 * `wattscope up`: the whole stack on this machine, no Docker. InfluxDB (the server named by
 * WATTSCOPE_INFLUX_URL, or an influxd of our own whose data lives in the user's data directory),
 * then the collector and the API as child processes. Ctrl-C / SIGTERM stops them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import { ConfigError } from '../common/config.js';
import { describeRule, inRange, numberOption, parseOptions, shown, type NumberRule } from './format.js';

const PORT: NumberRule = { integer: true, min: 1, max: 65535 };
import { findInfluxd, installInfluxd, startInfluxd, type InfluxdHandle } from '../common/influxd.js';
import { dataDir } from '../common/paths.js';
import { InfluxStore, maskUrl, settingsFromConfig } from '../common/storage/store.js';
import { binPath, type Command } from './command.js';

const USAGE = `Usage: wattscope up [--no-collector] [--no-api] [--influx-port N]

Starts the whole local stack and keeps it up until Ctrl-C, SIGTERM or SIGHUP (its terminal closing):
  InfluxDB   WATTSCOPE_INFLUX_URL if set; otherwise a local influxd (installed from Debian's
             package when missing), data kept in ${join(dataDir(), 'influxdb')}
  collector  \`wattscope collect\`, metrics on http://127.0.0.1:<WATTSCOPE_COLLECTOR_PORT>/metrics
  API        \`wattscope serve\` with the live page on http://127.0.0.1:<WATTSCOPE_API_PORT>/

Options:
  --no-collector     do not start the collector
  --no-api           do not start the API
  --influx-port N    port of the local influxd (default 8086)
  -h, --help         this text`;

interface LockInfo {
  pid: number;
  influxUrl: string;
  apiUrl: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the single-instance lock, or returns the running instance's details. */
function takeLock(file: string, info: LockInfo): LockInfo | undefined {
  if (existsSync(file)) {
    try {
      const other = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
      if (other.pid !== process.pid && alive(other.pid)) return other;
    } catch {
      // an unreadable lock is a stale one
    }
  }
  writeFileSync(file, JSON.stringify(info, null, 2));
  return undefined;
}

function prefixLines(child: ChildProcess, name: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) process.stderr.write(`${name.padEnd(9)}| ${line}\n`);
    });
  }
}

class Supervised {
  child: ChildProcess | undefined;
  private restarts = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}
  start(): void {
    // a process group of its own: Ctrl-C reaches `up` alone, which stops the children in order
    const child = spawn(process.execPath, [binPath(), ...this.args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    prefixLines(child, this.name);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      if (Date.now() - startedAt > 60_000) this.restarts = 0;
      const delay = Math.min(30_000, 1000 * 2 ** this.restarts++);
      console.error(`${this.name} exited (${signal ?? code}); restarting in ${delay / 1000} s`);
      this.timer = setTimeout(() => this.start(), delay);
    });
  }
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }
}

async function up(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv,
    options: { 'no-collector': { type: 'boolean' }, 'no-api': { type: 'boolean' }, 'influx-port': { type: 'string' } },
  });
  // checked before anything starts (the lock, influxd)
  const envPort = process.env.WATTSCOPE_LOCAL_INFLUX_PORT;
  if (envPort !== undefined && !inRange(Number(envPort), PORT)) throw new ConfigError(`WATTSCOPE_LOCAL_INFLUX_PORT takes ${describeRule(PORT)}, got ${shown(envPort)}`);
  const influxPort = numberOption(values['influx-port'], 'influx-port', PORT) ?? (envPort === undefined ? 8086 : Number(envPort));
  const config = loadConfig();
  const home = dataDir();
  mkdirSync(home, { recursive: true });
  const lockFile = join(home, 'up.lock');
  const apiUrl = `http://${config.api.bind}:${config.api.port}`;
  const other = takeLock(lockFile, { pid: process.pid, influxUrl: '', apiUrl, startedAt: new Date().toISOString() });
  if (other) {
    console.error(`wattscope up is already running (pid ${other.pid}, since ${other.startedAt}): InfluxDB ${other.influxUrl}, API ${other.apiUrl}. Stop it with: kill ${other.pid}`);
    return 1;
  }

  let influxd: InfluxdHandle | undefined;
  let influxUrl = config.influx.url;
  const children: Supervised[] = [];
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (why: string) => {
    shuttingDown ??= (async () => {
      console.error(`stopping (${why})…`);
      await Promise.all(children.map((c) => c.stop()));
      await influxd?.stop();
      rmSync(lockFile, { force: true });
      console.error('stopped');
    })();
    return shuttingDown;
  };
  process.once('SIGINT', () => void shutdown('SIGINT').then(() => process.exit(0)));
  process.once('SIGTERM', () => void shutdown('SIGTERM').then(() => process.exit(0)));
  // the terminal that runs the stack closed: stop it all, rather than leave its children orphaned
  process.once('SIGHUP', () => void shutdown('SIGHUP: the terminal closed').then(() => process.exit(0)));

  try {
    if (influxUrl) {
      console.error(`using InfluxDB at ${maskUrl(influxUrl)} (WATTSCOPE_INFLUX_URL)`);
    } else {
      const localRoot = join(home, 'influxdb-dist');
      const bin = findInfluxd(localRoot) ?? installInfluxd(localRoot, (l) => console.error(l));
      const port = influxPort;
      const dir = join(home, 'influxdb');
      console.error(`starting influxd (${bin}) on 127.0.0.1:${port}, data in ${dir}`);
      influxd = await startInfluxd({ bin, dir, port });
      influxUrl = influxd.url;
      influxd.process.on('exit', (code) => {
        if (!shuttingDown) {
          console.error(`influxd exited unexpectedly (${code}); see ${join(dir, 'influxd.log')}`);
          void shutdown('influxd exited').then(() => process.exit(1));
        }
      });
    }
    // the URL as shown and kept in the lock file carries no credentials (they go as the token)
    const settings = influxd ? { ...settingsFromConfig(config), url: influxUrl } : settingsFromConfig(config);
    const store = await InfluxStore.open(settings);
    console.error(`InfluxDB ${store.version.raw} ready at ${settings.url}, database "${store.db}"`);
    writeFileSync(lockFile, JSON.stringify({ pid: process.pid, influxUrl: settings.url, apiUrl, startedAt: new Date().toISOString() }, null, 2));

    // the live page wants every second's point as soon as it exists
    const env = { WATTSCOPE_FLUSH_INTERVAL_S: '1', ...process.env, WATTSCOPE_INFLUX_URL: influxUrl };
    if (!values['no-collector']) children.push(new Supervised('collector', ['collect'], env));
    if (!values['no-api']) children.push(new Supervised('api', ['serve'], env));
    for (const c of children) c.start();
    console.error(
      [
        'Wattscope is up. Ctrl-C stops everything.',
        `  InfluxDB    ${settings.url}`,
        values['no-collector'] ? '' : `  collector   http://${config.collector.bind}:${config.collector.port}/metrics`,
        values['no-api'] ? '' : `  live page   ${apiUrl}/   (API docs: ${apiUrl}/docs)`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
    await new Promise<never>(() => undefined);
    return 0;
  } catch (e) {
    await shutdown('error');
    throw e;
  }
}

export const upCommand: Command = {
  name: 'up',
  usage: USAGE,
  main: up,
};
