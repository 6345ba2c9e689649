/**
 * hwmon power and energy sensors of any chip: `power*_input` / `power*_average` (µW, sampled),
 * `energy*_input` (µJ, counter), and INA3221-style rails that expose only voltage and current
 * (`in*_input` mV × `curr*_input` mA, as on NVIDIA Jetson), labelled from `name` and `*_label`.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { PowerDomain, PowerMethod } from '../../../common/model.js';
import { pciAddress, type PowerChannel, type Source, type SourceFactory } from '../../source.js';
import type { Measurand } from '../../total.js';
import { AttributeReader, listDir, readNumber, readTrimmed } from '../../sysfs.js';

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export interface HwmonSensor {
  chip: string;
  /** the PCI address of the device the chip belongs to (a GPU board), when it is a PCI device */
  pci: string | undefined;
  /** `amdgpu-0`: chip name and its index among chips of that name */
  chipId: string;
  /** `power1`, `energy2`, `rail1` */
  sensor: string;
  label: string | undefined;
  method: PowerMethod;
  /** files to read: one for power/energy, two (mV, mA) for rails */
  files: string[];
}

/** Where a chip's attributes live: the hwmon directory itself, or its `device/` (older drivers). */
function attributeDir(dir: string): string {
  return listDir(dir).some((f) => /^(name|power\d+_|energy\d+_|in\d+_|curr\d+_)/.test(f)) ? dir : join(dir, 'device');
}

export function discoverSensors(hwmonRoot: string): HwmonSensor[] {
  const sensors: HwmonSensor[] = [];
  const seen = new Map<string, number>();
  for (const entry of listDir(hwmonRoot).filter((d) => /^hwmon\d+$/.test(d)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))) {
    const dir = attributeDir(join(hwmonRoot, entry));
    const chip = readTrimmed(join(dir, 'name')) ?? readTrimmed(join(hwmonRoot, entry, 'name')) ?? entry;
    const index = seen.get(chip) ?? 0;
    seen.set(chip, index + 1);
    const chipId = `${chip}-${index}`;
    // …/devices/pci0000:00/…/0000:03:00.0/hwmon/hwmon1: the chip's device is a PCI board
    const pci = pciAddress(basename(dirname(realpathOr(join(hwmonRoot, entry)))));
    const files = new Set(listDir(dir));
    const label = (prefix: string) => readTrimmed(join(dir, `${prefix}_label`));
    const numbered = (re: RegExp) => [...files].map((f) => re.exec(f)).filter((m): m is RegExpExecArray => m !== null).map((m) => m[1] as string);
    const powers = new Set(numbered(/^power(\d+)_(?:input|average)$/));
    for (const n of [...powers].sort((a, b) => Number(a) - Number(b))) {
      const file = files.has(`power${n}_input`) ? `power${n}_input` : `power${n}_average`;
      sensors.push({ chip, chipId, pci, sensor: `power${n}`, label: label(`power${n}`), method: 'sampled', files: [join(dir, file)] });
    }
    for (const n of numbered(/^energy(\d+)_input$/).sort((a, b) => Number(a) - Number(b))) {
      sensors.push({ chip, chipId, pci, sensor: `energy${n}`, label: label(`energy${n}`), method: 'counter', files: [join(dir, `energy${n}_input`)] });
    }
    if (powers.size === 0) {
      // rails with voltage and current but no power attribute (ina3221): power = V × I
      for (const n of numbered(/^curr(\d+)_input$/).sort((a, b) => Number(a) - Number(b))) {
        if (!files.has(`in${n}_input`)) continue;
        sensors.push({ chip, chipId, pci, sensor: `rail${n}`, label: label(`curr${n}`) ?? label(`in${n}`), method: 'sampled', files: [join(dir, `in${n}_input`), join(dir, `curr${n}_input`)] });
      }
    }
  }
  return sensors;
}

const INPUT_RAIL = /^(VDD_IN|POM_5V_IN|VIN|SYS_IN|.*total.*)$/i;

