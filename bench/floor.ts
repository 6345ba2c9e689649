/**
 * Node's own floor for the collector benchmark: a bare Node process that only wakes on a timer
 * and reads files the way the collector reads them (kept open, one pread from offset 0 into a
 * reused buffer), nothing parsed, stored or sent. What the collector costs above this is its own.
 *
 *   node dist/bench/floor.js <hz> <files read at hz, comma-separated> [<files read once a second>]
 *
 * With no files it is an idle timer. Started by bench/collector.ts, not by hand.
 */
import { openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function runFloor(hz: number, fast: readonly string[], perSecond: readonly string[]): void {
  const buf = Buffer.allocUnsafe(65536);
  const open = (paths: readonly string[]) => paths.map((p) => openSync(p, 'r'));
  const fastFds = open(fast);
  const slowFds = open(perSecond);
  const period = 1000 / hz;
  let tick = 0;
  // on a grid like the collector's (no drift), without reading anything but the files
  const origin = performance.now();
  const next = () => setTimeout(run, Math.max(0, origin + ++tick * period - performance.now()));
  const run = () => {
    for (const fd of fastFds) readSync(fd, buf, 0, buf.length, 0);
    if (tick % Math.max(1, Math.round(hz)) === 0) for (const fd of slowFds) readSync(fd, buf, 0, buf.length, 0);
    next();
  };
  next();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [hz = '1', fast = '', slow = ''] = process.argv.slice(2);
  const list = (s: string) => s.split(',').filter(Boolean);
  runFloor(Number(hz), list(fast), list(slow));
}
