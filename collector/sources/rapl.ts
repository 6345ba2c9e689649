/**
 * RAPL energy counters through the powercap framework: every zone and subzone under
 * /sys/class/powercap (`intel-rapl:*`, `intel-rapl-mmio:*`; AMD CPUs appear there as
 * `intel-rapl` too), named from their `name` files. Counters wrap at `max_energy_range_uj`;
 * the agent reads them at the sample rate, far inside one wrap period.
 */
import { join } from 'node:path';
import type { PowerDomain } from '../../common/model.js';
import type { Logger } from '../../common/log.js';
import { SourceError, type PowerChannel, type Source, type SourceFactory } from '../source.js';
import { AttributeReader, errnoCode, listDir, readNumber, readText, readTrimmed } from '../sysfs.js';

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

const ZONE_DIR = /^intel-rapl(-mmio)?:(\d+)(?::(\d+))?$/;

export function parseZoneDir(dir: string, name: string): RaplZone | undefined {
  const m = ZONE_DIR.exec(dir);
  if (!m) return undefined;
  return { dir, mmio: m[1] !== undefined, zone: Number(m[2]), sub: m[3] === undefined ? undefined : Number(m[3]), name };
}

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
 * Which zones add up to the host's energy without overlap (docs/DATA-MODEL.md):
 * package and DRAM count; core and uncore sit inside their package; psys covers package and
 * DRAM, so it counts only where no package zone exists; an MMIO zone repeats the MSR zone of
 * the same name.
 */
export function zoneInTotal(z: RaplZone, all: readonly RaplZone[]): boolean {
  if (z.name === 'core' || z.name === 'uncore') return false;
  if (z.mmio && all.some((o) => !o.mmio && zoneId(o) === zoneId(z).replace('rapl-mmio/', 'rapl/'))) return false;
  if (z.name === 'psys') return !all.some((o) => o.name.startsWith('package'));
  return true;
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
  private readonly file: AttributeReader;
  constructor(
    readonly id: string,
    readonly domain: PowerDomain,
    readonly inTotal: boolean,
    readonly wrapJ: number | undefined,
    private readonly path: string,
    private readonly log: Logger,
  ) {
    this.file = new AttributeReader(path);
  }
  read(): number | undefined {
    try {
      const uj = this.file.readNumber();
      return uj === undefined ? undefined : uj / 1e6;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EACCES' || code === 'EPERM') throw new SourceError(permissionHint(this.path));
      this.log.once(`read:${this.path}`, 'warn', `RAPL zone ${this.id} cannot be read; skipping its readings until it can`, { path: this.path, error: e });
      return undefined;
    }
  }
  close(): void {
    this.file.close();
  }
}

export function discoverZones(powercap: string): RaplZone[] {
  const zones: RaplZone[] = [];
  for (const dir of listDir(powercap)) {
    const name = readTrimmed(join(powercap, dir, 'name'));
    const zone = name === undefined ? undefined : parseZoneDir(dir, name);
    if (zone) zones.push(zone);
  }
  return zones;
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
    const zones = discoverZones(powercap);
    const channels: RaplChannel[] = [];
    for (const z of zones) {
      const path = join(powercap, z.dir, 'energy_uj');
      try {
        readText(path);
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'EACCES' || code === 'EPERM') ctx.log.once(`eacces:${path}`, 'error', permissionHint(path));
        continue; // no energy_uj (a control-type directory) is not an error
      }
      const maxUj = readNumber(join(powercap, z.dir, 'max_energy_range_uj'));
      channels.push(new RaplChannel(zoneId(z), zoneDomain(z.name), zoneInTotal(z, zones), maxUj === undefined ? undefined : maxUj / 1e6, path, ctx.log));
    }
    return channels.length > 0 ? new RaplSource(channels) : undefined;
  },
};
