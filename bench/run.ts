/**
 * `npm run bench -- <collector|api|stop|fleet|replicas|all> [seconds|pairs] [rounds]`: runs the benchmarks
 * and prints their figures. `all` runs collector, api and stop; fleet (~15 min) and replicas
 * (10 min) are run by name.
 */
import { benchCollector } from './collector.js';
import { benchApi } from './api.js';
import { benchStop } from './stop.js';
import { benchFleet } from './fleet.js';
import { benchReplicas } from './replicas.js';

const [which = 'all', arg] = process.argv.slice(2);
if (which === 'collector' || which === 'all') await benchCollector(arg ? Number(arg) : undefined, which === 'collector' && process.argv[4] ? Number(process.argv[4]) : undefined);
if (which === 'api' || which === 'all') await benchApi();
if (which === 'stop' || which === 'all') await benchStop(which === 'stop' && arg ? Number(arg) : undefined);
if (which === 'fleet') await benchFleet(...process.argv.slice(3, 6).map(Number));
if (which === 'replicas') await benchReplicas(arg ? Number(arg) : undefined);
