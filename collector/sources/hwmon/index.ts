/**
 * hwmon power and energy sensors of any chip: `energy*_input` (µJ, counter), `power*_input`
 * (µW, instantaneous), `power*_average` (µW, averaged by the chip: the fallback), and
 * INA3221-style rails that expose only voltage and current (`in*_input` mV × `curr*_input` mA,
 * as on NVIDIA Jetson), labelled from `name` and `*_label`. GPU boards (amdgpu, Intel xe and
 * i915) are named by their PCI address and numbered in PCI order. Every file is input: an
 * unusable name, label or value skips its sensor with one warning naming the file. See README.md.
 */
import { readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { PowerDomain, PowerMethod } from '../../../common/model.js';
import { pciAddress, type PowerChannel, type Source, type SourceContext, type SourceFactory } from '../../source.js';
import type { Measurand } from '../../total.js';
import { AttributeReader, listDir, numberProblem, readBounded, readNumber, readSensorText } from '../../sysfs.js';

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
  /** the value it reads, in hwmon's words: `energy1_input`, `power1_input`, `power1_average`, `in1_input×curr1_input` */
  reading: string;
  /** files to read: one for power/energy, two (mV, mA) for rails */
  files: string[];
  /** the chip's voltage labels (`vddgfx`, `vddnb`): an amdgpu with `vddnb` is an APU */
  voltages: readonly string[];
}

/** A file or text this source cannot use: the sensor is skipped (SourceContext.problem). */
export type Problem = (kind: 'text' | 'value', file: string, message: string) => void;

const quiet: Problem = () => undefined;

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Where a chip's attributes live: the hwmon directory itself, or its `device/` (older drivers). */
function attributeDir(dir: string): string {
  return listDir(dir).some((f) => /^(name|power\d+_|energy\d+_|in\d+_|curr\d+_)/.test(f)) ? dir : join(dir, 'device');
}

/**
 * The PCI address of the device a hwmon chip belongs to: its `device` link's target, else the
 * nearest PCI address on its real path (`…/0000:03:00.0/hwmon/hwmon1`), else `PCI_SLOT_NAME`
 * of its device's `uevent`.
 */
export function chipPciAddress(hwmonDir: string): string | undefined {
  try {
    const target = resolve(hwmonDir, readlinkSync(join(hwmonDir, 'device')));
    const fromLink = pciAddress(realpathOr(target).split('/').pop());
    if (fromLink) return fromLink;
  } catch {
    // no device link (a fixture tree, a platform device): the path and uevent tell
  }
  for (let dir = realpathOr(hwmonDir); dir !== dirname(dir); dir = dirname(dir)) {
    const address = pciAddress(dir.split('/').pop());
    if (address) return address;
  }
  try {
    const uevent = readBounded(join(hwmonDir, 'device', 'uevent')).bytes.toString('latin1');
    return pciAddress(/^PCI_SLOT_NAME=(\S+)$/m.exec(uevent)?.[1]);
  } catch {
    return undefined;
  }
}

/** The sensor numbers of files matching `re` (its first group), once each, in order. */
const numbered = (files: ReadonlySet<string>, re: RegExp): string[] =>
  [
    ...new Set(
      [...files]
        .map((f) => re.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => m[1] as string),
    ),
  ].sort((a, b) => Number(a) - Number(b));

/**
 * Every power and energy sensor under `hwmonRoot` (`/sys/class/hwmon`). Per sensor, the best
 * reading it offers: `energyN_input` (counter); `powerN_input` (instantaneous) before
 * `powerN_average` (averaged); rails from voltage × current where a chip has no power files.
 * A chip whose `name` is unusable, or a sensor whose label is, is skipped with `problem`.
 */
