/**
 * Laptop and edge-board batteries through the kernel's power-supply class: while the machine
 * runs on its battery, the battery's discharge is the whole machine's power (`system`), read
 * from `power_now` (µW) or `current_now` (µA) × `voltage_now` (µV) at the sample rate. On
 * mains power the battery's figure is its charging, not the machine's use: then there is no
 * channel (and the minute's rediscovery brings it back when the machine is unplugged). Which
 * readings count is the host-total policy's call (../../total.ts): a whole-machine reading never
 * on top of a measured CPU package. See README.md.
 */
import { basename, join } from 'node:path';
import type { Logger } from '../../../common/log.js';
import type { PowerChannel, Source, SourceFactory } from '../../source.js';
import { AttributeReader, listDir, readNumber, readTrimmed, sensorText } from '../../sysfs.js';

/** Among whole-machine readings by the same method: after RAPL's psys and board rails. */
const RANK = 5;

export interface Battery {
  name: string;
  dir: string;
  /** `power_now`, or `current_now` and `voltage_now` */
  files: string[];
}

/** The batteries that power this machine (not a mouse's: `scope` Device), with what they report. */
export function findBatteries(powerSupplyRoot: string, problem: (dir: string, why: string) => void = () => undefined): Battery[] {
  const out: Battery[] = [];
  for (const name of listDir(powerSupplyRoot)) {
    // its name becomes the channel's id: text a tag can carry
    const why = sensorText(name).problem;
    if (why !== undefined) {
      problem(join(powerSupplyRoot, name), why);
      continue;
    }
    const dir = join(powerSupplyRoot, name);
    if (readTrimmed(join(dir, 'type')) !== 'Battery') continue;
    if (readTrimmed(join(dir, 'scope')) === 'Device') continue;
    if (readTrimmed(join(dir, 'present')) === '0') continue;
    if (readNumber(join(dir, 'power_now')) !== undefined) out.push({ name, dir, files: [join(dir, 'power_now')] });
    else if (readNumber(join(dir, 'current_now')) !== undefined && readNumber(join(dir, 'voltage_now')) !== undefined) {
      out.push({ name, dir, files: [join(dir, 'current_now'), join(dir, 'voltage_now')] });
    }
  }
  return out;
}

export const isDischarging = (status: string | undefined): boolean => status === 'Discharging';

/** Watts from the files' values: µW, or µA × µV. Some drivers sign the discharge negative: its size is the power. */
export function batteryWatts(values: readonly number[]): number | undefined {
  if (values.length === 1) return Math.abs(values[0] as number) / 1e6;
  if (values.length === 2) return (Math.abs(values[0] as number) * Math.abs(values[1] as number)) / 1e12;
  return undefined;
}

class BatteryChannel implements PowerChannel {
  readonly domain = 'system' as const;
  readonly method = 'sampled' as const;
  readonly rank = RANK;
  readonly id: string;
  readonly reading: string;
  readonly measures;
  inTotal = false;
  private readonly status: AttributeReader[];
  private readonly readers: AttributeReader[][];
  constructor(
    batteries: readonly Battery[],
    private readonly log: Logger,
  ) {
    // several batteries (a ThinkPad's BAT0 and BAT1) power the machine together: one channel, their sum
    this.id = `battery/${batteries.map((b) => b.name).join('+')}`;
    this.reading = [...new Set(batteries.map((b) => b.files.map((f) => basename(f)).join('×')))].join(', ');
    this.measures = { kind: 'whole', key: 'battery' } as const;
    this.status = batteries.map((b) => new AttributeReader(join(b.dir, 'status')));
    this.readers = batteries.map((b) => b.files.map((f) => new AttributeReader(f)));
  }
  /** The discharge of the batteries; undefined on mains power (none discharging): unknown, not 0 W. */
  read(): number | undefined {
    let watts: number | undefined;
    try {
      for (let i = 0; i < this.readers.length; i++) {
        // a battery that is not discharging (charging, full, or resting beside its twin) gives nothing
        if (!isDischarging(this.status[i]?.readString())) continue;
        const values = (this.readers[i] as AttributeReader[]).map((r) => r.readNumber());
        if (values.some((v) => v === undefined)) return undefined;
        watts = (watts ?? 0) + (batteryWatts(values as number[]) ?? 0);
      }
    } catch (e) {
      this.log.once(`battery:${this.id}`, 'warn', `reading ${this.id} failed; will keep trying`, { error: e });
      return undefined;
    }
    return watts;
  }
  close(): void {
    for (const r of [...this.status, ...this.readers.flat()]) r.close();
  }
}

class BatterySource implements Source {
  readonly name = 'battery';
  constructor(private readonly channel: BatteryChannel) {}
  channels() {
    return [this.channel];
  }
  close() {
    this.channel.close();
  }
}

export const batterySource: SourceFactory = {
  name: 'battery',
  async discover(ctx) {
    const batteries = findBatteries(join(ctx.sysfs, 'class', 'power_supply'), (dir, why) => ctx.problem('text', dir, `battery: the power supply ${JSON.stringify(dir)} cannot name a channel (${why}); skipped`));
    if (batteries.length === 0) return undefined;
    // on mains power the battery does not tell what the machine draws: no reading to offer now
    if (!batteries.some((b) => isDischarging(readTrimmed(join(b.dir, 'status'))))) {
      ctx.log.debug(`battery: ${batteries.map((b) => b.name).join(', ')} not discharging (on mains power); looked at again at the next rediscovery`);
      return undefined;
    }
    return new BatterySource(new BatteryChannel(batteries, ctx.log));
  },
};
