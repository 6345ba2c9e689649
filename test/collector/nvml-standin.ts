/** Builds the stand-in libnvidia-ml.so.1 (collector/sources/nvml/testdata/nvml-standin.c) with gcc, once per test process. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testdata } from './fixtures.js';

const SOURCE = testdata('nvml', 'nvml-standin.c');

let built: string | undefined;

/** The path of the built library (named as the real one, so a folder of it can go on LD_LIBRARY_PATH). */
export function buildNvmlStandin(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-nvml-'));
  const lib = join(dir, 'libnvidia-ml.so.1');
  const r = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', lib, SOURCE], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`building the NVML stand-in needs gcc: ${r.error?.message ?? r.stderr}`);
  built = lib;
  return lib;
}
