/**
 * RAPL energy counters through the powercap framework: every zone and subzone under
 * /sys/class/powercap (`intel-rapl:*`, `intel-rapl-mmio:*`; AMD CPUs appear there as
 * `intel-rapl` too), named from their `name` files. The kernel names zones `"%s:%x"`
 * (drivers/powercap/powercap_sys.c): zone 10 is `intel-rapl:a`. Counters wrap at
 * `max_energy_range_uj`; the agent reads them at each report and at least twice per wrap period.
 * Every powercap directory that is not used is logged once, with the reason. Which zones add up
 * to the host's energy is the host-total policy's call (../../total.ts). See README.md.
 */
import { join } from 'node:path';
import type { PowerDomain } from '../../../common/model.js';
import { SourceError, type PowerChannel, type Source, type SourceFactory } from '../../source.js';
import type { Measurand } from '../../total.js';
import { AttributeReader, errnoCode, listDir, readNumber, readSensorText, readText, readTextOr } from '../../sysfs.js';

export interface RaplZone {
  /** directory name, e.g. `intel-rapl:0:1` */
  dir: string;
  mmio: boolean;
  /** package/zone index and, for subzones, the subzone index */
  zone: number;
  sub: number | undefined;
  /** contents of `name`: package-0, core, uncore, dram, psys */
  name: string;
}

const ZONE_DIR = /^intel-rapl(-mmio)?:([0-9a-f]+)(?::([0-9a-f]+))?$/;

/** A zone directory (`intel-rapl:a:0`, indices in hex as the kernel writes them), or undefined. */
export function parseZoneDir(dir: string, name: string): RaplZone | undefined {
  const m = ZONE_DIR.exec(dir);
  if (!m) return undefined;
  return { dir, mmio: m[1] !== undefined, zone: parseInt(m[2] as string, 16), sub: m[3] === undefined ? undefined : parseInt(m[3], 16), name };
}

/** `package-P-die-D`: the kernel's name for a package zone per die. */
const DIE_ZONE = /^package-(\d+)-die-(\d+)$/;

export function zoneDomain(name: string): PowerDomain {
  if (name.startsWith('package') || name === 'core') return 'cpu';
  if (name === 'dram') return 'dram';
  if (name === 'uncore') return 'soc';
  if (name === 'psys') return 'system';
  return 'other';
}

/** `rapl/package-0`, `rapl/dram-0`, `rapl/core-1`, `rapl/psys`, `rapl-mmio/package-0`. */
export function zoneId(z: RaplZone): string {
  const prefix = z.mmio ? 'rapl-mmio' : 'rapl';
  const indexed = /-\d+$/.test(z.name) || z.name === 'psys' ? z.name : `${z.name}-${z.zone}`;
  return `${prefix}/${indexed}`;
}

/**
 * What a zone measures, for the host-total policy (../../total.ts): a package or DRAM of one
 * socket (its MMIO twin measures the same), core and uncore inside their package, psys the
 * whole platform. On AMD (and Hygon) the package counter is per socket: the `package-P-die-D`
 * zones of Linux 6.10 repeat it per CCD, so they measure one package; on Intel each die of a
 * multi-die package has a counter of its own.
 */
export function zoneMeasurand(z: RaplZone, all: readonly RaplZone[], vendor?: string): Measurand {
  const packageKey = (name: string): string | undefined => {
    const die = DIE_ZONE.exec(name);
    if (die) return amdDieViews(vendor) ? `cpu-package:${die[1]}` : `cpu-package:${die[1]}:die-${die[2]}`;
    const pkg = /^package-(\d+)$/.exec(name);
    return pkg ? `cpu-package:${pkg[1]}` : undefined;
  };
  if (z.name === 'psys') return { kind: 'whole', key: 'platform' };
  const own = packageKey(z.name);
  if (own) return { kind: 'device', key: own, cpu: true };
  // a subzone belongs to the package zone of the same index
  const parent = all.find((o) => o.mmio === z.mmio && o.zone === z.zone && o.sub === undefined);
  const parentKey = parent ? packageKey(parent.name) : undefined;
  if (z.name === 'dram') return { kind: 'device', key: `dram:${parentKey?.replace(/^cpu-package:/, '') ?? z.zone}` };
  if ((z.name === 'core' || z.name === 'uncore') && parentKey) return { kind: 'part', of: parentKey };
  return { kind: 'unknown' };
}

/** AMD and Hygon RAPL is package-scoped: `package-P-die-D` zones there repeat one counter. */
function amdDieViews(vendor: string | undefined): boolean {
  return vendor === 'AuthenticAMD' || vendor === 'HygonGenuine';
}

export function cpuVendor(cpuinfo: string | undefined): string | undefined {
  return cpuinfo === undefined ? undefined : /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
}

