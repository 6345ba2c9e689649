/** `npm run bench -- <collector|api|all> [seconds]`: runs the benchmarks and prints their figures. */
import { benchCollector } from './collector.js';
import { benchApi } from './api.js';

const [which = 'all', seconds] = process.argv.slice(2);
if (which === 'collector' || which === 'all') await benchCollector(seconds ? Number(seconds) : undefined);
if (which === 'api' || which === 'all') await benchApi();
