/**
 * A disk that fails with EIO on demand (./failing-fs.c, a FUSE filesystem over a backing
 * directory), for the collector's spool. Built with gcc against Debian's libfuse3-dev and mounted
 * through /dev/fuse: root, or a user allowed to mount FUSE, as CI is (.ci/run installs fuse3 and
 * libfuse3-dev); elsewhere this says what is missing instead of pretending.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = new URL('./failing-fs.c', import.meta.url).pathname;

let built: string | undefined;

function build(): string {
  if (built) return built;
  const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' });
  if (flags.error || flags.status !== 0) throw new Error('the failing disk is a FUSE filesystem built against libfuse3: apt-get install -y libfuse3-dev fuse3 pkg-config');
  const bin = join(mkdtempSync(join(tmpdir(), 'wattscope-failing-fs-')), 'failing-fs');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', bin, SOURCE, ...flags.stdout.trim().split(/\s+/)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`building the failing disk needs gcc and libfuse3-dev: ${r.error?.message ?? r.stderr}`);
  built = bin;
  return bin;
}

export interface FailingDisk {
  /** the mount point: use it as a directory like any other */
  dir: string;
  /** from now on every operation on it fails with EIO */
  fail(): void;
  /** it works again */
  heal(): void;
  unmount(): Promise<void>;
}

function mounted(dir: string): boolean {
  return spawnSync('mountpoint', ['-q', dir]).status === 0;
}

export async function mountFailingDisk(): Promise<FailingDisk> {
  if (!existsSync('/dev/fuse')) throw new Error('the failing disk needs FUSE (/dev/fuse)');
  const bin = build();
  const base = mkdtempSync(join(tmpdir(), 'wattscope-disk-'));
  const backing = join(base, 'backing');
  const dir = join(base, 'mnt');
  const flag = join(base, 'failing');
  spawnSync('mkdir', ['-p', backing, dir]);
  const child: ChildProcess = spawn(bin, [backing, dir, '-f', '-s', '-o', 'auto_unmount'], { env: { ...process.env, FAILING_FS_FLAG: flag }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let waited = 0; !mounted(dir); waited += 50) {
    if (child.exitCode !== null || waited > 10_000) throw new Error(`the failing disk did not mount on ${dir}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    fail: () => writeFileSync(flag, ''),
    heal: () => rmSync(flag, { force: true }),
    async unmount() {
      rmSync(flag, { force: true });
      spawnSync('fusermount3', ['-u', '-z', dir]);
      child.kill('SIGTERM');
      await exited;
      rmSync(base, { recursive: true, force: true });
    },
  };
}
