/**
 * Vitest global setup: one real influxd (Debian's `influxdb`) on a free loopback port, in a
 * temporary directory, for the whole run. Tests create their own database each (testStore()).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findInfluxd, startInfluxd, INSTALL_HINT, type InfluxdHandle } from '../../common/influxd.js';

let handle: InfluxdHandle | undefined;
let dir: string | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bin = findInfluxd();
  if (!bin) throw new Error(`The tests run against a real influxd, and none is on PATH: ${INSTALL_HINT}`);
  dir = mkdtempSync(join(tmpdir(), 'wattscope-influxd-'));
  handle = await startInfluxd({ bin, dir });
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
