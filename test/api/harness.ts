/** Builds the API against a fresh database on the real influxd, with a clock the test drives. */
import { loadConfig } from '../../common/config.js';
import type { Sample } from '../../common/model.js';
import type { HostRecord } from '../../common/host-record.js';
import type { InfluxStore } from '../../common/storage/store.js';
import { buildApp, type App } from '../../api/app.js';
import { testStore } from '../helpers.js';

export interface Harness {
  app: App;
  store: InfluxStore;
  clock: { now: number };
  close(): Promise<void>;
}

/** `beforeReady` may add hooks (e.g. to see each reply before it is serialised). */
export async function apiHarness(prefix: string, env: Record<string, string> = {}, beforeReady?: (app: App) => void): Promise<Harness> {
  const store = await testStore(prefix);
  const clock = { now: Date.UTC(2026, 5, 1, 12, 0, 0) };
  const config = loadConfig({ HOME: '/nonexistent', WATTSCOPE_HOST: 'h1', WATTSCOPE_API_RATE_LIMIT: '1000000', ...env });
  // the clock is the test's: stops never wait for late points in real time
  const app = await buildApp({ config, store, now: () => clock.now, stopWaitMs: 0 });
  beforeReady?.(app);
  await app.fastify.ready();
  return { app, store, clock, close: () => app.fastify.close() };
}

/** `power` points of one source, one per second, ending at t, with the power the function gives. */
export function powerPoints(host: string, source: string, fromMs: number, seconds: number, watts: (i: number) => number, inTotal = true, domain = 'gpu'): Sample[] {
  return Array.from({ length: seconds }, (_, i) => ({
    measurement: 'power' as const,
    tags: { host, platform: 'test-gpu', source, domain, method: 'counter', in_total: String(inTotal) },
    fields: { energy_j: watts(i), power_w: watts(i), interval_s: 1 },
    timeMs: fromMs + (i + 1) * 1000,
  }));
}

/**
 * A serving engine's `workload` points on `host`: one a second from `fromMs`, each with `perS`
 * of its counts (requests, tokens) over its 1 s interval (the serving source's points).
 */
export function workloadPoints(host: string, fromMs: number, seconds: number, perS: Partial<Record<'requests' | 'prompt_tokens' | 'output_tokens', number>>, tags: { engine?: string; model_name?: string; instance?: string } = {}): Sample[] {
  return Array.from({ length: seconds }, (_, i) => ({
    measurement: 'workload' as const,
    tags: { host, platform: 'test-gpu', engine: tags.engine ?? 'vllm', model_name: tags.model_name ?? 'test-model', instance: tags.instance ?? '127.0.0.1:8000' },
    fields: { ...perS, interval_s: 1 },
    timeMs: fromMs + (i + 1) * 1000,
  }));
}

/** A collector's host record: one GPU read through NVML, the collector's defaults; `over` changes any of it. */
export function hostRecord(host: string, over: Partial<HostRecord> = {}): HostRecord {
  return {
    host,
    platform: 'H100',
    cpuModel: null,
    gpus: [],
    sources: [{ id: 'nvml/0', domain: 'gpu', method: 'counter', in_total: true, gpu: 0 }],
    sampleHz: 10,
    reportIntervalS: 1,
    flushIntervalS: 5,
    version: '0.1.0',
    clockOffsetS: 0,
    clockOffsetErrorS: 0.05,
    startedAtMs: 0,
    timeMs: 0,
    ...over,
  };
}
