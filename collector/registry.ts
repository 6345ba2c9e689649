/**
 * Every source the collector knows, in discovery order. A new sensor is one file under
 * ./sources/ and one line here. The CPU estimate comes last: it runs only where no earlier
 * source found a CPU power sensor.
 */
import type { SourceFactory } from './source.js';
import { cpuSource } from './sources/cpu.js';
import { memSource } from './sources/mem.js';
import { diskSource } from './sources/disk.js';
import { netSource } from './sources/net.js';
import { raplSource } from './sources/rapl.js';
import { hwmonSource } from './sources/hwmon.js';
import { nvmlSource } from './sources/nvml.js';
import { nvidiaSmiSource } from './sources/nvidia-smi.js';
import { dcgmSource } from './sources/dcgm.js';
import { estimateSource } from './sources/estimate.js';

export const SOURCES: readonly SourceFactory[] = [
  cpuSource,
  memSource,
  diskSource,
  netSource,
  raplSource,
  hwmonSource,
  nvmlSource,
  nvidiaSmiSource,
  dcgmSource,
  estimateSource,
];