/**
 * Domain, and what a sensor measures for the host-total policy (../../total.ts):
 * - amdgpu: the GPU board at its PCI address;
 * - amd_energy / zenpower: a socket's package (the same thing RAPL reads: RAPL is preferred),
 *   cores and other rails inside it;
 * - INA rails (Jetson): the input rail is the whole module; the other rails sit inside it;
 * - power_meter (ACPI) and unknown chips: scope unknown, reported, never added.
 */
export function classify(s: HwmonSensor): { domain: PowerDomain; measures: Measurand } {
  const label = s.label ?? '';
  if (s.chip === 'amdgpu') return { domain: 'gpu', measures: { kind: 'device', key: s.pci ? `gpu:${s.pci}` : `gpu:hwmon-${s.chipId}` } };
  if (s.chip === 'amd_energy' || s.chip === 'zenpower') {
    const socket = /(\d+)/.exec(label)?.[1] ?? '0';
    if (/socket|package|pkg/i.test(label)) return { domain: 'cpu', measures: { kind: 'device', key: `cpu-package:${Number(socket)}`, cpu: true } };
    return { domain: 'cpu', measures: { kind: 'part', of: 'cpu-package:0' } };
  }
  if (/^ina\d+/.test(s.chip)) {
    const module = `module:${s.chipId}`;
    if (INPUT_RAIL.test(label)) return { domain: 'system', measures: { kind: 'whole', key: module } };
    const domain: PowerDomain = /GPU/i.test(label) ? 'gpu' : /CPU/i.test(label) ? 'cpu' : /SOC|SYS|CV/i.test(label) ? 'soc' : /DDR|DRAM|MEM/i.test(label) ? 'dram' : 'other';
    return { domain, measures: { kind: 'part', of: module } };
  }
  if (s.chip === 'power_meter') return { domain: 'system', measures: { kind: 'unknown' } };
  return { domain: 'other', measures: { kind: 'unknown' } };
}

/** Among readings of the same thing by the same method: after RAPL and the GPU libraries. */
const RANK = 3;

export function sensorId(s: HwmonSensor): string {
  return `hwmon/${s.chipId}/${s.sensor}`;
}

class HwmonChannel implements PowerChannel {
  private readonly readers: AttributeReader[];
  readonly rank = RANK;
  inTotal = false;
  constructor(
    readonly id: string,
    readonly domain: PowerDomain,
    readonly method: PowerMethod,
    readonly measures: Measurand,
    files: string[],
  ) {
    this.readers = files.map((f) => new AttributeReader(f));
  }
  private value(i: number): number | undefined {
    try {
      return this.readers[i]?.readNumber();
    } catch {
      return undefined; // a sensor that went away (driver unloaded): no reading now
    }
  }
  read(): number | undefined {
    if (this.readers.length === 2) {
      const mv = this.value(0);
      const ma = this.value(1);
      return mv === undefined || ma === undefined ? undefined : (mv * ma) / 1e6;
    }
    const v = this.value(0);
    // µW for power, µJ for energy: both scale by 1e-6
    return v === undefined ? undefined : v / 1e6;
  }
  close(): void {
    for (const r of this.readers) r.close();
  }
}

class HwmonSource implements Source {
  readonly name = 'hwmon';
  constructor(private readonly list: HwmonChannel[]) {}
  channels() {
    return this.list;
  }
  close() {
    for (const c of this.list) c.close();
  }
}

export const hwmonSource: SourceFactory = {
  name: 'hwmon',
  async discover(ctx) {
    const sensors = discoverSensors(join(ctx.sysfs, 'class', 'hwmon'));
    const channels = sensors
      .filter((s) => s.files.every((f) => readNumber(f) !== undefined))
      .map((s) => {
        const { domain, measures } = classify(s);
        return new HwmonChannel(sensorId(s), domain, s.method, measures, s.files);
      });
    return channels.length > 0 ? new HwmonSource(channels) : undefined;
  },
};
