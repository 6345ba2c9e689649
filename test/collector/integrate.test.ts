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

  it('counts a counter that goes down with no known range as a reset, never as negative energy', () => {
    const c = new ChannelIntegrator('counter');
    c.add(0, 50);
    c.add(1000, 10);
    c.add(2000, 30);
    expect(c.cut()).toMatchObject({ energyJ: 20, intervalS: 2, resets: 1 });
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
});
