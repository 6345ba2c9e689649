/**
 * The host-total policy (collector/total.ts) as a table of cases: the channels a machine's
 * sources offer (what each says it measures, never what another reads), and which of them add up
 * to the host's energy.
 */
import { describe, expect, it } from 'vitest';
import { decideTotals, type ChannelFacts, type Measurand } from '../../collector/total.js';
import type { PowerMethod } from '../../common/model.js';

const ch = (id: string, method: PowerMethod, measures: Measurand, rank = 0): ChannelFacts => ({ id, method, measures, rank });
const pkg = (socket: number): Measurand => ({ kind: 'device', key: `cpu-package:${socket}`, cpu: true });
const dram = (socket: number): Measurand => ({ kind: 'device', key: `dram:${socket}` });
const gpu = (pci: string): Measurand => ({ kind: 'device', key: `gpu:${pci}` });
const partOf = (of: string): Measurand => ({ kind: 'part', of });
const whole = (key: string): Measurand => ({ kind: 'whole', key });
const ESTIMATE: Measurand = { kind: 'cpu-estimate' };
const UNKNOWN: Measurand = { kind: 'unknown' };

interface Case {
  name: string;
  channels: ChannelFacts[];
  /** the ids in the total */
  counted: string[];
  /** the ids whose reading is the one of record for what they measure (gpu points), where it matters */
  primary?: string[];
}

