/**
 * A RAPL package counter that is exact however busy the machine (./rapl-counter.c, FUSE): its
 * `energy_uj` reads E0 + P × t at the moment of the read. The fixture host's energy_uj becomes a
 * link to it, so the collector reads it through its ordinary sysfs path. Built with gcc against
 * Debian's libfuse3-dev and mounted through /dev/fuse, as the failing disk is (root, or a user
 * allowed to mount FUSE, as CI is); elsewhere this says what is missing.
 *
 * For tests whose windows are a second or two long: the file-rewriting driver
 * (startRaplDriver, ../process.ts) shows an older value while it waits to be scheduled.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aheadOfTheSuite } from '../../priority.js';

const SOURCE = new URL('./rapl-counter.c', import.meta.url).pathname;
let built: string | undefined;

function build(): string {
  if (built) return built;
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' });
  if (flags.error || flags.status !== 0) throw new Error('the exact RAPL counter is a FUSE filesystem built against libfuse3: apt-get install -y libfuse3-dev fuse3 pkg-config');
  const bin = join(mkdtempSync(join(tmpdir(), 'wattscope-rapl-counter-')), 'rapl-counter');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', bin, SOURCE, ...flags.stdout.trim().split(/\s+/)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`building the exact RAPL counter needs gcc and libfuse3-dev: ${r.error?.message ?? r.stderr}`);
  built = bin;
  return bin;
}

const mounted = (dir: string) => spawnSync('mountpoint', ['-q', dir]).status === 0;

/** Replaces the counter file `file` (in a copy of a fixture host) by one that reads `watts` × t exactly. */
export async function startExactRapl(file: string, watts: number, startUj: number, rangeUj: number): Promise<{ stop(): Promise<void> }> {
  if (!existsSync('/dev/fuse')) throw new Error('the exact RAPL counter needs FUSE (/dev/fuse)');
  const bin = build();
  const dir = mkdtempSync(join(tmpdir(), 'wattscope-rapl-'));
  const child: ChildProcess = spawn(bin, [dir, '-f', '-s', '-o', 'auto_unmount'], { env: { ...process.env, RAPL_WATTS: String(watts), RAPL_START_UJ: String(startUj), RAPL_RANGE_UJ: String(rangeUj) }, stdio: ['ignore', 'ignore', 'pipe'] });
  // the read's moment is the daemon's: one waiting to be scheduled behind a busy suite moves an
  // edge of a window by its wait (10 ms is 1 % of a 1 s window), so it runs ahead of the suite's
  // CPU-bound work where the test may raise it (as root); elsewhere the counter is exact all
  // the same, its reads may wait longer
  aheadOfTheSuite(child.pid);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let waited = 0; !mounted(dir); waited += 50) {
    if (child.exitCode !== null || waited > 10_000) throw new Error(`the exact RAPL counter did not mount on ${dir}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  rmSync(file, { force: true });
  symlinkSync(join(dir, 'energy_uj'), file);
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      spawnSync('fusermount3', ['-u', '-q', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
