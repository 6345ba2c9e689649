/**
 * The collector over a fixture host for one second, as node_exporter's end-to-end test runs its
 * collectors over its fixture trees: every source of the registry discovered on the host, the
 * host-total policy over their channels, the agent reading at the default 10 Hz and reporting at
 * the default 1 s, the host record — on a clock the test drives, so that the output is the same
 * on every run. During the second the host's counters advance as its testdata says
 * (`advance.json` beside each case: units per second) and its later snapshots (`later/` of each
 * case) replace their files at the end; GPU tools are the stand-ins their testdata names
 * (`gpu.json` of the host).
 *
 * The output is line protocol with one field per line, sorted, times in ns from the start: a
 * parser that changes shows up as the few lines it changes.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import { Agent } from '../../../collector/agent.js';
import { discoverSources } from '../../../collector/discover.js';
import { cpuModelOf, hostRecordOf, platformOf } from '../../../collector/host.js';
import { CollectorMetrics } from '../../../collector/metrics.js';
import { SharedResources } from '../../../collector/resources/index.js';
import type { NvmlApi } from '../../../collector/resources/nvml.js';
import type { Source, SourceFactory } from '../../../collector/source.js';
import { hostRecordSample } from '../../../common/host-record.js';
import { HOST_TAGS, type Sample } from '../../../common/model.js';
import { toLine } from '../../../common/storage/line-protocol.js';
import { copyTree } from '../../../common/copy-tree.js';
import { configFor, FIXTURES, recordingLogger, testdata, writeSysfs } from '../fixtures.js';
import { startServingStandin, type ServingStandin } from '../serving-standin.js';
import type { ServingSource } from '../../../collector/sources/serving/index.js';

export const UPDATE = process.env.WATTSCOPE_UPDATE_GOLDEN === '1';
export const SOURCES_DIR = new URL('../../../collector/sources/', import.meta.url).pathname;
const SAMPLE_MS = 100; // the default 10 Hz
const REPORT_MS = 1000; // the default 1 s

/** A folder of a source's testdata (a tree like a machine's root) or one of its tool outputs. */
export interface TestdataCase {
  source: string;
  /** the case's name: its folder, or its file without the extension */
  name: string;
  path: string;
}

/** What a fixture host says about its GPUs: which testdata each stand-in replays (paths under collector/sources/). */
interface GpuSetup {
  'nvidia-smi'?: string;
  /** which state of a capture the nvidia-smi stand-in replays (`idle`, `load`; default: its first) */
  'nvidia-smi-state'?: string;
  dcgm?: string;
  nvml?: string;
}

export function fixtureHosts(): string[] {
  return readdirSync(FIXTURES)
    .filter((h) => statSync(join(FIXTURES, h)).isDirectory())
    .sort();
}

/** What a fixture host serves: the inference servers' pages its stand-ins replay (paths under collector/sources/). */
interface ServingSetup {
  pages?: string[];
}

