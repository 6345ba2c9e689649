/**
 * Every source the collector knows, one line each: a plugin in its own folder (code, options,
 * README, testdata, golden points). A new sensor is one folder and one line here.
 */
import type { OptionSpec } from '../../common/config.js';
import type { SourceFactory } from '../source.js';
import { cpuSource } from './cpu/index.js';
import { memSource } from './mem/index.js';
import { diskSource } from './disk/index.js';
import { netSource } from './net/index.js';
import { raplSource } from './rapl/index.js';
import { hwmonSource } from './hwmon/index.js';
import { nvmlSource } from './nvml/index.js';
import { nvidiaSmiSource } from './nvidia-smi/index.js';
import { dcgmSource } from './dcgm/index.js';
import { batterySource } from './battery/index.js';
import { estimateSource } from './estimate/index.js';
import { servingSource } from './serving/index.js';

export const SOURCES: readonly SourceFactory[] = [cpuSource, memSource, diskSource, netSource, raplSource, hwmonSource, nvmlSource, nvidiaSmiSource, dcgmSource, batterySource, estimateSource, servingSource];

export const SOURCE_NAMES: readonly string[] = SOURCES.map((s) => s.name);

/** Each source's own options, merged into the one config table (common/config.ts). */
export const SOURCE_OPTIONS: readonly OptionSpec[] = SOURCES.flatMap((s) => s.options ?? []);