const CASES: Case[] = [
  {
    name: 'RAPL core and uncore sit inside their package',
    channels: [ch('rapl/package-0', 'counter', pkg(0)), ch('rapl/core-0', 'counter', partOf('cpu-package:0')), ch('rapl/uncore-0', 'counter', partOf('cpu-package:0'))],
    counted: ['rapl/package-0'],
  },
  {
    name: 'psys covers the platform: beside measured packages and DRAM it is reported, not added',
    channels: [ch('rapl/package-0', 'counter', pkg(0)), ch('rapl/dram-0', 'counter', dram(0)), ch('rapl/psys', 'counter', whole('platform'))],
    counted: ['rapl/package-0', 'rapl/dram-0'],
  },
  {
    name: 'psys alone (packages unreadable) is the whole machine, and then nothing inside it adds',
    channels: [ch('rapl/psys', 'counter', whole('platform')), ch('rapl/uncore-0', 'counter', partOf('cpu-package:0')), ch('hwmon/amdgpu-0/power1', 'sampled', gpu('0000:03:00.0'), 3)],
    counted: ['rapl/psys'],
  },
  {
    name: 'the MMIO twin repeats its RAPL zone',
    channels: [ch('rapl-mmio/package-0', 'counter', pkg(0), 1), ch('rapl/package-0', 'counter', pkg(0), 0)],
    counted: ['rapl/package-0'],
  },
  {
    name: 'amd_energy repeats RAPL: RAPL first; its cores inside the package',
    channels: [ch('rapl/package-0', 'counter', pkg(0)), ch('hwmon/amd_energy-0/energy5', 'counter', pkg(0), 3), ch('hwmon/amd_energy-0/energy1', 'counter', partOf('cpu-package:0'), 3)],
    counted: ['rapl/package-0'],
  },
  {
    name: 'amd_energy without RAPL is the package',
    channels: [ch('hwmon/amd_energy-0/energy5', 'counter', pkg(0), 3), ch('hwmon/amd_energy-0/energy1', 'counter', partOf('cpu-package:0'), 3)],
    counted: ['hwmon/amd_energy-0/energy5'],
  },
  {
    name: 'AMD per-CCD package views of Linux 6.10 name one package per socket: one counts',
    channels: [0, 1, 2, 3].map((d) => ch(`rapl/package-0-die-${d}`, 'counter', pkg(0))),
    counted: ['rapl/package-0-die-0'],
  },
  {
    name: 'Intel dies with counters of their own are devices of their own',
    channels: [0, 1].map((d) => ch(`rapl/package-0-die-${d}`, 'counter', { kind: 'device', key: `cpu-package:0:die-${d}`, cpu: true })),
    counted: ['rapl/package-0-die-0', 'rapl/package-0-die-1'],
  },
  {
    name: 'hwmon and NVML on the same board: NVML’s counter, not hwmon’s sampled reading',
    channels: [ch('hwmon/amdgpu-0/power1', 'sampled', gpu('0000:18:00.0'), 3), ch('nvml/0', 'counter', gpu('0000:18:00.0'), 0)],
    counted: ['nvml/0'],
    primary: ['nvml/0'],
  },
  {
    name: 'DCGM and NVML on the same boards: NVML first among counters; one board each',
    channels: [ch('nvml/0', 'counter', gpu('0000:18:00.0'), 0), ch('nvml/1', 'counter', gpu('0000:2a:00.0'), 0), ch('dcgm/0', 'counter', gpu('0000:18:00.0'), 1), ch('dcgm/1', 'counter', gpu('0000:2a:00.0'), 1)],
    counted: ['nvml/0', 'nvml/1'],
    primary: ['nvml/0', 'nvml/1'],
  },
  {
    name: 'a counter before a sampled reading whatever the source: DCGM’s counter over NVML sampling a pre-Volta board',
    channels: [ch('nvml/0', 'sampled', gpu('0000:18:00.0'), 0), ch('dcgm/0', 'counter', gpu('0000:18:00.0'), 1)],
    counted: ['dcgm/0'],
    primary: ['dcgm/0'],
  },
  {
    name: 'DCGM and nvidia-smi on the same boards: DCGM’s counter',
    channels: [ch('nvidia-smi/0', 'sampled', gpu('0000:18:00.0'), 2), ch('dcgm/0', 'counter', gpu('0000:18:00.0'), 1)],
    counted: ['dcgm/0'],
  },
  {
    name: 'different boards all count',
    channels: [ch('nvml/0', 'counter', gpu('0000:18:00.0')), ch('hwmon/amdgpu-0/power1', 'sampled', gpu('0000:03:00.0'), 3)],
    counted: ['nvml/0', 'hwmon/amdgpu-0/power1'],
  },
  {
    name: 'the CPU estimate only where no sensor measures the CPU',
    channels: [ch('estimate/cpu', 'estimated', ESTIMATE), ch('nvml/0', 'counter', gpu('0000:18:00.0'))],
    counted: ['estimate/cpu', 'nvml/0'],
  },
  {
    name: 'the CPU estimate steps aside for RAPL',
    channels: [ch('estimate/cpu', 'estimated', ESTIMATE), ch('rapl/package-0', 'counter', pkg(0))],
    counted: ['rapl/package-0'],
  },
  {
    name: 'the CPU estimate steps aside for a whole-machine reading',
    channels: [ch('estimate/cpu', 'estimated', ESTIMATE), ch('battery/BAT0', 'sampled', whole('battery'))],
    counted: ['battery/BAT0'],
  },
  {
    name: 'a Jetson’s input rail is the module; its other rails sit inside',
    channels: [ch('hwmon/ina3221-0/rail1', 'sampled', whole('module:ina3221-0'), 3), ch('hwmon/ina3221-0/rail2', 'sampled', partOf('module:ina3221-0'), 3), ch('hwmon/ina3221-0/rail3', 'sampled', partOf('module:ina3221-0'), 3)],
    counted: ['hwmon/ina3221-0/rail1'],
  },
  {
    name: 'rails without their input rail are what there is: they count',
    channels: [ch('hwmon/ina3221-0/rail2', 'sampled', partOf('module:ina3221-0'), 3), ch('hwmon/ina3221-0/rail3', 'sampled', partOf('module:ina3221-0'), 3)],
    counted: ['hwmon/ina3221-0/rail2', 'hwmon/ina3221-0/rail3'],
  },
  {
    name: 'a laptop’s battery while discharging is the whole machine, but never on top of RAPL’s package',
    channels: [ch('rapl/package-0', 'counter', pkg(0)), ch('rapl/psys', 'counter', whole('platform')), ch('battery/BAT0', 'sampled', whole('battery'))],
    counted: ['rapl/package-0'],
  },
  {
    name: 'of two whole-machine readings the better counts alone: psys’s counter over the battery’s sampled power',
    channels: [ch('rapl/psys', 'counter', whole('platform')), ch('battery/BAT0', 'sampled', whole('battery'))],
    counted: ['rapl/psys'],
  },
  {
    name: 'a sensor of unknown scope (ACPI power_meter) is never added',
    channels: [ch('hwmon/power_meter-0/power1', 'sampled', UNKNOWN, 3), ch('estimate/cpu', 'estimated', ESTIMATE)],
    counted: ['estimate/cpu'],
  },
  {
    name: 'a two-socket server: both packages and both DRAMs',
    channels: [ch('rapl/package-0', 'counter', pkg(0)), ch('rapl/dram-0', 'counter', dram(0)), ch('rapl/package-1', 'counter', pkg(1)), ch('rapl/dram-1', 'counter', dram(1))],
    counted: ['rapl/package-0', 'rapl/dram-0', 'rapl/package-1', 'rapl/dram-1'],
  },
  {
    name: 'one board read instantaneously and averaged: the instantaneous power counts, whatever the sources’ ranks',
    channels: [ch('dcgm/0', 'averaged', gpu('0000:18:00.0'), 1), ch('nvidia-smi/0', 'sampled', gpu('0000:18:00.0'), 2)],
    counted: ['nvidia-smi/0'],
    primary: ['nvidia-smi/0'],
  },
  {
    name: 'an Intel Arc card counts once: the package inside it is reported; alone (a card counter not running) the package counts',
    channels: [ch('hwmon/xe-0/energy1', 'counter', gpu('0000:09:00.0'), 3), ch('hwmon/xe-0/energy2', 'counter', partOf('gpu:0000:09:00.0'), 3), ch('rapl/package-0', 'counter', pkg(0))],
    counted: ['hwmon/xe-0/energy1', 'rapl/package-0'],
  },
  {
    name: 'an APU’s PPT (amdgpu on a Ryzen laptop) is the CPU package: RAPL’s counter for it is preferred, and the estimate steps aside',
    channels: [ch('hwmon/amdgpu-0/power1', 'sampled', pkg(0), 3), ch('rapl/package-0', 'counter', pkg(0)), ch('estimate/cpu', 'estimated', ESTIMATE)],
    counted: ['rapl/package-0'],
  },
  { name: 'nothing to count', channels: [], counted: [] },
];

