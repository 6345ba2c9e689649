/**
 * Vitest global setup: one real influxd (Debian's `influxdb`) on a free loopback port, in a
 * temporary directory, for the whole run. Tests create their own database each (testStore()).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { aheadOfTheSuite } from '../priority.js';
import { findInfluxd, installInfluxd, startInfluxd, INSTALL_HINT, type InfluxdHandle } from '../../common/influxd.js';
import { dataDir } from '../../common/paths.js';

let handle: InfluxdHandle | undefined;
let dir: string | undefined;

/** The end-to-end tests run the real `wattscope` command, so dist/ must match the sources. */
function build(): void {
  const tsc = new URL('../../node_modules/.bin/tsc', import.meta.url).pathname;
  const r = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

/**
 * The other system tools the suite drives for real: Chromium (the live page),
 * docker-compose (validating docker-compose.yml), tmux (a terminal whose screen the CLI tests
 * read), promtool (both services' /metrics), gcc (the stand-in libnvidia-ml) and FUSE (a disk
 * that fails on purpose). As root on Debian they are installed when
 * missing, as `.ci/run` would; elsewhere the tests that need them say the install command.
 */
function ensureSystemTools(): void {
  const missing = [
    ['chromium', '/usr/bin/chromium'],
    ['docker-compose', '/usr/bin/docker-compose'],
    ['tmux', '/usr/bin/tmux'],
    ['prometheus', '/usr/bin/promtool'],
    ['gcc', '/usr/bin/gcc'],
    ['fuse3', '/usr/bin/fusermount3'],
    ['libfuse3-dev', '/usr/include/fuse3/fuse.h'],
    ['pkg-config', '/usr/bin/pkg-config'],
  ]
    .filter(([, path]) => !existsSync(path as string))
    .map(([pkg]) => pkg as string);
  if (missing.length === 0 || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return;
  console.error(`installing ${missing.join(', ')} for the tests (apt-get)`);
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
    install();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  build();
  ensureSystemTools();
  // a fresh machine gets Debian's influxdb as `wattscope up` would get it (apt-get as root,
  // apt-get download + dpkg -x otherwise); elsewhere the tests stop with the install hint
  const localRoot = join(dataDir(), 'influxdb-dist');
  let bin = findInfluxd(localRoot);
  if (!bin) {
    try {
      bin = installInfluxd(localRoot, (line) => console.error(line));
    } catch (e) {
      throw new Error(`The tests run against a real influxd, and none is installed: ${INSTALL_HINT}\n${(e as Error).message}`);
    }
  }
  dir = mkdtempSync(join(tmpdir(), 'wattscope-influxd-'));
  handle = await startInfluxd({ bin, dir });
  // the suite's database server runs ahead of the suite's own work where permitted, as a
  // deployment's InfluxDB has its own share of a machine: beside two busy loops it once did not
  // answer a /ping for 10 s, and every file that opened a store then failed (../priority.ts)
  aheadOfTheSuite(handle.pid);
  project.provide('influxUrl', handle.url);
  project.provide('influxdBin', bin);
  return async () => {
    await handle?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
    influxdBin: string;
  }
}
