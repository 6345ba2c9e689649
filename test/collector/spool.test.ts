import { appendFileSync, mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Spool, type DropReason } from '../../collector/spool.js';
import { lineProblem } from '../../common/storage/line-protocol.js';
import { mountTmpfs } from './tmpfs.js';
import { mountFailingDisk } from './failing-disk/index.js';

const dir = () => mkdtempSync(join(tmpdir(), 'wattscope-spool-'));
const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `power,source=s energy_j=1 ${from + i}`);

function drain(spool: Spool, batch = 1000, corrupt: string[] = []): string[] {
  const out: string[] = [];
  for (let b = spool.peek(batch); b; b = spool.peek(batch)) {
    out.push(...b.lines);
    corrupt.push(...b.corrupt.map((c) => c.why));
    spool.commit(b.end, b.memoryEnd);
  }
  return out;
}

const segment = (d: string) => join(d, readdirSync(d).find((f) => f.startsWith('seg-')) as string);
const validate = (line: string) => lineProblem(line, new Set(['power']));

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

  it('hands apart lines that cannot be points (a bad byte, a garbled name) and goes on after them', () => {
    const d = dir();
    const a = new Spool({ dir: d, maxBytes: 1024 * 1024, validate });
    a.append(lines(0, 6));
    a.close();
    const file = segment(d);
    const bytes = readFileSync(file);
    const starts = [0];
    for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
    bytes[(starts[1] as number) + 3] = 0xff; // line 1: not UTF-8 any more
    bytes[(starts[3] as number) + 1] = 0x78; // line 3: "pxwer", a measurement we never write
    writeFileSync(file, bytes);
    const b = new Spool({ dir: d, maxBytes: 1024 * 1024, validate });
    const corrupt: string[] = [];
    expect(drain(b, 1000, corrupt)).toEqual([0, 2, 4, 5].map((i) => lines(i, 1)[0]));
    expect(corrupt).toEqual(['not valid UTF-8', 'unknown measurement "pxwer"']);
    expect(b.peek(10)).toBeUndefined();
  });

  it('resumes at a line boundary when the tail was cut after the cursor was saved (no half line is ever sent)', () => {
    const d = dir();
    const a = new Spool({ dir: d, maxBytes: 1024 * 1024, validate });
    a.append(lines(0, 10));
    a.commit(a.peek(8)!.end); // 8 sent, cursor saved at close
    a.close();
    const file = segment(d);
    const size = readFileSync(file).length;
    truncateSync(file, size - 60); // a power cut took the last line and a half
    const repairs: string[] = [];
    const b = new Spool({ dir: d, maxBytes: 1024 * 1024, validate, onRepair: (w) => repairs.push(w) });
    b.append(lines(100, 3));
    const corrupt: string[] = [];
    expect(drain(b, 1000, corrupt)).toEqual(lines(100, 3));
    expect(corrupt).toEqual([]);
    expect(repairs.join('\n')).toMatch(/cut \d+ bytes of a half-written line/);
    expect(repairs.join('\n')).toMatch(/cursor pointed past the end/);
  });

  it('resumes at the next whole line when the saved cursor points into a line', () => {
    const d = dir();
    const a = new Spool({ dir: d, maxBytes: 1024 * 1024, validate });
    a.append(lines(0, 4));
    a.close();
    const lineLength = lines(0, 1)[0]!.length + 1;
    writeFileSync(join(d, 'cursor.json'), JSON.stringify({ seq: 1, offset: lineLength + 5 }));
    const repairs: string[] = [];
    const b = new Spool({ dir: d, maxBytes: 1024 * 1024, validate, onRepair: (w) => repairs.push(w) });
    expect(drain(b)).toEqual(lines(2, 2));
    expect(repairs).toEqual([expect.stringMatching(/pointed into a line/)]);
  });

  it('keeps points in memory while its disk is full (a real tmpfs), sends them from there, and puts them on disk once space is back', () => {
    const fs = mountTmpfs(256 * 1024);
    try {
      const errors: string[] = [];
      const drops: Array<[number, DropReason]> = [];
      const spool = new Spool({ dir: fs.dir, maxBytes: 1024 * 1024, validate, diskRetryMs: 0, memoryMaxBytes: 12_000, onDiskError: (code) => errors.push(code), onDrop: (n, r) => drops.push([n, r]) });
      spool.append(lines(0, 10));
      fs.fill();
      spool.append(lines(10, 200)); // more than the page the segment has: refused, kept in memory
      expect(errors).toContain('ENOSPC');
      expect(spool.memoryLines).toBe(200);
      // the disk's copy ends with a whole line: nothing half-written stays
      expect(readFileSync(segment(fs.dir), 'utf8')).toBe(lines(0, 10).join('\n') + '\n');
      // disk first, then memory, in order
      const first = spool.peek(1000)!;
      expect(first.lines).toEqual(lines(0, 10));
      spool.commit(first.end, first.memoryEnd);
      const fromMemory = spool.peek(4)!;
      expect(fromMemory.lines).toEqual(lines(10, 4));
      expect(fromMemory.memoryEnd).toBeDefined();
      spool.commit(fromMemory.end, fromMemory.memoryEnd);
      expect(spool.memoryLines).toBe(196);
      // the memory buffer is bounded: past it, points are dropped and counted
      spool.append(lines(300, 400));
      const dropped = drops.filter(([, r]) => r === 'memory_full').reduce((a, [n]) => a + n, 0);
      expect(dropped).toBeGreaterThan(100);
      expect(spool.memoryLines + dropped).toBe(596);
      const keptNew = spool.memoryLines - 196;
      // space is back: the next append puts memory and new lines on disk, in order
      fs.free();
      spool.append(lines(1000, 2));
      expect(spool.memoryLines).toBe(0);
      expect(drain(spool)).toEqual([...lines(14, 196), ...lines(300, keptNew), ...lines(1000, 2)]);
      spool.close();
    } finally {
      fs.unmount();
    }
  });

  it('counts what a full disk still refuses at exit as lost', () => {
    const fs = mountTmpfs(128 * 1024);
    try {
      const drops: Array<[number, DropReason]> = [];
      const spool = new Spool({ dir: fs.dir, maxBytes: 1024 * 1024, validate, onDrop: (n, r) => drops.push([n, r]) });
      spool.append(lines(0, 2));
      fs.fill();
      spool.append(lines(2, 300));
      expect(spool.memoryLines).toBe(300);
      spool.close();
      expect(drops).toEqual([[300, 'disk_failed_at_exit']]);
    } finally {
      fs.unmount();
    }
  });

  it('sends the newest unsent lines from its copy in memory: bytes gone bad on the disk meanwhile are not read', () => {
    const d = dir();
    const spool = new Spool({ dir: d, maxBytes: 1024 * 1024, validate });
    spool.append(lines(0, 50));
    const file = segment(d);
    // every byte but the line ends goes bad
    writeFileSync(file, readFileSync(file).map((b) => (b === 0x0a ? b : 0xff)));
    const corrupt: string[] = [];
    expect(drain(spool, 16, corrupt)).toEqual(lines(0, 50));
    expect(corrupt).toEqual([]);
    // a new process has no copy: it reads the disk, and finds the bytes bad
    spool.append(lines(50, 5));
    writeFileSync(segment(d), Buffer.concat([readFileSync(segment(d)).subarray(0, -1), Buffer.from([0xff, 0x0a])]));
    spool.close();
    const again = new Spool({ dir: d, maxBytes: 1024 * 1024, validate });
    const after: string[] = [];
    expect(drain(again, 16, after)).toEqual(lines(50, 4));
    expect(after).toEqual(['not valid UTF-8']);
  });

  it('keeps only the newest lines in memory past its bound: the older come from the disk, all in order', () => {
    const d = dir();
    const spool = new Spool({ dir: d, maxBytes: 1024 * 1024, segmentBytes: 2048, tailMaxBytes: 600, validate });
    for (let i = 0; i < 20; i++) spool.append(lines(i * 10, 10));
    // the oldest line on the disk goes bad: it is read from there (and put apart), the newest are not
    const first = join(d, readdirSync(d).filter((f) => f.startsWith('seg-')).sort()[0] as string);
    const bytes = readFileSync(first);
    bytes[0] = 0xff;
    writeFileSync(first, bytes);
    const corrupt: string[] = [];
    expect(drain(spool, 7, corrupt)).toEqual(lines(1, 199));
    expect(corrupt).toEqual(['not valid UTF-8']);
  });

  it('on a disk that answers EIO (a FUSE disk failing on purpose): nothing throws, the unsent lines go from memory in order, and the disk is taken up again when it works', async () => {
    const disk = await mountFailingDisk();
    try {
      const errors: string[] = [];
      const d = join(disk.dir, 'spool');
      const spool = new Spool({ dir: d, maxBytes: 1024 * 1024, diskRetryMs: 0, onDiskError: (code) => errors.push(code) });
      spool.append(lines(0, 30));
      const b = spool.peek(10) as NonNullable<ReturnType<Spool['peek']>>;
      spool.commit(b.end);
      disk.fail();
      spool.append(lines(30, 30));
      expect(spool.memoryLines).toBe(30);
      expect(spool.diskFailure?.code).toBe('EIO');
      expect(drain(spool, 7)).toEqual(lines(10, 50));
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(errors)).toEqual(new Set(['EIO']));
      // a new spool on the broken disk: memory only, said so, nothing thrown
      const restarted = new Spool({ dir: d, maxBytes: 1024 * 1024, diskRetryMs: 0 });
      expect(restarted.diskless).toBe(true);
      restarted.append(lines(60, 5));
      expect(drain(restarted)).toEqual(lines(60, 5));
      restarted.close();
      spool.close();
      disk.heal();
      const healed = new Spool({ dir: d, maxBytes: 1024 * 1024, diskRetryMs: 0 });
      expect(healed.diskless).toBe(false);
      healed.append(lines(100, 3));
      expect(readdirSync(d).some((f) => f.startsWith('seg-'))).toBe(true);
      // the cursor could not reach the disk after the failure: what was sent since goes again (InfluxDB overwrites it)
      expect(drain(healed)).toEqual([...lines(10, 20), ...lines(100, 3)]);
      healed.close();
    } finally {
      await disk.unmount();
    }
  });
});
