/**
 * The golden output, as deployed: the real `wattscope collect` process over every fixture host,
 * on its defaults, into the real influxd; the series it writes (measurement and tags) are the
 * series of the host's golden file. The values are the in-process golden test's to pin (its
 * clock is the test's); this one shows that the process, its spool and the storage layer write
 * the same points.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InfluxStore, iql } from '../../../common/storage/index.js';
import { testSettings, waitFor } from '../../helpers.js';
import { copyHost, FIXTURES, testdata } from '../fixtures.js';
import { buildNvmlStandin } from '../nvml-standin.js';
import { spawnCollector } from '../process.js';
import { startServingStandin, type ServingStandin } from '../serving-standin.js';
import { applyLater, fixtureHosts } from './harness.js';

/** The points the collector has spooled so far (every point goes through the spool), from its /metrics. */
async function spooled(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^wattscope_collector_points_spooled_total (\S+)$/m.exec(text)?.[1]);
}

/**
 * Waits for `n` more of the collector's reports (each spools its points at once), however long
 * a busy machine makes them: timed sleeps here once saw 7 of a host's 10 series, the last
 * report not yet made.
 */
async function reports(port: number, n: number, what: string): Promise<void> {
  let last = await spooled(port);
  let seen = 0;
  await waitFor(
    async () => {
      const now = await spooled(port);
      if (now > last) [seen, last] = [seen + 1, now];
      return seen >= n;
    },
    30_000,
    what,
  );
}

/** The series of a golden file: each line's measurement and tags. */
function goldenSeries(host: string): string[] {
  const lines = readFileSync(join(FIXTURES, host, 'golden.lp'), 'utf8').split('\n');
  return [...new Set(lines.filter((l) => l && !l.startsWith('#')).map((l) => l.slice(0, l.search(/(?<!\\) /))))].sort();
}

const servers: Server[] = [];
const inference: ServingStandin[] = [];
/** per fixture host, its stand-in servers' `host:port`, named in its golden file as inference-<i>:8000 */
const instances = new Map<string, string[]>();
afterAll(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  for (const s of inference) await s.close();
});

/** A dcgm-exporter stand-in serving the host's testdata scrape. */
async function dcgmExporter(file: string): Promise<string> {
  const text = readFileSync(file, 'utf8');
  const server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
}

/** What a user of that machine has: its GPU tools where the host's gpu.json says so, nothing else of this machine's. */
async function gpuEnv(host: string): Promise<Record<string, string>> {
  let setup: Record<string, string> = {};
  try {
    setup = JSON.parse(readFileSync(join(FIXTURES, host, 'gpu.json'), 'utf8')) as Record<string, string>;
  } catch {
    // no GPUs on this host
  }
  const env: Record<string, string> = {};
  const [smiOwner, smiFile] = (setup['nvidia-smi'] ?? '').split('/');
  // nvidia-smi on PATH, as the driver installs it; NVML not found (a driver without the library on the loader's path)
  const smiPath = (setup['nvidia-smi'] ?? '').split('/').slice(1);
  if (smiOwner && smiFile) Object.assign(env, { PATH: `${testdata('nvidia-smi', 'bin')}:${process.env.PATH}`, NVIDIA_SMI_REPLAY: testdata(smiOwner, ...smiPath), NVIDIA_SMI_STATE: setup['nvidia-smi-state'] ?? '', NVIDIA_SMI_HOLD: '1' });
  // libnvidia-ml.so.1 found by its soname, as the driver installs it (the stand-in: the same boards)
  if (setup.nvml) env.LD_LIBRARY_PATH = dirname(buildNvmlStandin());
  // a user running dcgm-exporter says where it is
  const [dcgmOwner, dcgmFile] = (setup.dcgm ?? '').split('/');
  if (dcgmOwner && dcgmFile) env.WATTSCOPE_DCGM_URL = await dcgmExporter(testdata(dcgmOwner, dcgmFile));
  // a user running an inference server says where its /metrics is
  let serving: { pages?: string[] } = {};
  try {
    serving = JSON.parse(readFileSync(join(FIXTURES, host, 'serving.json'), 'utf8')) as { pages?: string[] };
  } catch {
    // no inference server on this host
  }
  const urls: string[] = [];
  for (const page of serving.pages ?? []) {
    const [owner, file] = page.split('/') as [string, string];
    const standin = await startServingStandin(testdata(owner, file), JSON.parse(readFileSync(testdata(owner, file.replace(/\.prom$/, '.advance.json')), 'utf8')).per_s as Record<string, number>);
    inference.push(standin);
    urls.push(standin.url);
  }
  if (urls.length > 0) env.WATTSCOPE_SERVING_METRICS_URL = urls.join(',');
  instances.set(host, urls.map((u) => new URL(u).host));
  return env;
}

describe('golden, as deployed: wattscope collect over every fixture host', () => {
  it('writes the series of each host’s golden file', async () => {
    const hosts = fixtureHosts();
    // two at a time: this machine has two cores
    for (let i = 0; i < hosts.length; i += 2) {
      await Promise.all(
        hosts.slice(i, i + 2).map(async (host) => {
          const settings = testSettings(`golden_${host.replace(/-/g, '_')}`);
          const store = await InfluxStore.open(settings);
          // the host tag of the golden files; the fixture's /proc and /sys, as a container sets them
          const root = copyHost(host);
          const collector = await spawnCollector(root, { ...(await gpuEnv(host)), WATTSCOPE_INFLUX_URL: settings.url, WATTSCOPE_INFLUX_DB: settings.db, WATTSCOPE_HOST: 'golden' });
          // a first report; the machine moves on (CPU ticks, disk and network counters), then two
          // more reports; the stop sends what is spooled
          await reports(collector.port, 1, `${host}'s first report`);
          applyLater(host, root);
          await reports(collector.port, 2, `${host}'s two reports after the machine moved on`);
          expect(await collector.stop(), collector.output()).toBe(0);
          const rows = await store.rows<{ key: string }>(iql`SHOW SERIES`);
          const named = (key: string) => (instances.get(host) ?? []).reduce((k, instance, n) => k.split(instance).join(`inference-${n}:8000`), key);
          const written = rows.map((r) => named(r.key)).sort();
          expect(written, `${host}: the series written differ from golden.lp's\n${collector.output()}`).toEqual(goldenSeries(host));
        }),
      );
    }
  }, 120_000);
});
