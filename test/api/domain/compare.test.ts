import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, rank, stats } from '../../../api/domain/compare.js';
import { compositeScore, energyPerInferenceUwh, infoDensity, netScore } from '../../../api/domain/scores.js';
import { apiHarness, type Harness } from '../harness.js';

describe('scores, worked examples (docs/SCIENCE.md)', () => {
  it('composite: accuracy 0.75 at 20 µWh per inference scores 28.125', () => {
    expect(compositeScore({ value: 0.75 }, { value: 20 }).value).toBeCloseTo(28.125, 12);
    expect(energyPerInferenceUwh(0.072 * 1000, 1000).value).toBeCloseTo(20, 12);
  });
  it('NetScore of ResNet-50 (76.1 %, 25.6 M, 4.1 G MACs) with α=2, β=γ=0.5', () => {
    // 20·log10(76.1² / (√25.6 · √4.1)) = 20·log10(5791.21 / 10.2450) = 55.046…
    expect(netScore({ value: 0.761 }, 25.6, 4.1).value).toBeCloseTo(55.0455, 3);
    expect(netScore({ value: 0.761 }, 25.6, 4.1, { alpha: 1, beta: 1, gamma: 1 }).value).toBeCloseTo(20 * Math.log10(76.1 / (25.6 * 4.1)), 12);
  });
  it('information density: accuracy % per million parameters', () => {
    expect(infoDensity({ value: 0.761 }, 25.6).value).toBeCloseTo(2.97265625, 12);
    expect(infoDensity({ value: null, reason: 'r' }, 25.6)).toEqual({ value: null, reason: 'r' });
  });
  it('repeat statistics and ranks with ties', () => {
    const s = stats([10, 12, 14]);
    expect(s).toMatchObject({ n: 3, mean: 12, std: 2, cv: 2 / 12 });
    expect(stats([5])).toEqual({ n: 1, mean: 5, std: null, cv: null, ci95_low: null, ci95_high: null });
    const r = rank(['a', 'b', 'c', 'd'], (x) => ({ a: 3, b: 5, c: 5, d: null })[x] ?? null, false);
    expect([...r.entries()]).toEqual([['b', 1], ['c', 1], ['a', 3], ['d', null]]);
  });
});

let h: Harness;
beforeAll(async () => {
  h = await apiHarness('compare');
});
afterAll(async () => h.close());

describe('GET /api/compare', () => {
  it('ranks models per platform, relates platforms to a reference, and gives repeat statistics', async () => {
    // µWh per inference measured three times on A100, once elsewhere
    const runs = [
      { model: 'resnet50', platform: 'A100', accuracy: 0.76, energy_per_inference_uwh: 20, params_m: 25.6, macs_g: 4.1 },
      { model: 'resnet50', platform: 'A100', accuracy: 0.76, energy_per_inference_uwh: 21, params_m: 25.6, macs_g: 4.1 },
      { model: 'resnet50', platform: 'A100', accuracy: 0.76, energy_per_inference_uwh: 22, params_m: 25.6, macs_g: 4.1 },
      { model: 'mobilenet_v2', platform: 'A100', accuracy: 0.72, energy_per_inference_uwh: 8, params_m: 3.5, macs_g: 0.3 },
      { model: 'vgg16', platform: 'A100', accuracy: 0.715, energy_per_inference_uwh: 90, params_m: 138, macs_g: 15.5 },
      { model: 'resnet50', platform: 'Quadro', accuracy: 0.76, energy_per_inference_uwh: 48.3 },
      { model: 'mobilenet_v2', platform: 'Quadro', accuracy: 0.72, energy_per_inference_uwh: 15 },
    ].map((r) => ({ ...r, inferences: 50_000 }));
    const imported = await h.app.fastify.inject({ method: 'POST', url: '/api/runs/import', payload: runs });
    expect(imported.statusCode).toBe(201);
    const res = await h.app.fastify.inject('/api/compare?reference=A100');
    expect(res.statusCode).toBe(200);
    const body = res.json<ReturnType<typeof compare>>();
    const row = (m: string, p: string) => body.rows.find((r) => r.model === m && r.platform === p);
    const r50 = row('resnet50', 'A100');
    expect(r50?.runs).toBe(3);
    const epi = r50?.scores.energy_per_inference_uwh;
    expect(epi?.n).toBe(3);
    expect(epi?.mean).toBeCloseTo(21, 9);
    expect(epi?.std).toBeCloseTo(1, 9);
    expect(epi?.cv).toBeCloseTo(1 / 21, 9);
    const composite = [20, 21, 22].map((e) => 0.76 ** 2 / (e / 1000));
    expect(r50?.scores.composite_score.mean).toBeCloseTo(composite.reduce((a, b) => a + b) / 3, 9);
    // composite on A100: mobilenet 0.72²/0.008 = 64.8 > resnet50 ≈ 27.5 > vgg16 0.715²/0.09 = 5.68
    expect(row('mobilenet_v2', 'A100')?.ranks.composite_score).toBe(1);
    expect(r50?.ranks.composite_score).toBe(2);
    expect(row('vgg16', 'A100')?.ranks.composite_score).toBe(3);
    expect(row('mobilenet_v2', 'A100')?.ranks.energy_per_inference_uwh).toBe(1);
    expect(row('vgg16', 'A100')?.ranks.info_density).toBe(3);
    expect(row('mobilenet_v2', 'A100')?.ranks.netscore).toBe(1);
    // Quadro relative to A100: resnet50 uses 48.3 / 21 = 2.3× the energy, scores 1/2.3
    const quadro = row('resnet50', 'Quadro');
    expect(quadro?.relative?.energy_per_inference_uwh).toBeCloseTo(2.3, 9);
    expect(quadro?.relative?.composite_score).toBeCloseTo((0.76 ** 2 / 0.0483) / (composite.reduce((a, b) => a + b) / 3), 9);
    expect(row('vgg16', 'A100')?.relative?.composite_score).toBe(1);
    expect(body.reference).toBe('A100');
  });
});
