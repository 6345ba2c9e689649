import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batterySource, batteryWatts, findBatteries } from '../../../collector/sources/battery/index.js';
import { estimateSource } from '../../../collector/sources/estimate/index.js';
import { raplSource } from '../../../collector/sources/rapl/index.js';
import { FIXTURES, contextFor, copyHost, discoverOn, recordingLogger, writeSysfs } from '../fixtures.js';

const BAT0 = 'sys/devices/LNXSYSTM:00/LNXSYBUS:00/PNP0A08:00/device:00/PNP0C09:00/PNP0C0A:00/power_supply/BAT0';

describe('battery', () => {
  it('reads a discharging ThinkPad battery’s power_now (µW) as the machine’s power', async () => {
    const source = await batterySource.discover(contextFor(join(FIXTURES, 'laptop-thinkpad-no-rapl')));
    const [channel] = source?.channels() ?? [];
    expect(channel).toMatchObject({ id: 'battery/BAT0', domain: 'system', method: 'sampled', measures: { kind: 'whole', key: 'battery' } });
    expect(channel?.read()).toBeCloseTo(4.83, 12);
    await source?.close?.();
  });

  it('is counted alone where RAPL cannot be read, and reported, not added, beside RAPL’s package', async () => {
    const alone = await discoverOn(join(FIXTURES, 'laptop-thinkpad-no-rapl'), [raplSource, batterySource, estimateSource]);
    expect(alone.channels.map((c) => `${c.id} ${c.inTotal}`)).toEqual(['battery/BAT0 true']);
    const beside = await discoverOn(join(FIXTURES, 'laptop-thinkpad'), [raplSource, batterySource, estimateSource]);
    expect(beside.channels.filter((c) => c.inTotal).map((c) => c.id)).toEqual(['rapl/package-0']);
    expect(beside.channels.find((c) => c.id === 'battery/BAT0')?.inTotal).toBe(false);
  });

  it('offers nothing on mains power, and stops reading when plugged in mid-way', async () => {
    const root = copyHost('laptop-thinkpad-no-rapl');
    const status = join(root, BAT0, 'status');
    writeFileSync(status, 'Charging\n');
    const log = recordingLogger();
    expect(await batterySource.discover(contextFor(root, { log }))).toBeUndefined();
    // on mains the CPU estimate is what there is
    const { channels } = await discoverOn(root, [batterySource, estimateSource]);
    expect(channels.map((c) => `${c.id} ${c.inTotal}`)).toEqual(['estimate/cpu true']);
    // unplugged: the next rediscovery finds it; plugged in again: no reading until it is gone
    writeFileSync(status, 'Discharging\n');
    const source = await batterySource.discover(contextFor(root));
    const [channel] = source?.channels() ?? [];
    expect(channel?.read()).toBeCloseTo(4.83, 12);
    // plugged in: what the machine draws is unknown now (a gap the run's coverage shows), not 0 W
    writeSysfs(status, 'Full');
    expect(channel?.read()).toBeUndefined();
    await source?.close?.();
  });

  it('multiplies current_now (µA) by voltage_now (µV) where power_now is missing, whatever the current’s sign', async () => {
    const root = copyHost('laptop-thinkpad-no-rapl');
    rmSync(join(root, BAT0, 'power_now'));
    writeFileSync(join(root, BAT0, 'current_now'), '-1500000\n'); // 1.5 A out, signed as some drivers do
    const source = await batterySource.discover(contextFor(root));
    expect(source?.channels()[0]?.read()).toBeCloseTo(1.5 * 12.229, 9);
    expect(batteryWatts([2_000_000, 11_000_000])).toBeCloseTo(22, 12);
    expect(batteryWatts([-4_830_000])).toBeCloseTo(4.83, 12);
  });

  it('sums the batteries that power the machine together, leaves out a mouse’s, and one that is absent', () => {
    const root = copyHost('laptop-thinkpad-no-rapl');
    const supply = join(root, 'sys', 'class', 'power_supply');
    const add = (name: string, files: Record<string, string>) => {
      const dir = join(root, 'sys', 'devices', 'extra', name);
      mkdirSync(dir, { recursive: true });
      for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), `${v}\n`);
      symlinkSync(dir, join(supply, name));
    };
    add('BAT1', { type: 'Battery', status: 'Discharging', power_now: '6170000', present: '1' });
    add('hidpp_battery_0', { type: 'Battery', scope: 'Device', status: 'Discharging', voltage_now: '3900000', current_now: '10000' });
    add('BAT2', { type: 'Battery', present: '0', status: 'Unknown', power_now: '0' });
    expect(findBatteries(supply).map((b) => b.name)).toEqual(['BAT0', 'BAT1']);
  });

  it('reads two batteries as one channel, their sum, while one of them rests', async () => {
    const root = copyHost('laptop-thinkpad-no-rapl');
    const dir = join(root, 'sys', 'devices', 'extra', 'BAT1');
    mkdirSync(dir, { recursive: true });
    for (const [f, v] of Object.entries({ type: 'Battery', status: 'Discharging', power_now: '6170000' })) writeFileSync(join(dir, f), `${v}\n`);
    symlinkSync(dir, join(root, 'sys', 'class', 'power_supply', 'BAT1'));
    const source = await batterySource.discover(contextFor(root));
    const [channel] = source?.channels() ?? [];
    expect(channel?.id).toBe('battery/BAT0+BAT1');
    expect(channel?.read()).toBeCloseTo(11, 12);
    // a ThinkPad drains one battery, then the other: the resting one adds nothing
    writeSysfs(join(dir, 'status'), 'Unknown');
    expect(channel?.read()).toBeCloseTo(4.83, 12);
    await source?.close?.();
  });

  it('is quietly absent on a machine without batteries', async () => {
    const log = recordingLogger();
    expect(await batterySource.discover(contextFor(join(FIXTURES, 'server-xeon-2s'), { log }))).toBeUndefined();
    expect(log.lines).toEqual([]);
  });
});