export function discoverSensors(hwmonRoot: string, problem: Problem = quiet): HwmonSensor[] {
  const sensors: HwmonSensor[] = [];
  const seen = new Map<string, number>();
  for (const entry of listDir(hwmonRoot)
    .filter((d) => /^hwmon\d+$/.test(d))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))) {
    const hwmonDir = join(hwmonRoot, entry);
    const dir = attributeDir(hwmonDir);
    const files = new Set(listDir(dir));
    const powers = numbered(files, /^power(\d+)_(?:input|average)$/);
    const energies = numbered(files, /^energy(\d+)_input$/);
    const rails = powers.length > 0 ? [] : numbered(files, /^curr(\d+)_input$/).filter((n) => files.has(`in${n}_input`));
    if (powers.length + energies.length + rails.length === 0) continue;

    const nameFile = files.has('name') ? join(dir, 'name') : join(hwmonDir, 'name');
    const name = readSensorText(nameFile);
    if (name?.problem !== undefined) {
      problem('text', nameFile, `hwmon: ${nameFile} cannot name a chip (${name.problem}); its sensors are skipped`);
      continue;
    }
    const chip = name?.text ?? entry;
    const index = seen.get(chip) ?? 0;
    seen.set(chip, index + 1);
    const chipId = `${chip}-${index}`;
    const pci = chipPciAddress(hwmonDir);
    const voltages = numbered(files, /^in(\d+)_label$/).flatMap((n) => readSensorText(join(dir, `in${n}_label`))?.text ?? []);
    /** a label, undefined when there is none; null (and the sensor skipped) when it is unusable */
    const label = (prefix: string): string | undefined | null => {
      const file = join(dir, `${prefix}_label`);
      const t = readSensorText(file);
      if (t?.problem === undefined) return t?.text;
      problem('text', file, `hwmon: ${file} cannot label a sensor (${t.problem}); ${chipId}/${prefix} is skipped`);
      return null;
    };
    const add = (sensor: string, l: string | undefined | null, method: PowerMethod, reading: string, paths: string[]) => {
      if (l !== null) sensors.push({ chip, chipId, pci, sensor, label: l, method, reading, files: paths, voltages });
    };
    for (const n of energies) add(`energy${n}`, label(`energy${n}`), 'counter', `energy${n}_input`, [join(dir, `energy${n}_input`)]);
    for (const n of powers) {
      const file = files.has(`power${n}_input`) ? `power${n}_input` : `power${n}_average`;
      add(`power${n}`, label(`power${n}`), file.endsWith('_input') ? 'sampled' : 'averaged', file, [join(dir, file)]);
    }
    // rails with voltage and current but no power attribute (ina3221): power = V × I
    for (const n of rails) {
      const l = label(`curr${n}`);
      add(`rail${n}`, l === undefined ? label(`in${n}`) : l, 'sampled', `in${n}_input×curr${n}_input`, [join(dir, `in${n}_input`), join(dir, `curr${n}_input`)]);
    }
  }
  return sensors;
}

const INPUT_RAIL = /^(VDD_IN|POM_5V_IN|VIN|SYS_IN|.*total.*)$/i;

/** An Intel GPU at 00:02.0 is the CPU's integrated one: its energy is inside the CPU package (RAPL). */
const INTEGRATED_INTEL = /^[0-9a-f]{4}:00:02\.0$/;

/** Whether the chip is a GPU board of its own (not an APU's or an integrated GPU's package). */
export function isGpuBoard(s: Pick<HwmonSensor, 'chip' | 'pci' | 'voltages'>): boolean {
  if (s.chip === 'amdgpu') return !s.voltages.includes('vddnb');
  if (s.chip === 'xe' || /^i915(_gt\d+)?$/.test(s.chip)) return !(s.pci !== undefined && INTEGRATED_INTEL.test(s.pci));
  return false;
}

/**
 * Domain, and what a sensor measures for the host-total policy (../../total.ts):
 * - amdgpu on a board of its own: the GPU board at its PCI address; on an APU (a chip with a
 *   `vddnb` rail: Phoenix, Strix Point, Van Gogh) its PPT is the whole SoC package, the same
 *   thing RAPL's package reads (RAPL's counter is preferred);
 * - Intel xe: `card` is the board at its PCI address, `pkg` the GPU package inside it; i915:
 *   `i915` is the device, `i915_gtN` a tile inside it; an integrated Intel GPU (00:02.0) sits
 *   inside the CPU package;
 * - amd_energy / zenpower: a socket's package (RAPL is preferred), cores and other rails inside it;
 * - INA rails (Jetson): the input rail is the whole module; the other rails sit inside it;
 * - power_meter (ACPI) and unknown chips: scope unknown, reported, never added.
 */
