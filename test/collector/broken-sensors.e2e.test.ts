/**
 * A real `wattscope collect` on its defaults over a machine whose sensors misbehave: the real
 * RX 7900 XTX capture (its `name` padded with NULs to the page's end) beside chips whose name is
 * control characters and bytes that are not text, whose value is garbage or a megabyte of digits
 * or turns to garbage while it is read, whose label is an escape sequence, and one whose file
 * vanishes after discovery — for longer than the minute's rediscovery. (A read that fails is
 * tested in faults.test.ts and sources/fuzz.test.ts: an open sysfs file whose node the kernel
 * removes fails with ENODEV, which a file here cannot do once open.) The collector stays up, /healthz answers, the good sources
 * (a RAPL package driven at 40 W, the Radeon) keep writing to InfluxDB, and every bad file is
 * named once in the log and counted in /metrics.
 */
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InfluxStore, ident, iql, str } from '../../common/storage/index.js';
import { testSettings } from '../helpers.js';
import { copyHost } from './fixtures.js';
import { spawnCollector, startRaplDriver } from './process.js';
import { expectSteady, PKG_ENERGY, RAPL_RANGE_UJ } from './power-points.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function chip(root: string, hwmon: string, files: Record<string, string | Buffer>): Record<string, string> {
  const dir = join(root, 'sys', 'class', 'hwmon', hwmon);
  mkdirSync(dir, { recursive: true });
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    paths[name] = join(dir, name);
    writeFileSync(paths[name], content);
  }
  return paths;
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('wattscope collect over broken sensors', () => {
  it('stays up, answers /healthz, keeps the good sources writing, and names and counts each bad file once', async () => {
    const root = copyHost('desktop-rx7900xtx');
    const badName = chip(root, 'hwmon20', { name: Buffer.from([0x01, 0x02, 0xff, 0xfe, 0x0a]), power1_input: '15000000\n' }).name as string;
    const garbage = chip(root, 'hwmon21', { name: Buffer.concat([Buffer.from('nct6775\n'), Buffer.alloc(100)]), power1_input: 'garbage\n' }).power1_input as string;
    const vanishing = chip(root, 'hwmon22', { name: 'vanishing\n', power1_input: '12000000\n' }).power1_input as string;
    const badLabel = chip(root, 'hwmon23', { name: 'ina3221\n', in1_input: '5000\n', curr1_input: '1000\n', curr1_label: '\u001b[31mVDD_IN\n' }).curr1_label as string;
    const huge = chip(root, 'hwmon24', { name: 'huge\n', power1_input: '7'.repeat(1_000_000) }).power1_input as string;
    const turning = chip(root, 'hwmon25', { name: 'turning\n', power1_input: '9000000\n' }).power1_input as string;
    const bad = [badName, garbage, badLabel, huge, turning];

    const settings = testSettings('broken_sensors');
    const store = await InfluxStore.open(settings);
    const driver = startRaplDriver(join(root, PKG_ENERGY), 40, 1e9, RAPL_RANGE_UJ);
    const collector = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db, WATTSCOPE_HOST: 'broken' });
    try {
      await sleep(2000);
      // the rediscovery runs at each whole minute: the garbage below is read a few seconds before
      // the next one whatever minute the test starts in (too close to it, the minute is let pass)
      const toMinute = 60_000 - (Date.now() % 60_000);
      if (toMinute < 4000) await sleep(toMinute + 1000);
      // gone after discovery (a driver unloaded): the next rediscovery no longer finds it
      unlinkSync(vanishing);
      // a value that turns to garbage while it is read
      writeFileSync(turning, 'ERR\n');
      // past the next whole minute (the rediscovery, which sees the same broken files again), and a few seconds on
      await sleep(Math.max(8000, 60_000 - (Date.now() % 60_000) + 5000));
      expect(collector.child.exitCode).toBeNull();
      const health = await fetch(`http://127.0.0.1:${collector.port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', influx: { state: 'ok' } });
      const metrics = await (await fetch(`http://127.0.0.1:${collector.port}/metrics`)).text();
      const errors = (kind: string) => metric(metrics, 'wattscope_collector_source_errors_total', `source="hwmon",kind="${kind}"`);
      // the name and the label of bytes that are not text: once each, however many discoveries
      expect(errors('text')).toBe(2);
      // garbage and a megabyte of digits: skipped at discovery, once each; the value turned to
      // garbage: every read of it (10 a second), and skipped at the rediscovery
      expect(errors('value')).toBeGreaterThan(2 + 10);
      expect(errors('read')).toBe(0);
      expect(metric(metrics, 'wattscope_collector_source_success', 'source="rapl"')).toBe(1);
    } finally {
      expect(await collector.stop(), collector.output()).toBe(0);
      await driver.stop();
    }
    const log = collector.output();
    for (const f of bad) expect(log.split('\n').filter((l) => l.includes(f)), `${f}\n${log}`).toHaveLength(1);
    expect(log).toMatch(/devices changed; new set of sources/);
    expect(log).not.toMatch(/TypeError|Uncaught|unhandled/i);

    // the good sources wrote all along: the driven package at 40 W, the Radeon's 68 W, about one point a second each
    const rows = async (source: string) =>
      store.rows<{ power_w: number }>(iql`SELECT ${ident('power_w')} FROM ${ident('power')} WHERE ${ident('host')} = ${str('broken')} AND ${ident('source')} = ${str(source)}`);
    const pkg = await rows('rapl/package-0');
    const radeon = await rows('hwmon/amdgpu-0/power1');
    expect(pkg.length).toBeGreaterThan(8);
    expect(radeon.length).toBe(pkg.length);
    // the stand-in driver's file lags now and then on a busy machine (a point 37 % off was seen in a
    // whole-suite run): the package's points held as every stand-in's are (./power-points.ts)
    expectSteady(pkg.slice(1, -1), 40);
    for (const r of radeon) expect(r.power_w).toBeCloseTo(68, 6);
    // the vanished sensor wrote until the rediscovery after its file went, and no longer
    const gone = await rows('hwmon/vanishing-0/power1');
    expect(gone.length).toBeGreaterThan(0);
    expect(gone.length).toBeLessThan(pkg.length - 3);
    expect(await rows('hwmon/huge-0/power1')).toEqual([]);
  }, 120_000);
});
