import { appendFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Spool } from '../../collector/spool.js';

const dir = () => mkdtempSync(join(tmpdir(), 'wattscope-spool-'));
const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `power,source=s energy_j=1 ${from + i}`);

function drain(spool: Spool, batch = 1000): string[] {
  const out: string[] = [];
  for (let b = spool.peek(batch); b; b = spool.peek(batch)) {
    out.push(...b.lines);
    spool.commit(b.end);
  }
  return out;
}

describe('Spool', () => {
  it('hands lines back in order, across segments, and forgets what was committed', () => {
    const d = dir();
    const spool = new Spool({ dir: d, maxBytes: 10 * 1024 * 1024, segmentBytes: 4096 });
    for (let i = 0; i < 50; i++) spool.append(lines(i * 10, 10));
    expect(readdirSync(d).filter((f) => f.startsWith('seg-')).length).toBeGreaterThan(3);
    expect(drain(spool, 37)).toEqual(lines(0, 500));
    expect(spool.pendingBytes).toBe(0);
    expect(readdirSync(d).filter((f) => f.startsWith('seg-')).length).toBe(1);
  });

  it('resumes where the last commit left off after a clean stop, without repeating', () => {
    const d = dir();
    const a = new Spool({ dir: d, maxBytes: 1024 * 1024, segmentBytes: 2048 });
    a.append(lines(0, 100));
    a.commit(a.peek(40)!.end);
    a.commit(a.peek(20)!.end);
    a.append(lines(100, 20));
    a.close();
    const b = new Spool({ dir: d, maxBytes: 1024 * 1024, segmentBytes: 2048 });
    expect(drain(b)).toEqual(lines(60, 60));
  });

  it('after a crash, sends again at most what was committed since the cursor last reached the disk, and loses nothing', () => {
    const d = dir();
    const a = new Spool({ dir: d, maxBytes: 1024 * 1024, segmentBytes: 2048, cursorSyncMs: 60_000 });
    a.append(lines(0, 100));
    a.commit(a.peek(40)!.end); // the first commit reaches the disk
    a.commit(a.peek(30)!.end); // this one waits for the next sync: the process dies first
    a.append(lines(100, 20));
    const b = new Spool({ dir: d, maxBytes: 1024 * 1024, segmentBytes: 2048 });
    expect(drain(b)).toEqual(lines(40, 80));
  });

  it('cuts half a line left by a crash mid-append', () => {
    const d = dir();
    const a = new Spool({ dir: d, maxBytes: 1024 * 1024 });
    a.append(lines(0, 3));
    a.close();
    const seg = readdirSync(d).find((f) => f.startsWith('seg-')) as string;
    appendFileSync(join(d, seg), 'power,source=s energy_j=');
    const b = new Spool({ dir: d, maxBytes: 1024 * 1024 });
    b.append(lines(3, 1));
    expect(drain(b)).toEqual(lines(0, 4));
  });

  it('drops the oldest segment first past its bound, and counts the dropped lines', () => {
    const d = dir();
    let dropped = 0;
    const spool = new Spool({ dir: d, maxBytes: 64 * 1024, segmentBytes: 16 * 1024, onDrop: (n) => (dropped += n) });
    const each = lines(0, 1)[0]!.length + 1;
    const total = 4000;
    for (let i = 0; i < total; i += 100) spool.append(lines(i, 100));
    expect(spool.totalBytes).toBeLessThanOrEqual(64 * 1024 + 100 * each);
    const left = drain(spool);
    expect(dropped).toBe(spool.droppedLines);
    expect(left.length + dropped).toBe(total);
    expect(left).toEqual(lines(total - left.length, left.length)); // the newest survive, in order
  });
});