export function classify(s: HwmonSensor): { domain: PowerDomain; measures: Measurand } {
  const label = s.label ?? '';
  const board = s.pci ? `gpu:${s.pci}` : `gpu:hwmon-${s.chipId}`;
  if (s.chip === 'amdgpu') {
    if (!isGpuBoard(s)) return { domain: 'soc', measures: { kind: 'device', key: 'cpu-package:0', cpu: true } };
    return { domain: 'gpu', measures: { kind: 'device', key: board } };
  }
  if (s.chip === 'xe' || /^i915(_gt\d+)?$/.test(s.chip)) {
    if (!isGpuBoard(s)) return { domain: 'gpu', measures: { kind: 'part', of: 'cpu-package:0' } };
    const whole = s.chip === 'xe' ? /^card$/i.test(label) : s.chip === 'i915';
    return { domain: 'gpu', measures: whole ? { kind: 'device', key: board } : { kind: 'part', of: board } };
  }
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

const measuredKey = (m: Measurand): string | undefined => (m.kind === 'device' || m.kind === 'whole' ? `${m.kind}:${m.key}` : undefined);

class HwmonChannel implements PowerChannel {
  private readonly readers: AttributeReader[];
  readonly rank = RANK;
  inTotal = false;
  readonly path: string;
  constructor(
    readonly id: string,
    readonly domain: PowerDomain,
    readonly method: PowerMethod,
    readonly reading: string,
    readonly measures: Measurand,
    files: string[],
    readonly gpu: number | undefined,
  ) {
    this.readers = files.map((f) => new AttributeReader(f));
    this.path = files.join(' × ');
  }
  /**
   * Watts or joules; NaN when a file holds no plain number (the agent counts and reports it); a
   * file that went away (driver unloaded) throws, and the agent says so once.
   */
  read(): number | undefined {
    if (this.readers.length === 2) {
      const mv = (this.readers[0] as AttributeReader).readNumber();
      const ma = (this.readers[1] as AttributeReader).readNumber();
      if (mv === undefined || ma === undefined) return undefined;
      const w = (mv * ma) / 1e6;
      // a shunt's offset reads a few mA below zero on an idle rail: that is no power, not a fault
      return w < 0 && w > -1 ? 0 : w;
    }
    const v = (this.readers[0] as AttributeReader).readNumber();
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

/**
 * The sensors worth reading, with what each measures: a sensor whose files hold no usable number
 * is skipped with `problem`, and so is an energy counter that reads 0 (not running: the Arc
 * B580's card counter on Linux 6.16); a power reading of something the same chip's energy
 * counter measures is not read at all (the counter is preferred, and cheaper to keep).
 */
export function usableSensors(sensors: readonly HwmonSensor[], problem: Problem = quiet): Array<HwmonSensor & { domain: PowerDomain; measures: Measurand; gpu: number | undefined }> {
  const usable = sensors.filter((s) => {
    for (const f of s.files) {
      const why = numberProblem(f);
      if (why !== undefined) {
        problem('value', f, `hwmon: ${f} ${why}; ${sensorId(s)} is skipped`);
        return false;
      }
    }
    if (s.method === 'counter' && readNumber(s.files[0] as string) === 0) {
      problem('value', s.files[0] as string, `hwmon: the energy counter ${s.files[0]} reads 0: it is not running (a driver that does not fill it), so ${sensorId(s)} is skipped; what the chip's other readings measure is used instead`);
      return false;
    }
    return true;
  });
  const classified = usable.map((s) => ({ ...s, ...classify(s) }));
  const countedByChip = new Set(classified.filter((s) => s.method === 'counter').map((s) => `${s.chipId}\u0000${measuredKey(s.measures)}`));
  const kept = classified.filter((s) => s.method === 'counter' || measuredKey(s.measures) === undefined || !countedByChip.has(`${s.chipId}\u0000${measuredKey(s.measures)}`));
  // GPU boards numbered in PCI order, as ROCm (HIP_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES) and
  // Level Zero number them; every channel of a board carries its number
  const boards = [...new Set(kept.filter((s) => s.domain === 'gpu' && isGpuBoard(s)).map((s) => s.pci ?? `~${s.chipId}`))].sort();
  return kept.map((s) => ({ ...s, gpu: s.domain === 'gpu' && isGpuBoard(s) ? boards.indexOf(s.pci ?? `~${s.chipId}`) : undefined }));
}

export const hwmonSource: SourceFactory = {
  name: 'hwmon',
  async discover(ctx: SourceContext) {
    const problem: Problem = (kind, file, message) => ctx.problem(kind, file, message, { path: file });
    const sensors = usableSensors(discoverSensors(join(ctx.sysfs, 'class', 'hwmon'), problem), problem);
    const channels = sensors.map((s) => new HwmonChannel(sensorId(s), s.domain, s.method, s.reading, s.measures, s.files, s.gpu));
    return channels.length > 0 ? new HwmonSource(channels) : undefined;
  },
};
