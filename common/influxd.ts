/**
 * Finds, installs and runs a local `influxd` (Debian's package `influxdb`, 1.x) as a plain
 * process: the embedded default of `wattscope up`, and the real server of the test suite.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { findExecutable } from './paths.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const INSTALL_HINT = 'install it with `apt-get install -y influxdb` (Debian/Ubuntu), or point WATTSCOPE_INFLUX_URL at a running InfluxDB';

/** influxd from PATH, or from a copy unpacked under `localRoot` by installInfluxd(). */
export function findInfluxd(localRoot?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findExecutable('influxd', env) ?? (localRoot ? findExecutable(join(localRoot, 'usr', 'bin', 'influxd')) : undefined);
}

/**
 * Installs Debian's `influxdb`: with apt-get as root; without root, `apt-get download` and
 * `dpkg -x` into `localRoot`. Elsewhere, says to use docker-compose.
 */
export function installInfluxd(localRoot: string, say: (line: string) => void): string {
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get && command -v dpkg'], { encoding: 'utf8' }).status === 0;
  if (!hasApt) {
    throw new Error(`influxd is not installed and this is not a Debian-like system: ${INSTALL_HINT}, or run the whole stack with \`docker compose up -d\``);
  }
  const run = (cmd: string, args: string[], cwd?: string) => {
    say(`$ ${cmd} ${args.join(' ')}`);
    const r = spawnSync(cmd, args, { stdio: 'inherit', cwd });
    return r.status === 0;
  };
  if (process.getuid?.() === 0) {
    if (!run('apt-get', ['install', '-y', 'influxdb'])) {
      run('apt-get', ['update']);
      if (!run('apt-get', ['install', '-y', 'influxdb'])) throw new Error(`apt-get could not install influxdb: ${INSTALL_HINT}`);
    }
  } else {
    const pkgDir = join(localRoot, 'pkg');
    mkdirSync(pkgDir, { recursive: true });
    if (!run('apt-get', ['download', 'influxdb'], pkgDir)) throw new Error(`apt-get download influxdb failed: ${INSTALL_HINT}`);
    const deb = readdirSync(pkgDir).find((f) => f.startsWith('influxdb_') && f.endsWith('.deb'));
    if (!deb || !run('dpkg', ['-x', join(pkgDir, deb), localRoot])) throw new Error(`could not unpack influxdb into ${localRoot}`);
  }
  const bin = findInfluxd(localRoot);
  if (!bin) throw new Error(`influxd still not found after installing: ${INSTALL_HINT}`);
  return bin;
}

/** A free TCP port on loopback (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface InfluxdOptions {
  bin: string;
  /** data, WAL, meta and the config file live here; reuse it to keep data across starts */
  dir: string;
  /** HTTP port on 127.0.0.1; 0 picks a free one */
  port?: number;
  /** require credentials (tests of the unauthorized path) */
  auth?: boolean;
}

export interface InfluxdHandle {
  url: string;
  port: number;
  dir: string;
  pid: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

function configText(dir: string, port: number, rpcPort: number, auth: boolean): string {
  return `# written by wattscope; influxd 1.x configuration for a loopback-only server
reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = ${auth}
  log-enabled = false
  max-body-size = 0
`;
}

async function waitForPing(url: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`influxd exited (code ${child.exitCode ?? child.signalCode}) before answering /ping; its log ${logFile} ends with:\n${tail}`);
    }
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 204) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`influxd did not answer ${url}/ping within ${timeoutMs} ms; see ${logFile}`);
}

export async function startInfluxd(options: InfluxdOptions): Promise<InfluxdHandle> {
  const { bin, dir } = options;
  mkdirSync(dir, { recursive: true });
  const port = options.port || (await freePort());
  const rpcPort = await freePort();
  const configFile = join(dir, 'influxd.conf');
  writeFileSync(configFile, configText(dir, port, rpcPort, options.auth === true));
  const logFile = join(dir, 'influxd.log');
  const fd = openSync(logFile, 'a');
  // its own process group, so that a Ctrl-C meant for `wattscope up` does not stop InfluxDB
  // before the collector has flushed into it
  const child = spawn(bin, ['-config', configFile], { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForPing(url, child, logFile, 30_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    port,
    dir,
    pid: child.pid ?? -1,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
