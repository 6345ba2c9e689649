/**
 * No fault of one source stops the others (issue: one odd byte in a sensor's name made the
 * line-protocol writer throw inside the report tick, and the whole collector exit): a read that
 * throws, a value that is not a number or not plausible, a channel or point whose tags cannot be
 * written, host metrics that fail, a spool that throws. Each is logged once, counted in
 * /metrics, and the good source's points are all there.
 */
import { describe, expect, it } from 'vitest';
import { Agent } from '../../collector/agent.js';
import { CollectorMetrics } from '../../collector/metrics.js';
import type { PowerChannel, Source } from '../../collector/source.js';
import type { Sample } from '../../common/model.js';
import { lineProblem, toLines } from '../../common/storage/line-protocol.js';
import { recordingLogger } from './fixtures.js';

function channel(id: string, read: () => number | undefined, over: Partial<PowerChannel> = {}): PowerChannel {
  return { id, domain: 'gpu', method: 'sampled', reading: 'power1_input', measures: { kind: 'unknown' }, rank: 0, inTotal: true, read, ...over };
}

function source(name: string, channels: PowerChannel[], collect?: Source['collect']): Source {
  return { name, channels: () => channels, ...(collect ? { collect } : {}) };
}

async function metric(metrics: CollectorMetrics, name: string, labels: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('a fault of one source never escapes the tick', () => {
  it('is logged once, counted, and the other sources go on', async () => {
    const metrics = new CollectorMetrics();
    const log = recordingLogger();
    const emitted: Sample[] = [];
    let spoolBroken = false;
    const good = source('rapl', [channel('rapl/package-0', () => 40 + clock.t / 1000, { method: 'counter', reading: 'energy_uj', domain: 'cpu' })]);
    const bad = source(
      'hwmon',
      [
        channel('hwmon/gone-0/power1', () => {
          throw Object.assign(new Error("ENOENT: no such file or directory, open '/sys/class/hwmon/hwmon9/power1_input'"), { code: 'ENOENT' });
        }),
        channel('hwmon/garbage-0/power1', () => NaN, { path: '/sys/class/hwmon/hwmon7/power1_input' }),
        channel('hwmon/huge-0/power1', () => 9e9),
        // an id made of text no source should have let through: the last guard
        channel('hwmon/amdgpu\n-0/power1', () => 23),
      ],
      (timeMs) => [
        { measurement: 'gpu', tags: { host: 'h', platform: 'p', gpu: '0', gpu_name: 'Radeon\u0000' }, fields: { util_pct: 1 }, timeMs },
        { measurement: 'gpu', tags: { host: 'h', platform: 'p', gpu: '1', gpu_name: 'Radeon RX 7900 XTX' }, fields: { util_pct: 2 }, timeMs },
      ],
    );
    const broken = source('disk', [], () => {
      throw new Error('diskstats vanished');
    });
    const clock = { t: 0 };
    const agent = new Agent({
      sources: [good, bad, broken],
      hostTags: { host: 'h', platform: 'p' },
      sampleHz: 10,
      reportIntervalS: 1,
      emit: (s) => {
        if (spoolBroken) throw new Error('spool bug');
        emitted.push(...s);
      },
      metrics,
      log,
      now: () => clock.t,
      wallNow: () => 1_800_000_000_000 + clock.t,
    });
    for (let report = 0; report < 3; report++) {
      for (let k = 0; k < 10; k++) {
        clock.t += 100;
        agent.sample(clock.t);
      }
      if (report === 2) spoolBroken = true;
      expect(() => agent.report()).not.toThrow();
    }
    // the good source's points and the good gpu point, every report that was spooled
    expect(emitted.filter((s) => s.tags.source === 'rapl/package-0')).toHaveLength(2);
    expect(emitted.filter((s) => s.measurement === 'gpu').map((s) => s.tags.gpu)).toEqual(['1', '1']);
    expect(emitted.some((s) => s.tags.source?.startsWith('hwmon/'))).toBe(false);
    // everything spooled can be written: no throw, every line well formed
    const lines = toLines(emitted);
    expect(lines.every((l) => lineProblem(l) === undefined)).toBe(true);
    // counted in /metrics, by source and kind
    expect(await metric(metrics, 'wattscope_collector_source_errors_total', '{source="hwmon",kind="read"}')).toBe(30);
    expect(await metric(metrics, 'wattscope_collector_source_errors_total', '{source="hwmon",kind="value"}')).toBe(60);
    expect(await metric(metrics, 'wattscope_collector_source_errors_total', '{source="hwmon",kind="encode"}')).toBe(1 + 3);
    expect(await metric(metrics, 'wattscope_collector_source_errors_total', '{source="disk",kind="collect"}')).toBe(3);
    expect(await metric(metrics, 'wattscope_collector_points_dropped_total', '{reason="emit"}')).toBeGreaterThan(0);
    expect(await metric(metrics, 'wattscope_collector_source_success', '{source="rapl"}')).toBe(1);
    expect(await metric(metrics, 'wattscope_collector_source_success', '{source="hwmon"}')).toBe(0);
    // and said once each, naming what is at fault
    const said = log.lines.map((l) => l.message);
    expect(said.filter((m) => m.includes('hwmon/gone-0/power1'))).toHaveLength(1);
    expect(said.filter((m) => m.includes('hwmon/garbage-0/power1'))).toEqual([expect.stringContaining('read NaN (power1_input in /sys/class/hwmon/hwmon7/power1_input)')]);
    expect(said.filter((m) => m.includes('hwmon/huge-0/power1'))).toEqual([expect.stringContaining('read 9000000000')]);
    expect(said.filter((m) => m.includes('cannot be written'))).toHaveLength(2);
    expect(said.filter((m) => m.includes('collecting disk failed'))).toHaveLength(1);
    expect(said.filter((m) => m.includes('could not be spooled'))).toHaveLength(1);
  });

  it('is left out of a batch at the last guard, not the batch: toLines with a refusal handler', () => {
    const refused: string[] = [];
    const lines = toLines(
      [
        { measurement: 'host', tags: { host: 'h', platform: 'bad\u0000platform' }, fields: { version: 'x' }, timeMs: 1 },
        { measurement: 'cpu', tags: { host: 'h', platform: 'p', cpu: 'all' }, fields: { usage_pct: 1 }, timeMs: 1 },
      ],
      (s, e) => refused.push(`${s.measurement}: ${e.message}`),
    );
    expect(lines).toEqual(['cpu,cpu=all,host=h,platform=p usage_pct=1 1']);
    expect(refused).toEqual([expect.stringMatching(/^host: tag "platform"=.*control characters/)]);
  });
});