function servingSetup(root: string): ServingSetup {
  const file = join(root, 'serving.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ServingSetup) : {};
}

/** How fast a page's counters run in the golden test: `<page>.advance.json` beside it (counter → units per second). */
function servingAdvance(page: string): Record<string, number> {
  const spec = page.replace(/\.prom$/, '.advance.json');
  return existsSync(spec) ? (JSON.parse(readFileSync(spec, 'utf8')) as { per_s: Record<string, number> }).per_s : {};
}

function gpuSetup(root: string): GpuSetup {
  const file = join(root, 'gpu.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as GpuSetup) : {};
}

/** The testdata cases a host is made of: the folders its links lead into, and the tool output its gpu.json names. */
export function casesOf(host: string): TestdataCase[] {
  const found = new Map<string, TestdataCase>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (lstatSync(path).isSymbolicLink()) {
        const [source, td, caseName] = relative(SOURCES_DIR, resolve(dir, readlinkSync(path))).split(sep);
        if (source && td === 'testdata' && caseName && source !== '..') found.set(`${source}/${caseName}`, { source, name: caseName, path: join(SOURCES_DIR, source, td, caseName) });
      } else if (lstatSync(path).isDirectory()) walk(path);
    }
  };
  const root = join(FIXTURES, host);
  walk(root);
  for (const [source, file] of Object.entries(gpuSetup(root)) as Array<[string, string]>) {
    if (source === 'about' || source === 'nvidia-smi-state') continue;
    const [owner] = file.split('/');
    const path = join(SOURCES_DIR, file.replace(/^([^/]+)\//, '$1/testdata/'));
    found.set(`${owner}/${file}`, { source: owner ?? source, name: basename(file).replace(/\.[^.]+$/, ''), path });
  }
  for (const file of servingSetup(root).pages ?? []) {
    const path = join(SOURCES_DIR, file.replace(/^([^/]+)\//, '$1/testdata/'));
    found.set(`serving/${file}`, { source: 'serving', name: basename(file).replace(/\.[^.]+$/, ''), path });
  }
  return [...found.values()].sort((a, b) => `${a.source}/${a.name}`.localeCompare(`${b.source}/${b.name}`));
}

/** Puts a host's later snapshots (the `later/` of its testdata cases) in place in its copy `root`. */
export function applyLater(host: string, root: string): void {
  for (const l of advanceOf(root, casesOf(host)).later) writeFileSync(l.path, readFileSync(l.from));
}

interface Advance {
  /** absolute path in the copy → [value at the start, units per second] */
  counters: Array<{ path: string; start: number; perS: number }>;
  /** absolute path in the copy → the file that replaces it at the end of the second */
  later: Array<{ path: string; from: string }>;
}

function advanceOf(root: string, cases: readonly TestdataCase[]): Advance {
  const out: Advance = { counters: [], later: [] };
  for (const c of cases) {
    if (!statSync(c.path).isDirectory()) continue;
    const spec = join(c.path, 'advance.json');
    if (existsSync(spec)) {
      const { counters } = JSON.parse(readFileSync(spec, 'utf8')) as { counters: Record<string, number> };
      for (const [rel, perS] of Object.entries(counters)) {
        const path = join(root, rel);
        // a case whose files this host does not link (another host's) is not this host's
        if (existsSync(path)) out.counters.push({ path, start: Number(readFileSync(path, 'utf8').trim()), perS });
      }
    }
    const laterDir = join(c.path, 'later');
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const from = join(dir, name);
        if (statSync(from).isDirectory()) walk(from);
        else if (existsSync(join(root, relative(laterDir, from)))) out.later.push({ path: join(root, relative(laterDir, from)), from });
      }
    };
    if (existsSync(laterDir)) walk(laterDir);
  }
  return out;
}

interface RecordedGpu {
  name: string;
  uuid: string;
  pci: string;
  energy_mj: number;
  energy_mj_per_s: number;
  power_mw: number;
  compute_capability?: number;
  utilization: { gpu: number; memory: number };
  memory: { used: number; total: number };
  temperature_c: number;
  sm_clock_mhz: number;
}

/** NVML answering from recorded values, its counters running on the test's clock. */
function recordedNvml(file: string, clock: { t: number }): NvmlApi {
  const { gpus } = JSON.parse(readFileSync(file, 'utf8')) as { gpus: RecordedGpu[] };
  const gpu = (i: number) => gpus[i] as RecordedGpu;
  return {
    deviceCount: () => gpus.length,
    name: (i) => gpu(i).name,
    uuid: (i) => gpu(i).uuid,
    pciBusId: (i) => gpu(i).pci,
    totalEnergyMj: (i) => Math.round(gpu(i).energy_mj + (gpu(i).energy_mj_per_s * clock.t) / 1000),
    powerMw: (i) => gpu(i).power_mw,
    computeCapability: (i) => gpu(i).compute_capability,
    utilization: (i) => gpu(i).utilization,
    memory: (i) => gpu(i).memory,
    temperatureC: (i) => gpu(i).temperature_c,
    smClockMhz: (i) => gpu(i).sm_clock_mhz,
    shutdown: () => undefined,
  };
}

/** A dcgm-exporter stand-in serving the testdata scrape, its energy counters set by the test. */
async function dcgmExporter(file: string): Promise<{ url: string; advance(seconds: number): void; close(): Promise<void> }> {
  const text = readFileSync(file, 'utf8');
  const spec = file.replace(/\.prom$/, '.advance.json');
  const perS = existsSync(spec) ? (JSON.parse(readFileSync(spec, 'utf8')) as { energy_mj_per_s: Record<string, number> }).energy_mj_per_s : {};
  let seconds = 0;
  const body = () =>
    text.replace(/^(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION\{[^}]*gpu="(\d+)"[^}]*\}) (\d+)$/gm, (_m, head: string, gpu: string, mj: string) => `${head} ${Math.round(Number(mj) + (perS[gpu] ?? 0) * seconds)}`);
  const server: Server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    advance: (s) => void (seconds = s),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One second of the collector on a fixture host (a name in test/fixtures/hosts) or on a
 * testdata case's own tree, with these sources (default: all of the registry); `metrics`: the
 * collector's metrics it reports into (a scrape of them afterwards is what /metrics shows).
 */
export async function collectOnce(hostOrCase: { host: string } | { caseDir: string } | { servingPage: string }, factories?: readonly SourceFactory[], metrics = new CollectorMetrics()): Promise<Sample[]> {
  const origin = 'host' in hostOrCase ? join(FIXTURES, hostOrCase.host) : 'caseDir' in hostOrCase ? hostOrCase.caseDir : undefined;
  const root = mkdtempSync(join(tmpdir(), 'wattscope-golden-'));
  if (origin) copyTree(origin, root, root);
  const cases = 'host' in hostOrCase ? casesOf(hostOrCase.host) : origin ? [{ source: '', name: basename(origin), path: origin }] : [];
  const advance = advanceOf(root, cases);
  const gpu = gpuSetup(root);
  const clock = { t: 0 };
  const dcgm = gpu.dcgm ? await dcgmExporter(testdata(...(gpu.dcgm.split('/') as [string, string]))) : undefined;
  // inference servers: each page replayed by a stand-in whose counters run on the test's clock
  const pages = 'servingPage' in hostOrCase ? [hostOrCase.servingPage] : (servingSetup(root).pages ?? []).map((p) => testdata(...(p.split('/') as [string, string])));
  const servers: ServingStandin[] = [];
  for (const page of pages) servers.push(await startServingStandin(page, servingAdvance(page)));
  for (const s of servers) s.setSeconds(0);
  // the stand-in reads these when the collector starts it; the first sweep only, for output that does not depend on timing
  process.env.NVIDIA_SMI_REPLAY = gpu['nvidia-smi'] ? testdata(...(gpu['nvidia-smi'].split('/') as [string, string])) : '';
  process.env.NVIDIA_SMI_STATE = gpu['nvidia-smi-state'] ?? '';
  process.env.NVIDIA_SMI_HOLD = '1';
  const config = configFor(root, {
    WATTSCOPE_HOST: 'golden',
    // hermetic: never this machine's NVIDIA driver or tools, only the host's stand-ins
    WATTSCOPE_NVIDIA_SMI: gpu['nvidia-smi'] ? testdata('nvidia-smi', 'bin', 'nvidia-smi') : '/nonexistent/nvidia-smi',
    WATTSCOPE_DCGM_URL: dcgm?.url ?? '',
    WATTSCOPE_SERVING_METRICS_URL: servers.map((s) => s.url).join(','),
  });
  const log = recordingLogger();
  const nvml = gpu.nvml;
  const resources = new SharedResources(log, () => (nvml ? recordedNvml(testdata(...(nvml.split('/') as [string, string])), clock) : undefined));
  const hostTags: Record<string, string> = { [HOST_TAGS.host]: config.host, [HOST_TAGS.platform]: '' };
  let sources: Source[] = [];
  try {
    const running: { agent?: Agent } = {};
    sources = await discoverSources(config, { hostTags, log, resources, factories, now: () => clock.t, hostEnergyJ: () => running.agent?.inTotalEnergyJ(clock.t, clock.t) });
    const cpuModel = cpuModelOf(config);
    hostTags[HOST_TAGS.platform] = platformOf(config, cpuModel, sources);
    const out: Sample[] = [];
    // the agent as deployed, its ticks driven on the test's clock: started at 0 (a report
    // boundary), a tick every sample period, the report at the tick of 1 s
    const agent = new Agent({ sources, hostTags, sampleHz: 1000 / SAMPLE_MS, reportIntervalS: REPORT_MS / 1000, emit: (s) => out.push(...s), metrics, log, now: () => clock.t, wallNow: () => clock.t, timers: false });
    running.agent = agent;
    // the serving source scrapes at each report; here its baseline at the start and its scrape at the end, awaited
    const serving = sources.find((s): s is ServingSource => s.name === 'serving');
    for (let t = 0; t <= REPORT_MS; t += SAMPLE_MS) {
      clock.t = t;
      for (const c of advance.counters) writeSysfs(c.path, Math.round(c.start + (c.perS * t) / 1000));
      if (t === REPORT_MS) {
        for (const l of advance.later) writeFileSync(l.path, readFileSync(l.from));
        if (dcgm) await dcgmScraped(sources, dcgm);
        for (const s of servers) s.setSeconds(REPORT_MS / 1000);
        await serving?.scrapeAll();
      }
      if (t === 0) {
        agent.start();
        await serving?.scrapeAll();
      } else if (t >= agent.nextTickAt - 1e-6) agent.tick(t);
    }
    out.push(
      // the record's times and version as of the test: the same on every run
      hostRecordSample(hostRecordOf(config, sources, { platform: hostTags[HOST_TAGS.platform] ?? '', cpuModel, version: null, clock: undefined, startedAtMs: 0, timeMs: REPORT_MS })),
    );
    // the stand-ins' ports are the OS's choice: named as a user's servers would be, the same on every run
    const named = new Map(servers.map((s, i) => [new URL(s.url).host, `inference-${i}:8000`]));
    const rename = (text: string) => [...named].reduce((t, [from, to]) => t.split(from).join(to), text);
    return named.size === 0 ? out : out.map((p) => ({ ...p, tags: Object.fromEntries(Object.entries(p.tags).map(([k, v]) => [k, rename(v)])), fields: Object.fromEntries(Object.entries(p.fields).map(([k, v]) => [k, typeof v === 'string' ? rename(v) : v])) }));
  } finally {
    for (const s of sources) await s.close?.();
    resources.close();
    await dcgm?.close();
    for (const s of servers) await s.close();
    delete process.env.NVIDIA_SMI_REPLAY;
    delete process.env.NVIDIA_SMI_STATE;
    delete process.env.NVIDIA_SMI_HOLD;
  }
}

/** Moves the exporter's counters one second on and waits until the DCGM source has scraped them. */
async function dcgmScraped(sources: readonly Source[], dcgm: { advance(seconds: number): void }): Promise<void> {
  const channels = sources.filter((s) => s.name === 'dcgm').flatMap((s) => [...s.channels()]);
  const before = channels.map((c) => c.read());
  dcgm.advance(1);
  for (let waited = 0; waited < 10_000; waited += 20) {
    if (channels.every((c, i) => c.method !== 'counter' || c.read() !== before[i])) return;
    await sleep(20);
  }
  throw new Error('the DCGM source did not scrape the exporter within 10 s');
}

/** The points as line protocol, one field per line, sorted. */
export function goldenText(samples: readonly Sample[], header: string): string {
  const lines = samples.flatMap((s) =>
    Object.entries(s.fields)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => toLine({ ...s, fields: { [k]: v } }))
      .filter((l): l is string => l !== undefined),
  );
  return `${header
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n')}\n${lines.sort().join('\n')}\n`;
}

