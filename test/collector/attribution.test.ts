import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { busyTicks, descendants, parsePidStat, RegistrationError, RunTracker, type ProcStat } from '../../collector/attribution.js';

describe('process trees (pure)', () => {
  it('reads /proc/<pid>/stat, a command name with spaces and parentheses included', () => {
    const line = '4242 (my (odd) cmd) S 4200 4242 4242 0 -1 4194304 1200 0 0 0 350 120 7 3 20 0 1 0 98765 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    expect(parsePidStat(line)).toEqual({ pid: 4242, ppid: 4200, ticks: 350 + 120 + 7 + 3, start: 98765 });
    expect(parsePidStat('garbage')).toBeUndefined();
  });

  it('follows a tree from its roots, children of children included, and nothing else', () => {
    const p = (pid: number, ppid: number): ProcStat => ({ pid, ppid, ticks: 0, start: 0 });
    const procs = new Map([p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(21, 20)].map((x) => [x.pid, x]));
    expect([...descendants(procs, new Set([10]))].sort()).toEqual([10, 11, 12]);
    expect([...descendants(procs, new Set([10, 21]))].sort()).toEqual([10, 11, 12, 21]);
    expect([...descendants(procs, new Set([99]))]).toEqual([]);
  });

  it('counts busy CPU time as user, nice, system, irq and softirq: not idle, I/O wait or steal', () => {
    expect(busyTicks({ user: 1, nice: 2, system: 4, idle: 1000, iowait: 100, irq: 8, softirq: 16, steal: 500 })).toBe(31);
  });
});

describe('RunTracker on this machine', () => {
  it('refuses a PID that is not there, and forgets a run once told it ended', () => {
    const tracker = new RunTracker('/proc', { host: 'h' });
    expect(() => tracker.register('r1', [2 ** 22 + 5])).toThrow(RegistrationError);
    const child = spawn('sleep', ['5']);
    try {
      tracker.register('r1', [child.pid as number]);
      expect(tracker.list()).toEqual([{ run_id: 'r1', pids: [child.pid] }]);
      expect(tracker.unregister('r1')).toBe(true);
      expect(tracker.unregister('nope')).toBe(false);
      tracker.attribute([]); // the run's last interval: then it is gone
      expect(tracker.size).toBe(0);
    } finally {
      child.kill();
    }
  });
});
