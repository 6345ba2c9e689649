/**
 * counters.json: each counter's last reading, written in place at every report (one write: a
 * shorter save is padded, not truncated) and read back at the next start of the same boot.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COUNTER_STATE_FILE, CounterStateWriter, loadCounterState, type IdentifiedReading } from '../../collector/counter-state.js';

const BOOT = '6f1c2f7e-5b0c-4f1a-9d8e-0a1b2c3d4e5f';

describe('counters.json', () => {
  it('reads back what was saved last, in the same boot only, after saves that shrank and grew', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-counters-'));
    const writer = new CounterStateWriter(dir, BOOT);
    const readings: IdentifiedReading[] = [
      { id: 'rapl/package-0', value: 262_143.328849, timeMs: 1_800_000_000_000 },
      { id: 'rapl/dram-0', value: 12.5, timeMs: 1_800_000_000_000 },
      { id: 'nvml/0', value: 9_382_741.023, timeMs: 1_800_000_000_001 },
    ];
    writer.save(readings);
    const long = readFileSync(join(dir, COUNTER_STATE_FILE), 'utf8');
    // a shorter save: the same file, padded (JSON ignores the spaces), the readings of now
    writer.save([{ id: 'rapl/package-0', value: 3, timeMs: 1_800_000_001_000 }]);
    const short = readFileSync(join(dir, COUNTER_STATE_FILE), 'utf8');
    expect(short.length).toBe(long.length);
    expect(loadCounterState(dir, BOOT)).toEqual({ 'rapl/package-0': { value: 3, timeMs: 1_800_000_001_000 } });
    // and longer again
    writer.save(readings);
    expect(loadCounterState(dir, BOOT)).toEqual({
      'rapl/package-0': { value: 262_143.328849, timeMs: 1_800_000_000_000 },
      'rapl/dram-0': { value: 12.5, timeMs: 1_800_000_000_000 },
      'nvml/0': { value: 9_382_741.023, timeMs: 1_800_000_000_001 },
    });
    // an id that needs escaping in JSON is written as JSON writes it
    writer.save([{ id: 'hwmon/odd"chip\\-0/energy1', value: 1, timeMs: 2 }]);
    expect(loadCounterState(dir, BOOT)).toEqual({ 'hwmon/odd"chip\\-0/energy1': { value: 1, timeMs: 2 } });
    writer.close();
    expect(loadCounterState(dir, 'another-boot-0000-0000-000000000000')).toEqual({});
    expect(loadCounterState(dir, undefined)).toEqual({});
  });

  it('bridges nothing from a torn or foreign file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-counters-'));
    writeFileSync(join(dir, COUNTER_STATE_FILE), `{"bootId":"${BOOT}","counters":{"rapl/package-0":{"value":1`);
    expect(loadCounterState(dir, BOOT)).toEqual({});
    writeFileSync(join(dir, COUNTER_STATE_FILE), JSON.stringify({ bootId: BOOT, counters: { a: { value: -1, timeMs: 1 }, b: { value: 'x', timeMs: 1 }, c: { value: 2, timeMs: 3 } } }));
    expect(loadCounterState(dir, BOOT)).toEqual({ c: { value: 2, timeMs: 3 } });
  });

  it('saves nothing without a boot id (nothing could be bridged)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattscope-counters-'));
    new CounterStateWriter(dir, undefined).save([{ id: 'rapl/package-0', value: 1, timeMs: 1 }]);
    expect(() => readFileSync(join(dir, COUNTER_STATE_FILE))).toThrow(/ENOENT/);
  });
});
