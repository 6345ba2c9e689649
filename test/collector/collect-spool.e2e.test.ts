/**
 * The collector's spool broken on purpose, with the real `wattscope collect` process and the
 * real influxd: a second collector on the same spool, a batch InfluxDB refuses and bytes gone
 * bad on disk, a tail cut after a stop, a spool filesystem that fills up. Every collector runs
 * with its defaults (flush every 5 s, report every 1 s, platform from the hardware).
 */
import { readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { InfluxStore, ident, iql, timeMs } from '../../common/storage/index.js';
import { runProcess, sideBySide, testSettings, waitFor } from '../helpers.js';
import { copyHost } from './fixtures.js';
import { COLLECT_ARGS, collectorEnv, defaultSpoolDir, spawnCollector, startRaplDriver } from './process.js';
import { energyBound, energyError, gaps, metricValue, PKG_ENERGY, RAPL_RANGE_UJ, sourcePoints } from './power-points.js';
import { mountTmpfs } from './tmpfs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KNOWN = ['cpu', 'mem', 'disk', 'net', 'gpu', 'power', 'host'];

async function measurements(store: InfluxStore): Promise<string[]> {
  const [r] = await store.query(iql`SHOW MEASUREMENTS`);
  return (r?.series[0]?.values ?? []).map((v) => String(v[0]));
}

function spoolLines(dir: string): Array<{ file: string; lines: string[] }> {
  return readdirSync(dir)
    .filter((f) => f.startsWith('seg-'))
    .sort()
    .map((f) => ({ file: join(dir, f), lines: readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean) }));
}

