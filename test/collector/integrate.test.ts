import { describe, expect, it } from 'vitest';
import { ChannelIntegrator } from '../../collector/integrate.js';

describe('ChannelIntegrator', () => {
  it('differences a counter and undoes a wrap with the counter range', () => {
    const c = new ChannelIntegrator('counter', 100);
    c.add(0, 90);
    c.add(500, 98);
    c.add(1000, 6); // wrapped: 98 → 100 → 6 is 8 J
    const i = c.cut();
    expect(i).toMatchObject({ energyJ: 16, intervalS: 1, powerW: 16, minW: 16, maxW: 16, wraps: 1, resets: 0 });
  });

  it('counts a counter that goes down with no known range as a reset: that step is left out, energy and time', () => {
    const c = new ChannelIntegrator('counter');
    c.add(0, 50);
    c.add(1000, 10);
    c.add(2000, 30);
    expect(c.cut()).toMatchObject({ energyJ: 20, intervalS: 1, powerW: 20, resets: 1, wraps: 0 });
  });

  it('tells a wrap from a reset by the power each would imply', () => {
    // a RAPL package: range 262143.328850 J, at most 500 W; read every 100 ms at 40 W
    const range = 262143.32885;
    const wrap = new ChannelIntegrator('counter', range, 500);
    wrap.add(0, range - 2);
    wrap.add(100, 2); // 2 J to the top, 2 J after: 4 J in 0.1 s is 40 W, a wrap
    expect(wrap.cut()).toMatchObject({ energyJ: 4, intervalS: 0.1, wraps: 1, resets: 0 });

    const reset = new ChannelIntegrator('counter', range, 500);
    reset.add(0, 30_000);
    reset.add(100, 30_004);
    reset.add(200, 1.5); // driver reload: as a wrap this would be 232 kJ in 0.1 s (2.3 MW)
    reset.add(300, 5.5);
    const i = reset.cut();
    expect(i).toMatchObject({ energyJ: 8, wraps: 0, resets: 1 });
    expect(i?.intervalS).toBeCloseTo(0.2, 12);
    expect(i?.powerW).toBeCloseTo(40, 9);

    // a jump up that no device could draw is a reset too (a counter restarted at another base)
    const jump = new ChannelIntegrator('counter', range, 500);
    jump.add(0, 100);
    jump.add(100, 104);
    jump.add(200, 90_000);
    expect(jump.cut()).toMatchObject({ energyJ: 4, resets: 1 });
  });

  it('judges a counter that updates more slowly than it is read by the time since it last moved (DCGM: once per scrape)', () => {
    // an H100 at 700 W, its DCGM counter refreshed once a second, read at 10 Hz: each move holds a
    // second of energy; judged over one 0.1 s read it would look like 7 kW, beyond a GPU's 3 kW
    const c = new ChannelIntegrator('counter', undefined, 3000);
    let j = 1_000_000;
    for (let t = 0; t <= 3000; t += 100) {
      if (t > 0 && t % 1000 === 0) j += 700;
      c.add(t, j);
    }
    const i = c.cut();
    expect(i).toMatchObject({ energyJ: 2100, intervalS: 3, powerW: 700, minW: 700, maxW: 700, resets: 0 });
    // a real reset is still one: the counter back near zero
    c.add(3100, j);
    c.add(3200, 5);
    expect(c.cut()).toMatchObject({ energyJ: 0, resets: 1 });
  });

  it('reports an interval that was all reset with no length, counting its reset', () => {
    const c = new ChannelIntegrator('counter', undefined, 500);
    c.add(0, 50);
    c.add(100, 10);
    expect(c.cut()).toMatchObject({ intervalS: 0, energyJ: 0, resets: 1 });
    c.add(200, 14);
    expect(c.cut()).toMatchObject({ energyJ: 4, intervalS: 0.1, resets: 0 });
  });

  it('integrates sampled power with the trapezoid rule', () => {
    const s = new ChannelIntegrator('sampled');
    s.add(0, 10);
    s.add(100, 30); // (10+30)/2 × 0.1 = 2 J
    s.add(300, 30); // 30 × 0.2 = 6 J
    const i = s.cut();
    expect(i?.energyJ).toBeCloseTo(8, 12);
    expect(i?.intervalS).toBeCloseTo(0.3, 12);
    expect(i).toMatchObject({ minW: 10, maxW: 30 });
  });

  it('leaves out what no sensor can read — not finite, a negative counter, a power below 0 or above the plausible maximum — and bridges over it', () => {
    const s = new ChannelIntegrator('averaged', undefined, 3000);
    expect(s.add(0, 10)).toBe(true);
    for (const bad of [NaN, Infinity, -1, 3001, 9e9]) expect(s.add(50, bad)).toBe(false);
    expect(s.add(100, 30)).toBe(true);
    expect(s.cut()).toMatchObject({ energyJ: 2, intervalS: 0.1, minW: 10, maxW: 30 });
    const c = new ChannelIntegrator('counter');
    expect(c.add(0, -5)).toBe(false);
    expect(c.add(0, 1e15)).toBe(true); // a counter's size is not a power
  });

  it('tiles time: consecutive intervals share their boundary reading, no gap, no overlap', () => {
    const s = new ChannelIntegrator('sampled');
    let t = 0;
    const energies: number[] = [];
    const lengths: number[] = [];
    for (let report = 0; report < 5; report++) {
      for (let k = 0; k < 10; k++) {
        s.add(t, 40);
        t += 100;
      }
      const i = s.cut();
      if (i) {
        energies.push(i.energyJ);
        lengths.push(i.intervalS);
      }
    }
    const total = energies.reduce((a, b) => a + b, 0);
    const span = lengths.reduce((a, b) => a + b, 0);
    expect(span).toBeCloseTo((t - 100) / 1000, 9);
    expect(total).toBeCloseTo(40 * span, 9);
  });

  it('returns nothing for an interval without length, and ignores time going backwards', () => {
    const s = new ChannelIntegrator('sampled');
    expect(s.cut()).toBeUndefined();
    s.add(1000, 5);
    expect(s.cut()).toBeUndefined();
    s.add(900, 500);
    s.add(2000, 5);
    expect(s.cut()?.energyJ).toBeCloseTo(5, 12);
  });

  describe('seeded with a reading from before a restart (the same boot)', () => {
    // a RAPL package: range 262143.328850 J, at most 2000 W (the cpu domain's plausible bound)
    const range = 262143.32885;

    it('measures the restart exactly: the first interval spans it, its energy the counter’s, marked bridged', () => {
      const c = new ChannelIntegrator('counter', range, 2000);
      c.seed(-15_000, 1000); // 15 s before this process's first reading
      c.add(0, 1000 + 40 * 15);
      c.add(1000, 1000 + 40 * 16);
      expect(c.cut()).toMatchObject({ energyJ: 640, intervalS: 16, powerW: 40, bridgedS: 15, resets: 0, wraps: 0 });
      c.add(2000, 1000 + 40 * 17);
      expect(c.cut()).toMatchObject({ energyJ: 40, intervalS: 1, bridgedS: 0 });
    });

    it('undoes one wrap across it when no second could have happened in the time', () => {
      const c = new ChannelIntegrator('counter', range, 2000);
      c.seed(-20_000, range - 300);
      c.add(0, 500); // 300 J to the top, 500 after: 800 J in 20 s, 40 W
      expect(c.cut()).toMatchObject({ energyJ: 800, intervalS: 20, wraps: 1, bridgedS: 20 });
    });

    it('leaves out a restart long enough for two wraps (which one happened is a guess), and a counter that went back (a reset)', () => {
      const long = new ChannelIntegrator('counter', range, 2000);
      long.seed(-200_000, range - 300); // 200 s × 2000 W > one range
      long.add(0, 500);
      long.add(1000, 540);
      expect(long.cut()).toMatchObject({ energyJ: 40, intervalS: 1, resets: 1, bridgedS: 0 });

      const reset = new ChannelIntegrator('counter', undefined, 3000); // NVML: no range; reloaded driver starts at 0
      reset.seed(-10_000, 5_000_000);
      reset.add(0, 12);
      reset.add(1000, 712);
      expect(reset.cut()).toMatchObject({ energyJ: 700, intervalS: 1, resets: 1, bridgedS: 0 });
    });

    it('bridges a counter that did not move (an idle device) with 0 J, and is ignored once readings began or for sampled power', () => {
      const idle = new ChannelIntegrator('counter', range, 2000);
      idle.seed(-5000, 77);
      idle.add(0, 77);
      idle.add(1000, 77);
      expect(idle.cut()).toMatchObject({ energyJ: 0, intervalS: 6, bridgedS: 5 });

      const late = new ChannelIntegrator('counter', range, 2000);
      late.add(0, 10);
      late.seed(-5000, 0);
      late.add(1000, 50);
      expect(late.cut()).toMatchObject({ energyJ: 40, intervalS: 1, bridgedS: 0 });

      const sampled = new ChannelIntegrator('sampled');
      sampled.seed(-5000, 40);
      sampled.add(0, 40);
      expect(sampled.cut()).toBeUndefined();
    });
  });

  it('integrates a mean since the last reading (the CPU estimate) as that mean over each step, exactly, whatever the readings\' spacing', () => {
    const mean = new ChannelIntegrator('estimated', undefined, 2000, true);
    mean.add(0, 99); // the first reading's mean covers time before the interval: not counted
    mean.add(250, 20);
    mean.add(1000, 40);
    expect(mean.cut()).toMatchObject({ energyJ: 0.25 * 20 + 0.75 * 40, intervalS: 1, minW: 20, maxW: 40 });
    // the next interval's extremes are its own readings' (not the mean that ended the last one)
    mean.add(2000, 30);
    expect(mean.cut()).toMatchObject({ energyJ: 30, minW: 30, maxW: 30 });
    expect(mean.totalJ).toBeCloseTo(65, 12);
    expect(mean.coveredS).toBe(2);
  });
});
