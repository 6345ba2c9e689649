/** Helpers for tests on the fixture hosts (test/fixtures/hosts). */
import { closeSync, cpSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../common/config.js';
import type { Logger, LogLevel } from '../../common/log.js';
import type { PowerChannel, SourceContext } from '../../collector/source.js';

export const FIXTURES = new URL('../fixtures/hosts/', import.meta.url).pathname;

/** A writable copy of a fixture host, for tests that advance its counters. */
export function copyHost(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `wattscope-${name}-`));
  cpSync(join(FIXTURES, name), dir, { recursive: true, verbatimSymlinks: true });
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

export function contextFor(root: string, opts: { channelsSoFar?: readonly PowerChannel[]; log?: Logger; env?: Record<string, string> } = {}): SourceContext {
  const config = configFor(root, opts.env);
  return {
    config,
    procfs: config.collector.procfsRoot,
    sysfs: config.collector.sysfsRoot,
    log: opts.log ?? recordingLogger(),
    hostTags: { host: 'fixture-host', platform: 'fixture' },
    channelsSoFar: opts.channelsSoFar ?? [],
  };
}
