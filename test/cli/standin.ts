/**
 * A RAPL package counter driven at powers a workload sets, for end-to-end tests of the
 * measurement protocol: the stand-in for a GPU server whose power rises when a job runs and
 * comes down some seconds after it ends.
 *
 * A process of its own advances `energy_uj` every millisecond at the current power and reads a
 * control file every 20 ms: a number (watts) sets the power at once; `idle` brings it back to
 * its idle power `holdS` seconds later, as a machine stays hot for a while after a job. Each
 * change of power is logged with its wall-clock time, so the energy of any window is known.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { aheadOfTheSuite } from '../priority.js';

export interface ControlledRapl {
  /** write a power (W) or `idle` to the control file, as a workload does */
  set(value: number | 'idle'): void;
  /** [wall-clock ms, watts] from each change on */
  changes(): Array<{ t: number; w: number }>;
  /** the energy the counter gained over [fromMs, toMs], from the log of changes, in joules */
  energyJ(fromMs: number, toMs: number): number;
  stop(): Promise<void>;
}

export function startControlledRapl(counterFile: string, controlFile: string, logFile: string, opts: { idleW: number; holdS: number; startUj: number; rangeUj: number }): ControlledRapl {
  writeFileSync(controlFile, '');
  writeFileSync(logFile, '');
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(counterFile)}, 'r+');
    const t0 = process.hrtime.bigint();
    const wall0 = Date.now();
    const wall = (ns) => wall0 + Number(ns - t0) / 1e6;
    let watts = ${opts.idleW};
    let uj = ${opts.startUj};
    let last = t0;
    let idleAt = null;
    let control = '';
    let nextRead = 0;
    let stop = false;
    process.on('SIGTERM', () => { stop = true; });
    const log = (now) => fs.appendFileSync(${JSON.stringify(logFile)}, JSON.stringify({ t: wall(now), w: watts }) + '\\n');
    const set = (w, now) => { if (w !== watts) { watts = w; log(now); } };
    log(t0);
    const step = () => {
      const now = process.hrtime.bigint();
      uj += watts * Number(now - last) / 1e3; // W × ns / 1e3 = µJ
      last = now;
      if (Number(now - t0) / 1e6 >= nextRead) {
        nextRead = Number(now - t0) / 1e6 + 20;
        const text = fs.readFileSync(${JSON.stringify(controlFile)}, 'utf8').trim();
        if (text !== '' && text !== control) {
          control = text;
          if (text === 'idle') idleAt = wall(now) + ${opts.holdS * 1000};
          else if (Number.isFinite(Number(text))) { idleAt = null; set(Number(text), now); }
        }
      }
      if (idleAt !== null && wall(now) >= idleAt) { idleAt = null; set(${opts.idleW}, now); }
      fs.writeSync(fd, String(Math.floor(uj % ${opts.rangeUj})).padStart(20, '0') + '\\n', 0);
      if (!stop) setTimeout(step, 1); else process.exit(0);
    };
    step();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  aheadOfTheSuite(child.pid);
  const changes = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { t: number; w: number });
  return {
    set: (value) => writeFileSync(controlFile, `${value}\n`),
    changes,
    energyJ(fromMs, toMs) {
      const log = changes();
      let j = 0;
      log.forEach((c, i) => {
        const end = log[i + 1]?.t ?? Infinity;
        const lo = Math.max(c.t, fromMs);
        const hi = Math.min(end, toMs);
        if (hi > lo) j += (c.w * (hi - lo)) / 1000;
      });
      return j;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
