/**
 * `npm run bench -- <collector|api|stop|windows|reads|fleet|replicas|all> [seconds|pairs|runs] [rounds]`:
 * runs the benchmarks and prints their figures. `all` runs collector, api, stop and windows; reads
 * (10,000 runs), fleet (~15 min) and replicas (10 min) are run by name.
 */
import { benchCollector } from './collector.js';
import { benchApi } from './api.js';
import { benchStop } from './stop.js';
import { benchFleet } from './fleet.js';
import { benchReplicas } from './replicas.js';
import { benchWindows } from './windows.js';
import { benchReads } from './reads.js';

const [which = 'all', arg] = process.argv.slice(2);
if (which === 'collector' || which === 'all') await benchCollector(arg ? Number(arg) : undefined, which === 'collector' && process.argv[4] ? Number(process.argv[4]) : undefined);
if (which === 'api' || which === 'all') await benchApi();
if (which === 'stop' || which === 'all') await benchStop(which === 'stop' && arg ? Number(arg) : undefined);
if (which === 'fleet') await benchFleet(...process.argv.slice(3, 6).map(Number));
if (which === 'replicas') await benchReplicas(arg ? Number(arg) : undefined);
if (which === 'windows' || which === 'all') await benchWindows();
if (which === 'reads') await benchReads(arg ? Number(arg) : undefined);