// each test on its own fixture host, spool and database: they wait side by side (on a quiet machine)
sideBySide('wattscope collect: its spool under faults', () => {
  it('refuses a second collector on the same spool, naming the directory and the holder', async () => {
    const root = copyHost('vm-epyc');
    const settings = testSettings('e2e_lock');
    const env = { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db };
    const first = await spawnCollector(root, env);
    try {
      // a second `wattscope collect` with the same HOME, hence the same default spool
      const second = await runProcess(process.execPath, COLLECT_ARGS, { env: collectorEnv(root, env), timeoutMs: 20_000 });
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`wattscope: another collector (pid ${first.child.pid} on `);
      expect(second.stderr).toContain(`is using the spool directory ${defaultSpoolDir(root)}`);
      expect(second.stderr).toMatch(/give this one its own WATTSCOPE_SPOOL_DIR/);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    // the lock went with the first collector: the next one starts
    const third = await spawnCollector(root, env);
    expect(await third.stop()).toBe(0);
  }, 60_000);

  it('puts a batch InfluxDB refuses (a field-type conflict) and lines gone bad on disk in the dead-letter file, and delivers every other point once', async () => {
    const root = copyHost('desktop-intel');
    const settings = testSettings('e2e_deadletter');
    const store = await InfluxStore.open(settings);
    // someone wrote `sample_hz` of `host` as a string: every host record of ours now conflicts
    await store.write([{ measurement: 'host', tags: { host: 'e2e-host' }, fields: { sample_hz: 'ten' }, timeMs: Date.now() - 60_000 }]);
    const driver = startRaplDriver(join(root, PKG_ENERGY), 40, 5e9, RAPL_RANGE_UJ);
    try {
      // 1. InfluxDB is not reachable: everything stays in the spool
      const offline = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: 'http://127.0.0.1:1', WATTSCOPE_INFLUX_DB: settings.db });
      await sleep(8_000);
      expect(await offline.stop()).toBe(0);
      const restartAt = Date.now();
      // 2. two `mem` lines go bad on disk: a byte that is not UTF-8, a garbled measurement name
      const segments = spoolLines(defaultSpoolDir(root));
      const all = segments.flatMap((s) => s.lines);
      const memLines = all.filter((l) => l.startsWith('mem,'));
      expect(memLines.length).toBeGreaterThanOrEqual(6);
      const seg = segments[0] as { file: string; lines: string[] };
      const bytes = readFileSync(seg.file);
      const first = bytes.indexOf('\nmem,') + 1;
      const second = bytes.indexOf('\nmem,', first + 10) + 1;
      bytes[first + 10] = 0xff;
      bytes[second] = 0x4d; // "Mem": a measurement we never write
      writeFileSync(seg.file, bytes);
      // 3. InfluxDB is there now
      const online = await spawnCollector(root, { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db });
      await waitFor(async () => (await sourcePoints(store)).some((r) => r.time > restartAt + 2000), 20_000, 'points of the second run');
      const metrics = await (await fetch(`http://127.0.0.1:${online.port}/metrics`)).text();
      expect(await online.stop()).toBe(0);

      expect(metricValue(metrics, 'wattscope_collector_points_dead_lettered_total', { reason: 'corrupt' })).toBe(2);
      const refused = metricValue(metrics, 'wattscope_collector_points_dead_lettered_total', { reason: 'refused' }) as number;
      expect(refused).toBeGreaterThanOrEqual(2); // the host record of each run
      const dead = readFileSync(join(defaultSpoolDir(root), 'dead-letter.lp'), 'utf8').split('\n').filter(Boolean);
      const comments = dead.filter((l) => l.startsWith('# '));
      const points = dead.filter((l) => !l.startsWith('# '));
      expect(comments.filter((c) => /unreadable in the spool \(not valid UTF-8\)/.test(c))).toHaveLength(1);
      expect(comments.filter((c) => /unreadable in the spool \(unknown measurement "Mem"\)/.test(c))).toHaveLength(1);
      expect(comments.filter((c) => /refused by InfluxDB \(400\): .*field type conflict/.test(c))).toHaveLength(refused);
      expect(points.filter((l) => l.startsWith('host,'))).toHaveLength(refused);
      expect(points.filter((l) => !l.startsWith('host,'))).toHaveLength(2);
      expect(online.output()).toMatch(/InfluxDB refused points for good; they are put aside in .*dead-letter\.lp/);

      // every other point of the first run arrived, once
      const [memCount] = await store.rows(iql`SELECT count(${ident('used_bytes')}) AS n FROM ${ident('mem')} WHERE time < ${timeMs(restartAt)}`);
      expect(memCount?.n).toBe(memLines.length - 2);
      const pkg = await sourcePoints(store);
      expect(gaps(pkg.filter((r) => r.time < restartAt))).toEqual([]);
      const firstRun = pkg.filter((r) => r.time < restartAt);
      expect(energyError(firstRun, 40)).toBeLessThan(energyBound(firstRun));
      expect(pkg.length).toBe(new Set(pkg.map((r) => r.time)).size);
      expect((await measurements(store)).every((m) => KNOWN.includes(m))).toBe(true);
    } finally {
      await driver.stop();
    }
  }, 90_000);

  it('after a tail cut behind the saved cursor, sends no half line and no junk measurement, and every point after', async () => {
    const root = copyHost('desktop-intel');
    const settings = testSettings('e2e_cut');
    const store = await InfluxStore.open(settings);
    const env = { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db };
    const driver = startRaplDriver(join(root, PKG_ENERGY), 40, 5e9, RAPL_RANGE_UJ);
    try {
      const a = await spawnCollector(root, env);
      await sleep(7_000);
      expect(await a.stop()).toBe(0); // everything sent; the cursor saved at the end
      const [seg] = spoolLines(defaultSpoolDir(root)).slice(-1);
      const size = readFileSync(seg!.file).length;
      truncateSync(seg!.file, size - 37); // a power cut took the end: the cursor now points past it
      const restartAt = Date.now();
      const b = await spawnCollector(root, env);
      await sleep(8_000);
      expect(await b.stop()).toBe(0);
      expect(b.output()).toMatch(/spool: cut \d+ bytes of a half-written line/);
      expect(b.output()).toMatch(/spool: the saved cursor pointed past the end/);
      expect(await measurements(store)).toEqual(expect.arrayContaining(['mem', 'power', 'host']));
      expect((await measurements(store)).every((m) => KNOWN.includes(m))).toBe(true);
      const pkg = (await sourcePoints(store)).filter((r) => r.time > restartAt);
      expect(pkg.length).toBeGreaterThanOrEqual(6);
      expect(gaps(pkg)).toEqual([]);
      expect(energyError(pkg, 40)).toBeLessThan(energyBound(pkg));
      // no point carries a tag or field of a line cut in half
      const [domains] = await store.query(iql`SHOW TAG VALUES FROM ${ident('power')} WITH KEY = ${ident('domain')}`);
      expect((domains?.series[0]?.values ?? []).map((v) => v[1]).every((d) => ['cpu', 'dram', 'gpu', 'soc', 'system', 'other'].includes(String(d)))).toBe(true);
    } finally {
      await driver.stop();
    }
  }, 60_000);

  it('stays up when its spool filesystem is full (a 1 MiB tmpfs), sends from memory meanwhile, and puts the points on disk once space is back', async () => {
    const fs = mountTmpfs(1024 * 1024);
    const root = copyHost('desktop-intel');
    const settings = testSettings('e2e_full');
    const store = await InfluxStore.open(settings);
    const driver = startRaplDriver(join(root, PKG_ENERGY), 40, 5e9, RAPL_RANGE_UJ);
    try {
      fs.fill(); // full before the collector starts: it used to crash-loop here
      // the spool on a volume of its own, as a container or a small /var would give it
      const env = { WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db, WATTSCOPE_SPOOL_DIR: fs.dir };
      const collector = await spawnCollector(root, env);
      const startedAt = Date.now();
      await sleep(12_000);
      const full = await (await fetch(`http://127.0.0.1:${collector.port}/metrics`)).text();
      expect(metricValue(full, 'wattscope_collector_spool_disk_errors_total', { code: 'ENOSPC' })).toBeGreaterThan(0);
      expect(metricValue(full, 'wattscope_collector_spool_memory_points')).toBeGreaterThan(0);
      // points reach InfluxDB (200), but the spool keeps none of them: degraded, and why
      const answer = await fetch(`http://127.0.0.1:${collector.port}/healthz`);
      expect(answer.status).toBe(200);
      const health = (await answer.json()) as { status: string; spool: { state: string; code: string } };
      expect(health.status).toBe('degraded');
      expect(health.spool).toMatchObject({ state: 'failing', code: 'ENOSPC' });
      // sent from memory while the disk is full
      expect((await sourcePoints(store)).filter((r) => r.time > startedAt + 2000).length).toBeGreaterThanOrEqual(5);

      fs.free();
      await waitFor(async () => metricValue(await (await fetch(`http://127.0.0.1:${collector.port}/metrics`)).text(), 'wattscope_collector_spool_memory_points') === 0, 15_000, 'the memory buffer to reach the disk');
      expect(((await (await fetch(`http://127.0.0.1:${collector.port}/healthz`)).json()) as { status: string }).status).toBe('ok');
      await sleep(4_000);
      expect(await collector.stop()).toBe(0);
      expect(collector.output()).toMatch(/the spool's disk failed \(ENOSPC\)/);
      expect(collector.output()).toMatch(/the spool’s disk takes writes again/);
      expect(readdirSync(fs.dir).some((f) => f.startsWith('seg-'))).toBe(true);
      const pkg = await sourcePoints(store);
      expect(pkg.length).toBeGreaterThanOrEqual(18);
      expect(gaps(pkg)).toEqual([]);
      expect(energyError(pkg.slice(1), 40)).toBeLessThan(energyBound(pkg.slice(1)));
      expect(pkg.length).toBe(new Set(pkg.map((r) => r.time)).size);
    } finally {
      await driver.stop();
      fs.unmount();
    }
  }, 90_000);
});