describe('the host-total policy', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const decisions = decideTotals(c.channels);
      expect(c.channels.filter((x) => decisions.get(x.id)?.inTotal).map((x) => x.id)).toEqual(c.counted);
      if (c.primary) expect(c.channels.filter((x) => decisions.get(x.id)?.primary && x.measures.kind === 'device' && x.measures.key.startsWith('gpu:')).map((x) => x.id)).toEqual(c.primary);
      // every channel gets a decision and a reason a person can read
      for (const x of c.channels) expect(decisions.get(x.id)?.reason, x.id).toMatch(/\w{3,}/);
    });
  }

  it('does not depend on the order the sources were discovered in', () => {
    for (const c of CASES) {
      const reversed = decideTotals([...c.channels].reverse());
      expect(c.channels.filter((x) => reversed.get(x.id)?.inTotal).map((x) => x.id), c.name).toEqual(c.counted);
    }
  });

  it('says why a channel is left out', () => {
    const d = decideTotals([ch('rapl/package-0', 'counter', pkg(0)), ch('rapl-mmio/package-0', 'counter', pkg(0), 1), ch('rapl/core-0', 'counter', partOf('cpu-package:0')), ch('rapl/psys', 'counter', whole('platform'))]);
    expect(d.get('rapl-mmio/package-0')?.reason).toBe('repeats rapl/package-0');
    expect(d.get('rapl/core-0')?.reason).toBe('inside cpu-package:0');
    expect(d.get('rapl/psys')?.reason).toMatch(/CPU packages are measured/);
  });
});