/**
 * Compares `text` with the golden file; WATTSCOPE_UPDATE_GOLDEN=1 rewrites it instead. A
 * difference fails with the lines that changed, as a diff.
 */
export function expectGolden(file: string, text: string): void {
  if (UPDATE) {
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`no golden file ${file}: write it with WATTSCOPE_UPDATE_GOLDEN=1 npx vitest run test/collector/golden`);
  const want = readFileSync(file, 'utf8');
  if (want === text) return;
  throw new Error(`${relative(process.cwd(), file)} differs from the collector's output (- golden, + now); if the change is meant, rewrite it with WATTSCOPE_UPDATE_GOLDEN=1 npx vitest run test/collector/golden\n${lineDiff(want, text)}`);
}

/** The lines that differ, with two lines of context, from a longest-common-subsequence alignment. */
export function lineDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) (lcs[i] as Uint32Array)[j] = x[i] === y[j] ? (lcs[i + 1] as Uint32Array)[j + 1]! + 1 : Math.max((lcs[i + 1] as Uint32Array)[j]!, (lcs[i] as Uint32Array)[j + 1]!);
  const ops: Array<[' ' | '-' | '+', string]> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      ops.push([' ', x[i] as string]);
      i++;
      j++;
    } else if (i < n && (j >= m || (lcs[i + 1] as Uint32Array)[j]! >= (lcs[i] as Uint32Array)[j + 1]!)) ops.push(['-', x[i++] as string]);
    else ops.push(['+', y[j++] as string]);
  }
  const keep = new Set<number>();
  ops.forEach(([op], k) => {
    if (op !== ' ') for (let d = -2; d <= 2; d++) keep.add(k + d);
  });
  const out: string[] = [];
  let last = -1;
  ops.forEach(([op, line], k) => {
    if (!keep.has(k)) return;
    if (last >= 0 && k > last + 1) out.push('  …');
    out.push(`${op} ${line}`);
    last = k;
  });
  return out.join('\n');
}
