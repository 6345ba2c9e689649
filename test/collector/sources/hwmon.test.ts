import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chipPciAddress, classify, hwmonSource } from '../../../collector/sources/hwmon/index.js';
import { raplSource } from '../../../collector/sources/rapl/index.js';
import { estimateSource, estimatedPowerW } from '../../../collector/sources/estimate/index.js';
import type { PowerChannel } from '../../../collector/source.js';
import { FIXTURES, contextFor, copyHost, discoverOn, recordingLogger, writeSysfs } from '../fixtures.js';

const summary = (channels: readonly PowerChannel[]) => channels.map((c) => `${c.id} ${c.domain} ${c.method} ${c.inTotal ? 'total' : 'nested'}`);

/** hwmon beside RAPL, as the collector discovers them: the host-total policy over both. */
async function discoverPower(host: string, root = join(FIXTURES, host)) {
  const { sources } = await discoverOn(root, [raplSource, hwmonSource]);
  return { hwmon: sources.find((s) => s.name === 'hwmon') };
}

describe('hwmon', () => {
  it('reads an amdgpu board power (µW, averaged: only power1_average) and an ACPI power meter, labelled by chip', async () => {
    const { hwmon } = await discoverPower('desktop-intel');
    expect(summary(hwmon?.channels() ?? [])).toEqual(['hwmon/amdgpu-0/power1 gpu averaged total', 'hwmon/power_meter-0/power1 system averaged nested']);
    expect(hwmon?.channels().map((c) => c.read())).toEqual([23, 98]);
  });

  it('reads amd_energy counters (µJ): cores nested in the socket, the socket not added again beside RAPL', async () => {
    const { hwmon } = await discoverPower('amd-epyc');
    expect(summary(hwmon?.channels() ?? [])).toEqual([
      'hwmon/amd_energy-0/energy1 cpu counter nested',
      'hwmon/amd_energy-0/energy2 cpu counter nested',
      'hwmon/amd_energy-0/energy3 cpu counter nested',
      'hwmon/amd_energy-0/energy4 cpu counter nested',
      'hwmon/amd_energy-0/energy5 cpu counter nested',
    ]);
    expect(hwmon?.channels()[4]?.read()).toBeCloseTo(37700.119, 9);
    // without RAPL the socket counter is the CPU's energy
    const { channels: alone } = await discoverOn(join(FIXTURES, 'amd-epyc'), [hwmonSource]);
    expect(alone.filter((c) => c.inTotal).map((c) => c.id)).toEqual(['hwmon/amd_energy-0/energy5']);
  });

  it('computes Jetson INA3221 rail power from voltage × current; the input rail is the total', async () => {
    const root = copyHost('jetson-orin');
    const { hwmon } = await discoverPower('jetson-orin', root);
    expect(summary(hwmon?.channels() ?? [])).toEqual([
      'hwmon/ina3221-0/rail1 system sampled total',
      'hwmon/ina3221-0/rail2 gpu sampled nested',
      'hwmon/ina3221-0/rail3 soc sampled nested',
    ]);
    const [vin] = hwmon?.channels() ?? [];
    expect(vin?.read()).toBeCloseTo(5.024 * 1.432, 12);
    const dir = join(root, 'sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon1');
    writeSysfs(join(dir, 'curr1_input'), 2000);
    expect(vin?.read()).toBeCloseTo(5.024 * 2, 12);
  });

  it('reads a real RX 7900 XTX: its NUL-padded name cut, power1_average labelled averaged, the board by its PCI address', async () => {
    const { channels } = await discoverOn(join(FIXTURES, 'desktop-rx7900xtx'), [raplSource, hwmonSource]);
    const gpu = channels.filter((c) => c.domain === 'gpu');
    expect(gpu.map((c) => `${c.id} ${c.method} ${c.reading} ${c.inTotal} gpu=${c.gpu}`)).toEqual(['hwmon/amdgpu-0/power1 averaged power1_average true gpu=0']);
    expect(gpu[0]?.measures).toEqual({ kind: 'device', key: 'gpu:0000:03:00.0' });
    expect(gpu[0]?.read()).toBe(68);
  });

  it('counts a real Arc B580 once: its card counter, the package inside it reported', async () => {
    const { channels } = await discoverOn(join(FIXTURES, 'desktop-arc-b580'), [raplSource, hwmonSource]);
    const gpu = channels.filter((c) => c.domain === 'gpu');
    expect(gpu.map((c) => `${c.id} ${c.method} ${c.reading} ${c.inTotal} gpu=${c.gpu}`)).toEqual(['hwmon/xe-0/energy1 counter energy1_input true gpu=0', 'hwmon/xe-0/energy2 counter energy2_input false gpu=0']);
    expect(gpu.map((c) => c.measures)).toEqual([
      { kind: 'device', key: 'gpu:0000:09:00.0' },
      { kind: 'part', of: 'gpu:0000:09:00.0' },
    ]);
    expect(gpu[0]?.read()).toBeCloseTo(11031.745544, 9);
  });

  it('skips, with one warning, the Arc B580 card counter that Linux 6.16 leaves at 0; the package counts', async () => {
    const log = recordingLogger();
    const { channels } = await discoverOn(join(FIXTURES, 'desktop-arc-b580-linux6.16'), [hwmonSource], { log });
    expect(channels.map((c) => `${c.id} ${c.inTotal}`)).toEqual(['hwmon/xe-0/energy2 true']);
    expect(log.lines.filter((l) => /energy1_input reads 0: it is not running/.test(l.message))).toHaveLength(1);
  });

  it('reads a real Arc A380 on i915 as the device, and a laptop APU’s PPT as the CPU package (instantaneous before average)', async () => {
    const { channels: a380 } = await discoverOn(join(FIXTURES, 'desktop-arc-a380-i915'), [hwmonSource]);
    expect(a380.map((c) => `${c.id} ${c.inTotal} ${JSON.stringify(c.measures)}`)).toEqual(['hwmon/i915-0/energy1 true {"kind":"device","key":"gpu:0000:0b:00.0"}']);
    // the APU's PPT is the package RAPL reads: alone it counts as the CPU (the estimate steps aside) …
    const { channels: apu } = await discoverOn(join(FIXTURES, 'laptop-radeon-780m'), [hwmonSource, estimateSource]);
    expect(apu.map((c) => `${c.id} ${c.domain} ${c.method} ${c.reading} ${c.inTotal} gpu=${c.gpu}`)).toEqual(['hwmon/amdgpu-0/power1 soc sampled power1_input true gpu=undefined']);
    expect(apu[0]?.read()).toBeCloseTo(3.142, 9);
    // … and beside a RAPL package it repeats it
    const root = copyHost('laptop-radeon-780m');
    const desktop = copyHost('desktop-intel');
    cpSync(join(desktop, 'sys', 'class', 'powercap'), join(root, 'sys', 'class', 'powercap'), { recursive: true, verbatimSymlinks: true });
    cpSync(join(desktop, 'sys', 'devices', 'virtual'), join(root, 'sys', 'devices', 'virtual'), { recursive: true, verbatimSymlinks: true });
    const { channels: both } = await discoverOn(root, [raplSource, hwmonSource]);
    expect(both.find((c) => c.id === 'hwmon/amdgpu-0/power1')?.inTotal).toBe(false);
    expect(both.find((c) => c.id === 'rapl/package-0')?.inTotal).toBe(true);
  });

  it('finds a chip’s PCI address from its device link, its path, or its device’s uevent', () => {
    expect(chipPciAddress(join(FIXTURES, 'desktop-rx7900xtx', 'sys', 'class', 'hwmon', 'hwmon8'))).toBe('0000:03:00.0');
    expect(chipPciAddress(join(FIXTURES, 'desktop-intel', 'sys', 'class', 'hwmon', 'hwmon1'))).toBe('0000:03:00.0');
    const root = copyHost('vm-epyc');
    const dir = join(root, 'sys', 'class', 'hwmon', 'hwmon0');
    mkdirSync(join(dir, 'device'), { recursive: true });
    writeFileSync(join(dir, 'device', 'uevent'), 'DRIVER=xe\nPCI_CLASS=30000\nPCI_SLOT_NAME=0000:09:00.0\n');
    expect(chipPciAddress(dir)).toBe('0000:09:00.0');
    expect(chipPciAddress(join(FIXTURES, 'jetson-orin', 'sys', 'class', 'hwmon', 'hwmon1'))).toBeUndefined();
  });

  it('takes an integrated Intel GPU (00:02.0) for a part of the CPU package, not a board', () => {
    const s = { chip: 'xe', chipId: 'xe-0', pci: '0000:00:02.0', sensor: 'energy1', label: 'pkg', method: 'counter' as const, reading: 'energy1_input', files: [], voltages: [] };
    expect(classify(s)).toEqual({ domain: 'gpu', measures: { kind: 'part', of: 'cpu-package:0' } });
    expect(classify({ ...s, pci: '0000:03:00.0', label: 'card' })).toEqual({ domain: 'gpu', measures: { kind: 'device', key: 'gpu:0000:03:00.0' } });
  });

  it('is quietly absent without power sensors', async () => {
    const log = recordingLogger();
    expect(await hwmonSource.discover(contextFor(join(FIXTURES, 'vm-epyc'), { log }))).toBeUndefined();
    expect(log.lines).toEqual([]);
  });
});

