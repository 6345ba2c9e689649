/**
 * Helpers for tests on the fixture hosts (test/fixtures/hosts): whole machines whose files are
 * the sources' own testdata (collector/sources/<name>/testdata/), linked into place.
 */
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTree } from '../../common/copy-tree.js';
import { loadConfig, type Config } from '../../cli/config.js';
import type { Logger, LogLevel } from '../../common/log.js';
import type { PowerChannel, Source, SourceContext, SourceFactory } from '../../collector/source.js';
import { SharedResources } from '../../collector/resources/index.js';
import { discoverSources } from '../../collector/discover.js';

export const FIXTURES = new URL('../fixtures/hosts/', import.meta.url).pathname;

/** A file or folder of a source's testdata (collector/sources/<source>/testdata/…). */
export function testdata(source: string, ...parts: string[]): string {
  return new URL(`../../collector/sources/${source}/testdata/${parts.join('/')}`, import.meta.url).pathname;
}

/**
 * A writable copy of a fixture host, for tests that advance its counters. Links within the host
 * (sysfs' class → devices) stay links, as the kernel has them; links out to a source's testdata
 * become the files themselves.
 */
export function copyHost(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `wattscope-${name}-`));
  copyTree(join(FIXTURES, name), dir, dir);
  return dir;
}

/**
 * Sets a sysfs attribute the way the kernel changes one: in place, in one write (readers keep
 * their file open and re-read it). Numbers are zero-padded to a fixed width so that a shorter
 * value never leaves the tail of a longer one behind.
 */
export function writeSysfs(path: string, value: string | number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, `${typeof value === 'number' ? String(value).padStart(20, '0') : value}\n`, 0);
  } finally {
    closeSync(fd);
  }
}

export interface RecordingLogger extends Logger {
  lines: Array<{ level: LogLevel; message: string }>;
}

export function recordingLogger(): RecordingLogger {
  const lines: Array<{ level: LogLevel; message: string }> = [];
  const seen = new Set<string>();
  const rec = (level: LogLevel) => (message: string) => {
    lines.push({ level, message });
  };
  return {
    lines,
    debug: rec('debug'),
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    once(key, level, message) {
      if (seen.has(key)) return;
      seen.add(key);
      lines.push({ level, message });
    },
  };
}

export function configFor(root: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    HOME: root,
    WATTSCOPE_PROCFS_ROOT: join(root, 'proc'),
    WATTSCOPE_SYSFS_ROOT: join(root, 'sys'),
    WATTSCOPE_HOST: 'fixture-host',
    ...env,
  });
}

export interface ContextOptions {
  log?: Logger;
  env?: Record<string, string>;
  /** the shared NVML binding and nvidia-smi process (tests hand recorded NVML values through here) */
  resources?: SharedResources;
}

export function contextFor(root: string, opts: ContextOptions = {}): SourceContext {
  const config = configFor(root, opts.env);
  const log = opts.log ?? recordingLogger();
  return {
    config,
    procfs: config.collector.procfsRoot,
    sysfs: config.collector.sysfsRoot,
    log,
    hostTags: { host: 'fixture-host', platform: 'fixture' },
    resources: opts.resources ?? new SharedResources(log),
    now: () => performance.now(),
    problem: (kind, key, message) => log.once(`problem:${kind}:${key}`, 'warn', message),
  };
}

/**
 * Discovers these plugins on a fixture host as the collector does: every one, then the one
 * host-total policy over all their channels (collector/total.ts). Close `resources` after.
 */
export async function discoverOn(root: string, factories: readonly SourceFactory[], opts: ContextOptions = {}): Promise<{ sources: Source[]; channels: PowerChannel[]; resources: SharedResources }> {
  const ctx = contextFor(root, opts);
  const sources = await discoverSources(ctx.config, { hostTags: ctx.hostTags, log: ctx.log, resources: ctx.resources, factories });
  return { sources, channels: sources.flatMap((s) => [...s.channels()]), resources: ctx.resources };
}