export function permissionHint(path: string): string {
  return (
    `cannot read ${path} (permission denied). Since Linux 5.10 (CVE-2020-8694) RAPL energy counters are readable by root only. ` +
    'Fix: run the collector as root, or give its user read access with a udev rule, e.g. /etc/udev/rules.d/99-wattscope-rapl.rules: ' +
    'SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chgrp wattscope /sys%p/energy_uj", RUN+="/bin/chmod g+r /sys%p/energy_uj" ' +
    '(then `udevadm trigger` and add the user to group wattscope). This zone is skipped.'
  );
}

class RaplChannel implements PowerChannel {
  readonly method = 'counter' as const;
  readonly reading = 'energy_uj';
  inTotal = false;
  private readonly file: AttributeReader;
  constructor(
    readonly id: string,
    readonly domain: PowerDomain,
    readonly measures: Measurand,
    /** the MSR zone before its MMIO twin */
    readonly rank: number,
    readonly wrapJ: number | undefined,
    readonly path: string,
  ) {
    this.file = new AttributeReader(path);
  }
  /** Joules; NaN for a value that is not a number (the agent counts it); another failure throws, and the agent says so once. */
  read(): number | undefined {
    try {
      const uj = this.file.readNumber();
      return uj === undefined ? undefined : uj / 1e6;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EACCES' || code === 'EPERM') throw new SourceError(permissionHint(this.path));
      throw e;
    }
  }
  close(): void {
    this.file.close();
  }
}

export interface SkippedDir {
  dir: string;
  why: string;
  /** the file whose text is unusable, where that is why (a warning, counted; the rest are info) */
  unusable?: string;
}

/** The RAPL zones under `powercap`, and every other directory there with why it is not one. */
export function discoverZones(powercap: string): { zones: RaplZone[]; skipped: SkippedDir[] } {
  const zones: RaplZone[] = [];
  const skipped: SkippedDir[] = [];
  for (const dir of listDir(powercap)) {
    if (!ZONE_DIR.test(dir)) {
      const controlType = !dir.includes(':');
      skipped.push({ dir, why: controlType ? 'a powercap control type, not a zone' : 'not a RAPL zone (intel-rapl[-mmio]:<hex>[:<hex>])' });
      continue;
    }
    const name = readSensorText(join(powercap, dir, 'name'));
    const zone = name?.text === undefined ? undefined : parseZoneDir(dir, name.text);
    if (zone) zones.push(zone);
    else if (name?.problem !== undefined) skipped.push({ dir, why: `its name file cannot name a zone (${name.problem})`, unusable: join(powercap, dir, 'name') });
    else skipped.push({ dir, why: 'its name file is missing' });
  }
  return { zones, skipped };
}

class RaplSource implements Source {
  readonly name = 'rapl';
  constructor(private readonly list: RaplChannel[]) {}
  channels() {
    return this.list;
  }
  close() {
    for (const c of this.list) c.close();
  }
}

export const raplSource: SourceFactory = {
  name: 'rapl',
  async discover(ctx) {
    const powercap = join(ctx.sysfs, 'class', 'powercap');
    const { zones, skipped } = discoverZones(powercap);
    const skip = (dir: string, why: string) => ctx.log.once(`powercap-skip:${dir}`, 'info', `powercap: ${dir} skipped: ${why}`, { path: join(powercap, dir) });
    for (const s of skipped) {
      if (s.unusable) ctx.problem('text', s.unusable, `powercap: ${s.dir} skipped: ${s.why}`, { path: s.unusable });
      else skip(s.dir, s.why);
    }
    const vendor = cpuVendor(readTextOr(join(ctx.procfs, 'cpuinfo')));
    const channels: RaplChannel[] = [];
    for (const z of zones) {
      const path = join(powercap, z.dir, 'energy_uj');
      try {
        readText(path);
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'EACCES' || code === 'EPERM') ctx.log.once(`eacces:${path}`, 'error', permissionHint(path));
        else skip(z.dir, `energy_uj cannot be read (${code ?? String(e)})`);
        continue;
      }
      const maxUj = readNumber(join(powercap, z.dir, 'max_energy_range_uj'));
      if (DIE_ZONE.test(z.name) && amdDieViews(vendor)) {
        ctx.log.once('rapl-amd-dies', 'warn', 'RAPL shows the package counter once per CCD (package-P-die-D zones on an AMD CPU, Linux 6.10): they repeat one counter per socket, so one per package is counted; update the kernel (fixed in 6.11) to see one zone per package');
      }
      channels.push(new RaplChannel(zoneId(z), zoneDomain(z.name), zoneMeasurand(z, zones, vendor), z.mmio ? 1 : 0, maxUj === undefined ? undefined : maxUj / 1e6, path));
    }
    return channels.length > 0 ? new RaplSource(channels) : undefined;
  },
};
