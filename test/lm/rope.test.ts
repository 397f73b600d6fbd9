/**
 * yarn and dynamic-NTK rotary frequencies against closed-form float64 computations of the formulas in
 * transformers' modeling_rope_utils (`_compute_yarn_parameters`, `_compute_dynamic_ntk_parameters`).
 * The port rounds to float32 like torch, so agreement is to float32 precision (relative 1e-6).
 */
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/lm/config.js';
import { ropeFrequencies, ropeTables } from '../../src/lm/rope.js';

const base = { model_type: 'llama', hidden_size: 512, num_attention_heads: 8, num_hidden_layers: 1, intermediate_size: 64, rope_theta: 10000 };

function expectRelClose(got: ArrayLike<number>, want: number[], rel = 1e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(rel * Math.abs(want[i]));
}

/** float64 yarn: ramp between the floor/ceil correction dimensions; attention factor 0.1·ln f + 1. */
function yarn64(theta: number, dim: number, f: number, Lo: number, betaFast = 32, betaSlow = 1, truncate = true): number[] {
  const cd = (r: number): number => (dim * Math.log(Lo / (r * 2 * Math.PI))) / (2 * Math.log(theta));
  const low = Math.max(truncate ? Math.floor(cd(betaFast)) : cd(betaFast), 0);
  let high = Math.min(truncate ? Math.ceil(cd(betaSlow)) : cd(betaSlow), dim - 1);
  if (high === low) high += 0.001;
  const out: number[] = [];
  for (let i = 0; i < dim / 2; i++) {
    const pos = theta ** ((2 * i) / dim);
    const e = 1 - Math.min(Math.max((i - low) / (high - low), 0), 1);
    out.push((1 / (f * pos)) * (1 - e) + (1 / pos) * e);
  }
  return out;
}

describe('yarn', () => {
  it('Qwen2.5 long-context setting (factor 4, original 32768): frequencies and mscale', () => {
    const c = parseModelConfig({ ...base, model_type: 'qwen2', num_key_value_heads: 8, rope_theta: 1e6, max_position_embeddings: 32768, rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } });
    const { invFreq, attentionScaling } = ropeFrequencies(c);
    const want = yarn64(1e6, 64, 4, 32768);
    expectRelClose(invFreq, want);
    expect(attentionScaling).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    // The high frequencies are kept, the low ones divided by the factor, with a ramp in between.
    expect(invFreq[0]).toBeCloseTo(1, 6);
    expect(invFreq[31] / (1 / 1e6 ** (62 / 64))).toBeCloseTo(1 / 4, 5);
    expect(want.some((w, i) => i > 0 && w / (1 / 1e6 ** ((2 * i) / 64)) > 0.26 && w / (1 / 1e6 ** ((2 * i) / 64)) < 0.99)).toBe(true);
  });

  it('without original_max_position_embeddings uses max_position_embeddings; beta and truncate are read', () => {
    const c = parseModelConfig({ ...base, max_position_embeddings: 2048, rope_scaling: { rope_type: 'yarn', factor: 8, beta_fast: 16, beta_slow: 2, truncate: false } });
    expectRelClose(ropeFrequencies(c).invFreq, yarn64(10000, 64, 8, 2048, 16, 2, false));
  });

  it('attention factor: explicit attention_factor, else the mscale / mscale_all_dim ratio', () => {
    const m = (s: number, ms: number): number => 0.1 * ms * Math.log(s) + 1;
    const explicit = parseModelConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 8, attention_factor: 1.25 } });
    expect(ropeFrequencies(explicit).attentionScaling).toBe(1.25);
    const ratio = parseModelConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 40, mscale: 1, mscale_all_dim: 0.707 } });
    expect(ropeFrequencies(ratio).attentionScaling).toBeCloseTo(m(40, 1) / m(40, 0.707), 12);
  });

  it('cos and sin tables are multiplied by the attention factor', () => {
    const inv = Float32Array.from([1, 0.5]);
    const plain = ropeTables(inv, [3]);
    const scaled = ropeTables(inv, [3], 1.5);
    for (let i = 0; i < 4; i++) {
      expect(scaled.cos[i]).toBeCloseTo(plain.cos[i] * 1.5, 6);
      expect(scaled.sin[i]).toBeCloseTo(plain.sin[i] * 1.5, 6);
    }
  });
});

describe('dynamic NTK', () => {
  const c = parseModelConfig({ ...base, max_position_embeddings: 1024, rope_scaling: { type: 'dynamic', factor: 2 } });
  const plain64 = (theta: number): number[] => Array.from({ length: 32 }, (_, i) => 1 / theta ** ((2 * i) / 64));

  it('up to max_position_embeddings the frequencies are the default ones', () => {
    expectRelClose(ropeFrequencies(c, 0).invFreq, plain64(10000));
    expectRelClose(ropeFrequencies(c, 1024).invFreq, plain64(10000));
  });

  it('past it the base grows to θ·((f·L/M) − (f − 1))^(dim/(dim−2))', () => {
    for (const L of [1025, 3000, 8192]) {
      const theta = 10000 * ((2 * L) / 1024 - 1) ** (64 / 62);
      const { invFreq, attentionScaling } = ropeFrequencies(c, L);
      expectRelClose(invFreq, plain64(theta));
      expect(attentionScaling).toBe(1);
    }
  });
});
