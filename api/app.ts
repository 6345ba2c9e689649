/**
 * Assembles the API: plugins (OpenAPI, rate limit), cross-cutting hooks (auth, input checks,
 * metrics, errors), the repositories, the services (the run's lifecycle, its measurement, the
 * reads), the jobs and the routes. `server.ts` boots it.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import type { Config } from '../common/config.js';
import type { InfluxStore } from '../common/storage/store.js';
import { ApiMetrics } from './metrics.js';
import { bearerMatches, errorHandler, needsToken, parseJsonBodies } from './http.js';
import { bodyProblem } from './validate.js';
import { openapi } from './openapi.js';
import { PowerRepository } from './repo/power.js';
import { RunRepository } from './repo/runs.js';
import { HostRepository } from './repo/hosts.js';
import { MeasurementReads } from './repo/measurement.js';
import { WorkloadRepository } from './repo/workload.js';
import { DEFAULT_GRID_INTENSITY } from './domain/carbon.js';
import type { SummarySettings } from './domain/run-record.js';
import { RunLocks } from './services/locks.js';
import { MeasuringService } from './services/measuring.js';
import { RunLifecycle } from './services/lifecycle.js';
import { RunReads } from './services/reads.js';
import { HealthCheck } from './services/health.js';
import { runRoutes } from './routes/runs.js';
import { compareRoutes } from './routes/compare.js';
import { seriesRoutes } from './routes/series.js';
import { hostRoutes } from './routes/hosts.js';
import { systemRoutes } from './routes/system.js';
import { liveRoutes } from './routes/live.js';
import { pageRoutes } from './routes/page.js';
import { workloadRoutes } from './routes/workload.js';
import { WorkloadReads } from './services/workload.js';
import { LiveRepository } from './repo/live.js';
import { LiveHub } from './services/live.js';
import { RollupJob } from './jobs/rollup.js';
import { AbandonJob } from './jobs/abandon.js';
import { RecomputeJob } from './jobs/recompute.js';
import type { ApiJobs } from './jobs/index.js';

export interface AppOptions {
  config: Config;
  store: InfluxStore;
  now?: () => number;
  /**
   * The most a stop or a baseline waits for the collectors' last points (default: the config's
   * api.stopWaitMaxS); 0 never waits — for tests that drive the API's clock themselves, where
   * real time means nothing to the points.
   */
  stopWaitMs?: number;
}

export interface App {
  fastify: FastifyInstance;
  lifecycle: RunLifecycle;
  measuring: MeasuringService;
  reads: RunReads;
  /** the run store, for tests and benchmarks that look at what was written */
  runs: RunRepository;
  jobs: ApiJobs & { rollup: RollupJob };
  metrics: ApiMetrics;
  hub: LiveHub;
}

export async function buildApp({ config, store, now, stopWaitMs }: AppOptions): Promise<App> {
  const app = Fastify({
    logger: false,
    bodyLimit: config.api.bodyLimitBytes,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { maxParamLength: 200 },
  });
  const runs = new RunRepository(store);
  const liveRepo = new LiveRepository(store);
  const hostRepo = new HostRepository(store);
  const hub = new LiveHub(liveRepo);
  const metrics = new ApiMetrics(() => runs.countByStatus(), () => hub.viewerCount);
  const summary: SummarySettings = {
    netscore: { alpha: config.api.netscoreAlpha, beta: config.api.netscoreBeta, gamma: config.api.netscoreGamma },
    gridIntensity: config.gridIntensity ?? DEFAULT_GRID_INTENSITY,
    energyPrice: config.api.energyPrice,
  };
  const locks = new RunLocks();
  const powerRepo = new PowerRepository(store);
  const workloadRepo = new WorkloadRepository(store);
  const measuring = new MeasuringService(new MeasurementReads(store, powerRepo, hostRepo, runs, workloadRepo), hostRepo, {
    gridIntensity: summary.gridIntensity,
    maxWaitMs: stopWaitMs ?? config.api.stopWaitMaxS * 1000,
    // a clock the caller drives (tests) is InfluxDB's time by construction: no offset to apply
    apiClock: now ? () => ({ offsetS: 0, errorS: 0 }) : () => store.clock.estimate(),
    observeEnergyQuery: (s) => metrics.energyQuery.observe(s),
  });
  const lifecycle = new RunLifecycle(runs, hostRepo, measuring, locks, { summary, defaultHost: config.host, fallbackPlatform: config.platform, now });
  const reads = new RunReads(runs, hostRepo, liveRepo, measuring, { summary, now });
  const jobs = {
    abandon: new AbandonJob(runs, measuring, locks, { timeoutMs: config.api.runTimeoutMin * 60_000, summary, now }),
    recompute: new RecomputeJob(runs, measuring, locks, { summary, now }),
    rollup: new RollupJob(store, now ? { now } : {}),
  };

  app.setErrorHandler(errorHandler);
  parseJsonBodies(app);
  // before any route: the document's security and optional bodies come from route options
  const swaggerOptions = openapi(app, config.api);
  await app.register(rateLimit, { max: config.api.rateLimitPerMin, timeWindow: '1 minute' });
  await app.register(swagger, swaggerOptions);
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('onRequest', async (request, reply) => {
    const token = config.api.token;
    if (!token || !needsToken(request.method, request.url, config.api)) return;
    if (!bearerMatches(request.headers.authorization, token)) {
      return reply.status(401).send({ statusCode: 401, error: 'Unauthorized', message: 'this route needs `Authorization: Bearer <token>` with the token set in WATTSCOPE_API_TOKEN' });
    }
  });
  app.addHook('preValidation', async (request, reply) => {
    const bad = bodyProblem(request.body);
    if (bad) return reply.status(400).send({ statusCode: 400, error: 'Bad Request', message: bad.message, field: bad.field });
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  runRoutes(app, lifecycle, reads);
  compareRoutes(app, reads);
  seriesRoutes(app, reads);
  hostRoutes(app, reads);
  workloadRoutes(app, new WorkloadReads(powerRepo, workloadRepo, hostRepo), now);
  systemRoutes(app, new HealthCheck(store), metrics);
  app.addHook('onClose', async () => hub.close());
  liveRoutes(app, reads, hub, { maxViewers: config.api.liveMaxViewers, onDropped: () => metrics.liveDropped.inc(), onRefused: () => metrics.liveRefused.inc() });
  pageRoutes(app);
  return { fastify: app, lifecycle, measuring, reads, runs, jobs, metrics, hub };
}