describe('estimated CPU power', () => {
  it('follows idle + (TDP − idle) × utilisation', () => {
    expect(estimatedPowerW(0, 65, 10)).toBe(10);
    expect(estimatedPowerW(50, 65, 10)).toBe(37.5);
    expect(estimatedPowerW(100, 65, 10)).toBe(65);
    expect(estimatedPowerW(140, 65, 10)).toBe(65);
  });

  it('runs only where no CPU power sensor exists, labelled estimated, with the configured TDP', async () => {
    const log = recordingLogger();
    const root = copyHost('vm-epyc');
    const { channels: [channel] } = await discoverOn(root, [estimateSource], { log, env: { WATTSCOPE_CPU_TDP_W: '120', WATTSCOPE_CPU_IDLE_W: '20' } });
    expect(channel).toMatchObject({ id: 'estimate/cpu', domain: 'cpu', method: 'estimated', inTotal: true });
    // no tick since discovery read /proc/stat: no utilisation yet, idle power
    expect(channel?.read()).toBe(20);
    // the machine's line: +30 user, +70 idle → 30 % busy → 20 + (120 − 20) × 0.3 = 50 W
    const stat = join(root, 'proc', 'stat');
    writeFileSync(stat, readFileSync(stat, 'utf8').replace(/^cpu {2}4487 0 814 118199 /m, 'cpu  4517 0 814 118269 '));
    expect(channel?.read()).toBeCloseTo(50, 9);
    // no tick since that read: the utilisation stays what it was
    expect(channel?.read()).toBeCloseTo(50, 9);
    expect(log.lines.map((l) => l.message).join()).toMatch(/estimated CPU power/);
    // beside RAPL the estimate is not counted, so the collector leaves it out altogether
    const { sources } = await discoverOn(join(FIXTURES, 'desktop-intel'), [raplSource, estimateSource]);
    expect(sources.map((s) => s.name)).toEqual(['rapl']);
  });
});
