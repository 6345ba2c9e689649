/** `npm run bench -- <collector|api|stop|all> [seconds|pairs]`: runs the benchmarks and prints their figures. */
import { benchCollector } from './collector.js';
import { benchApi } from './api.js';
import { benchStop } from './stop.js';

const [which = 'all', arg] = process.argv.slice(2);
if (which === 'collector' || which === 'all') await benchCollector(arg ? Number(arg) : undefined);
if (which === 'api' || which === 'all') await benchApi();
if (which === 'stop' || which === 'all') await benchStop(which === 'stop' && arg ? Number(arg) : undefined);
