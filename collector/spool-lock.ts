/**
 * One collector per spool directory. Two collectors on one spool (a `wattscope collect` beside
 * `wattscope up`, two containers on one volume) would replay each other's points, so the
 * directory is locked: `collector.lock` holds the owner's PID, host, PID namespace and process
 * start time, and its mtime is refreshed every few seconds while the owner lives.
 *
 * A lock is the owner's while:
 * - in the same PID namespace (same host): the PID is alive and started when the lock says —
 *   a lock left by a dead process (SIGKILL, a crash, a reboot) is taken over at once;
 * - seen from another PID namespace (another container on the volume), where the PID means
 *   nothing: its mtime is fresh (refreshed within STALE_MS).
 */
import { closeSync, openSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errnoCode } from './sysfs.js';

export const LOCK_FILE = 'collector.lock';
const REFRESH_MS = 5_000;
const STALE_MS = 20_000;

interface LockInfo {
  pid: number;
  host: string;
  /** `pid:[4026531836]`: PIDs compare only inside one namespace */
  pidNs: string;
  /** field 22 of /proc/<pid>/stat: tells a reused PID from the owner */
  startTicks: string;
  since: string;
}

export class SpoolLockedError extends Error {
  override name = 'SpoolLockedError';
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

function startTicks(pid: number | 'self'): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: fields count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

export class SpoolLock {
  private readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly info: LockInfo;
  /** false when the disk was full: the lock is then an empty file */
  private written = false;

  private constructor(dir: string) {
    this.file = join(dir, LOCK_FILE);
    this.info = { pid: process.pid, host: hostname(), pidNs: pidNamespace(), startTicks: startTicks('self'), since: new Date().toISOString() };
  }

  /** Takes the lock of `dir` (which must exist), or throws SpoolLockedError naming its holder. */
  static acquire(dir: string): SpoolLock {
    const lock = new SpoolLock(dir);
    lock.take();
    lock.timer = setInterval(() => lock.refresh(), REFRESH_MS);
    lock.timer.unref();
    return lock;
  }

  private take(): void {
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(this.file, 'wx');
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
        const holder = this.holder();
        if (holder) {
          throw new SpoolLockedError(
            `another collector (pid ${holder.pid} on ${holder.host}, since ${holder.since}) is using the spool directory ${this.file.slice(0, -LOCK_FILE.length - 1)}; ` +
              'two collectors on one spool would send each other’s points. Stop it, or give this one its own WATTSCOPE_SPOOL_DIR',
          );
        }
        rmSync(this.file, { force: true }); // its owner is gone: take it over
        continue;
      }
      try {
        writeSync(fd, JSON.stringify(this.info) + '\n');
        this.written = true;
      } catch {
        // a full disk: the empty lock still stands while its mtime is refreshed
      } finally {
        closeSync(fd);
      }
      return;
    }
    throw new SpoolLockedError(`cannot take the lock ${this.file}: it keeps changing hands`);
  }

  /** The live owner of an existing lock file, or undefined when the lock is stale. */
  private holder(): LockInfo | undefined {
    let other: Partial<LockInfo>;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.file).mtimeMs;
      other = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<LockInfo>;
    } catch {
      // being written right now, or torn: its owner's if it is fresh
      return Date.now() - (mtimeMsOf(this.file) ?? 0) < STALE_MS ? { pid: 0, host: '?', pidNs: '', startTicks: '', since: '?' } : undefined;
    }
    const info: LockInfo = { pid: Number(other.pid), host: String(other.host ?? '?'), pidNs: String(other.pidNs ?? ''), startTicks: String(other.startTicks ?? ''), since: String(other.since ?? '?') };
    const sameNamespace = info.host === this.info.host && info.pidNs !== '' && info.pidNs === this.info.pidNs;
    if (sameNamespace) {
      if (!Number.isInteger(info.pid) || info.pid <= 0 || !alive(info.pid)) return undefined;
      const ticks = startTicks(info.pid);
      return info.startTicks === '' || ticks === '' || ticks === info.startTicks ? info : undefined;
    }
    return Date.now() - mtimeMs < STALE_MS ? info : undefined;
  }

  private refresh(): void {
    const now = new Date();
    try {
      utimesSync(this.file, now, now);
    } catch {
      // a full or read-only disk: the PID check still protects the same namespace
    }
  }

  /** Gives the lock up; never throws (a lock the disk will not delete is stale for the next start: its owner is gone). */
  release(): void {
    clearInterval(this.timer);
    try {
      if (!this.written) {
        if (mtimeMsOf(this.file) !== undefined && statSync(this.file).size === 0) rmSync(this.file, { force: true });
        return;
      }
      const other = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<LockInfo>;
      if (other.pid === this.info.pid && other.pidNs === this.info.pidNs && other.host === this.info.host) rmSync(this.file, { force: true });
    } catch {
      // already gone, or the disk fails: the next start takes a dead owner's lock over
    }
  }
}

function mtimeMsOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
