/**
 * Sanity checks of the float64 reference itself, against closed forms computed by hand (values in the
 * comments), and against invariances that hold exactly in HF's maths (GQA duplication, sliding
 * window = truncated context, left padding, causality).
 */
import { describe, expect, it } from 'vitest';
import {
  activation,
  applyRope,
  erf,
  layerNorm,
  naiveForward,
  naiveGreedy,
  resolveConfig,
  rmsNorm,
  ropeInvFreq,
} from './naive-lm.js';

type Raw = Record<string, unknown>;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tol) {
      throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
    }
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rand(n: number, rng: () => number, scale = 0.5): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng() * 2 - 1) * scale;
  return a;
}

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);

function gpt2Weights(
  c: { V: number; P: number; d: number; layers: number; inner: number },
  rng: () => number,
  prefix = '',
): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  const { V, P, d, inner } = c;
  m.set(prefix + 'wte.weight', rand(V * d, rng));
  m.set(prefix + 'wpe.weight', rand(P * d, rng));
  for (let l = 0; l < c.layers; l++) {
    const p = `${prefix}h.${l}.`;
    m.set(p + 'ln_1.weight', rand(d, rng, 2));
    m.set(p + 'ln_1.bias', rand(d, rng));
    m.set(p + 'attn.c_attn.weight', rand(d * 3 * d, rng));
    m.set(p + 'attn.c_attn.bias', rand(3 * d, rng));
    m.set(p + 'attn.c_proj.weight', rand(d * d, rng));
    m.set(p + 'attn.c_proj.bias', rand(d, rng));
    m.set(p + 'ln_2.weight', rand(d, rng, 2));
    m.set(p + 'ln_2.bias', rand(d, rng));
    m.set(p + 'mlp.c_fc.weight', rand(d * inner, rng));
    m.set(p + 'mlp.c_fc.bias', rand(inner, rng));
    m.set(p + 'mlp.c_proj.weight', rand(inner * d, rng));
    m.set(p + 'mlp.c_proj.bias', rand(d, rng));
  }
  m.set(prefix + 'ln_f.weight', rand(d, rng, 2));
  m.set(prefix + 'ln_f.bias', rand(d, rng));
  return m;
}

interface LlamaShape {
  V: number;
  d: number;
  layers: number;
  H: number;
  KV: number;
  hd: number;
  I: number;
  qkvBias?: boolean;
  oBias?: boolean;
  mlpBias?: boolean;
  head?: boolean;
}

function llamaWeights(c: LlamaShape, rng: () => number): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  const { V, d, H, KV, hd, I } = c;
  m.set('model.embed_tokens.weight', rand(V * d, rng, 1));
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    m.set(p + 'input_layernorm.weight', rand(d, rng, 2));
    m.set(p + 'post_attention_layernorm.weight', rand(d, rng, 2));
    m.set(p + 'self_attn.q_proj.weight', rand(H * hd * d, rng));
    m.set(p + 'self_attn.k_proj.weight', rand(KV * hd * d, rng));
    m.set(p + 'self_attn.v_proj.weight', rand(KV * hd * d, rng));
    m.set(p + 'self_attn.o_proj.weight', rand(d * H * hd, rng));
    if (c.qkvBias) {
      m.set(p + 'self_attn.q_proj.bias', rand(H * hd, rng));
      m.set(p + 'self_attn.k_proj.bias', rand(KV * hd, rng));
      m.set(p + 'self_attn.v_proj.bias', rand(KV * hd, rng));
    }
    if (c.oBias) m.set(p + 'self_attn.o_proj.bias', rand(d, rng));
    m.set(p + 'mlp.gate_proj.weight', rand(I * d, rng));
    m.set(p + 'mlp.up_proj.weight', rand(I * d, rng));
    m.set(p + 'mlp.down_proj.weight', rand(d * I, rng));
    if (c.mlpBias) {
      m.set(p + 'mlp.gate_proj.bias', rand(I, rng));
      m.set(p + 'mlp.up_proj.bias', rand(I, rng));
      m.set(p + 'mlp.down_proj.bias', rand(d, rng));
    }
  }
  m.set('model.norm.weight', rand(d, rng, 2));
  if (c.head !== false) m.set('lm_head.weight', rand(V * d, rng));
  return m;
}

function llamaConfig(type: string, c: LlamaShape, extra: Raw = {}): Raw {
  return {
    model_type: type,
    vocab_size: c.V,
    hidden_size: c.d,
    intermediate_size: c.I,
    num_hidden_layers: c.layers,
    num_attention_heads: c.H,
    num_key_value_heads: c.KV,
    head_dim: c.hd,
    rms_norm_eps: 1e-5,
    ...extra,
  };
}

// ───────────────────────────── scalar pieces ─────────────────────────────

describe('erf and activations', () => {
  it('erf matches known values to 1e-12', () => {
    expect(Math.abs(erf(0.5) - 0.5204998778130465)).toBeLessThan(1e-12);
    expect(Math.abs(erf(0.1) - 0.1124629160182849)).toBeLessThan(1e-12);
    expect(Math.abs(erf(1) - 0.8427007929497149)).toBeLessThan(1e-12);
    expect(Math.abs(erf(2) - 0.9953222650189527)).toBeLessThan(1e-12);
    expect(Math.abs(erf(3) - 0.9999779095030014)).toBeLessThan(1e-12);
    expect(Math.abs(erf(-0.5) + 0.5204998778130465)).toBeLessThan(1e-12);
    expect(erf(0)).toBe(0);
    expect(erf(10)).toBe(1);
    expect(erf(-10)).toBe(-1);
  });

  it('activations', () => {
    // gelu(1) = 0.5·(1 + erf(1/√2)) = 0.5·(1 + 0.6826894921370859) = 0.8413447460685429
    expect(Math.abs(activation('gelu')(1) - 0.8413447460685429)).toBeLessThan(1e-12);
    // gelu_new(1) = 0.5·(1 + tanh(√(2/π)·1.044715)) = 0.8411919906082768
    expect(Math.abs(activation('gelu_new')(1) - 0.8411919906082768)).toBeLessThan(1e-12);
    // silu(1) = 1/(1 + e^-1) = 0.7310585786300049
    expect(Math.abs(activation('silu')(1) - 0.7310585786300049)).toBeLessThan(1e-12);
    expect(activation('relu')(-2)).toBe(0);
    expect(activation('relu')(2)).toBe(2);
    expect(() => activation('nope')).toThrow();
  });
});

describe('norms', () => {
  it('LayerNorm uses the population variance', () => {
    // x = [1,2,3,4]: μ = 2.5, σ² = (2.25+0.25+0.25+2.25)/4 = 1.25, √1.25 = 1.118033988749895
    const x = [1, 2, 3, 4];
    expectClose(layerNorm(x, [1, 1, 1, 1], [0, 0, 0, 0], 0), [-1.3416407864998738, -0.4472135954999579, 0.4472135954999579, 1.3416407864998738], 1e-14);
    // w = [2,1,1,1], b = [0,0,0,1], eps 1e-5: (x−μ)/√1.25001
    const s = Math.sqrt(1.25001);
    expectClose(layerNorm(x, [2, 1, 1, 1], [0, 0, 0, 1], 1e-5), [(2 * -1.5) / s, -0.5 / s, 0.5 / s, 1.5 / s + 1], 1e-14);
  });

  it('RMSNorm', () => {
    // mean(x²) = 30/4 = 7.5, √7.5 = 2.7386127875258306
    expectClose(rmsNorm([1, 2, 3, 4], [1, 1, 1, 1], 0), [0.3651483716701107, 0.7302967433402214, 1.0954451150103321, 1.4605934866804429], 1e-14);
    expectClose(rmsNorm([1, 2, 3, 4], [1, 2, 1, 1], 1e-6), [1, 4, 3, 4].map((v) => v / Math.sqrt(7.5 + 1e-6)), 1e-14);
  });
});

// ───────────────────────────── RoPE ─────────────────────────────

describe('RoPE', () => {
  it('default inv_freq: head_dim 4, θ = 10000 → [1, 1/100]; rope_parameters.rope_theta honoured', () => {
    expect(ropeInvFreq({}, 4)).toEqual([1, Math.fround(0.01)]);
    expect(ropeInvFreq({ rope_theta: 100 }, 4)).toEqual([1, Math.fround(0.1)]);
    expect(ropeInvFreq({ rope_parameters: { rope_type: 'default', rope_theta: 100 } }, 4)).toEqual([1, Math.fround(0.1)]);
    // dim 8, θ 10000: exponents 0, 1/4, 1/2, 3/4 → 1, 1/10, 1/100, 1/1000 (float32)
    expect(ropeInvFreq({}, 8)).toEqual([1, 0.1, 0.01, 0.001].map(Math.fround));
  });

  it('linear scaling divides inv_freq by factor (both spellings)', () => {
    const expected = [0.5, Math.fround(Math.fround(0.01) / 2)];
    expect(ropeInvFreq({ rope_scaling: { type: 'linear', factor: 2 } }, 4)).toEqual(expected);
    expect(ropeInvFreq({ rope_scaling: { rope_type: 'linear', factor: 2 } }, 4)).toEqual(expected);
    expect(() => ropeInvFreq({ rope_scaling: { rope_type: 'longrope', factor: 2 } }, 4)).toThrow();
  });

  it('llama3 inv_freq against hand calculation', () => {
    // dim 8, θ 10000 → inv = [1, 0.1, 0.01, 0.001]; wavelen = 2π/inv = [6.28, 62.8, 628.3, 6283.2].
    // f = 8, l = 1, h = 4, L = 2048 → lowWL = 2048, highWL = 512.
    //   i=0,1: wavelen < 512            → unchanged: 1, 0.1
    //   i=2:   512 ≤ 628.3185 ≤ 2048    → s = (2048/628.3185 − 1)/(4 − 1) = 0.7531644115
    //          inv' = (1 − s)·0.01/8 + s·0.01 = 0.0078401886
    //   i=3:   6283.2 > 2048            → 0.001/8 = 0.000125
    const inv = ropeInvFreq(
      { rope_theta: 10000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 2048 } },
      8,
    );
    const expected = [1, 0.1, 0.0078401886, 0.000125];
    for (let i = 0; i < 4; i++) expect(Math.abs(inv[i] - expected[i]) / expected[i]).toBeLessThan(1e-6);
  });

  it('position 1 rotates each (x[i], x[i+d/2]) pair by inv_freq[i]; position 0 is the identity', () => {
    const inv = ropeInvFreq({}, 4); // [1, 0.01]
    const [a, b, c, d] = [0.3, -1.2, 2.0, 0.7];
    const w = Math.fround(0.01);
    expectClose(
      applyRope([a, b, c, d], 1, inv),
      [a * Math.cos(1) - c * Math.sin(1), b * Math.cos(w) - d * Math.sin(w), c * Math.cos(1) + a * Math.sin(1), d * Math.cos(w) + b * Math.sin(w)],
      1e-15,
    );
    // [1,0,0,0] at position 1 → (cos 1, 0, sin 1, 0)
    expectClose(applyRope([1, 0, 0, 0], 1, inv), [0.5403023058681398, 0, 0.8414709848078965, 0], 1e-15);
    expectClose(applyRope([a, b, c, d], 0, inv), [a, b, c, d], 0);
  });
});

// ───────────────────────────── config ─────────────────────────────

describe('resolveConfig defaults', () => {
  it('gpt2', () => {
    const c = resolveConfig({ model_type: 'gpt2', n_embd: 8, n_head: 2, n_layer: 1, vocab_size: 5, n_positions: 4 });
    expect([c.tie, c.eps, c.inner, c.act, c.headDim, c.scaleAttnWeights, c.scaleByInverseLayerIdx]).toEqual([true, 1e-5, 32, 'gelu_new', 4, true, false]);
  });
  it('llama family', () => {
    const base = { hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 5, intermediate_size: 4 };
    const l = resolveConfig({ model_type: 'llama', ...base });
    expect([l.tie, l.eps, l.kvHeads, l.headDim, l.act, l.qkvBias, l.oBias, l.mlpBias, l.slidingWindow]).toEqual([false, 1e-6, 2, 4, 'silu', false, false, false, null]);
    const lb = resolveConfig({ model_type: 'llama', ...base, attention_bias: true, mlp_bias: true, head_dim: 6 });
    expect([lb.qkvBias, lb.oBias, lb.mlpBias, lb.headDim]).toEqual([true, true, true, 6]);
    const q = resolveConfig({ model_type: 'qwen2', ...base, num_key_value_heads: 1 });
    expect([q.qkvBias, q.oBias, q.mlpBias, q.kvHeads, q.tie]).toEqual([true, false, false, 1, false]);
    expect(resolveConfig({ model_type: 'mistral', ...base, num_key_value_heads: 2 }).slidingWindow).toBe(4096);
    expect(resolveConfig({ model_type: 'mistral', ...base, num_key_value_heads: 2, sliding_window: null }).slidingWindow).toBe(null);
    expect(resolveConfig({ model_type: 'mistral', ...base, num_key_value_heads: 2, sliding_window: 3 }).slidingWindow).toBe(3);
    expect(() => resolveConfig({ model_type: 'gemma', ...base })).toThrow();
  });
});

// ───────────────────────────── GPT-2 ─────────────────────────────

describe('GPT-2 forward', () => {
  /**
   * d = 4, 2 heads (head_dim 2), 1 layer, V = 3, eps 0, gelu_new, n_inner default 16, tied.
   * wte: t0 = [1,0,−1,0], t1 = [0,1,0,−1], t2 = [0,0,1,1];  wpe: p1 = [1,0,−1,0], others 0.
   * ids = [0, 1] → x0 = [1,0,−1,0], x1 = [1,1,−1,−1].
   * ln_1 (w=1, b=0): μ = 0, σ² = 0.5 and 1 → h0 = [√2,0,−√2,0], h1 = [1,1,−1,−1].
   * c_attn ([in,out] = [4,12]): q = h·diag(1,1,2,2), k = h, v = h + [0,0,0,1].
   *   v0 = [√2,0,−√2,1], v1 = [1,1,−1,0]; position 0 sees only itself → a0 = v0.
   *   head 0 at position 1 (scale 1/√2): s10 = [1,1]·[√2,0]/√2 = 1, s11 = [1,1]·[1,1]/√2 = √2
   *     → p = σ(√2 − 1) = 0.6020977804104549;  a1[0:2] = p·[1,1] + (1−p)·[√2,0]
   *   head 1: q1 = [−2,−2]; s10 = [−2,−2]·[−√2,0]/√2 = 2, s11 = 4/√2 = 2√2
   *     → p' = σ(2√2 − 2) = 0.696022250945766;  a1[2:4] = p'·[−1,0] + (1−p')·[−√2,1]
   *   a1 = [1.164816495852347, 0.6020977804104549, −1.125911706317909, 0.303977749054234]
   * attn c_proj = I + E₀₁ (W[0][1] = 1, so y = [a0, a0+a1, a2, a3]) + bias [0,0,0.5,0]
   *   x0' = [2.414213562373095, 1.4142135623730951, −1.9142135623730951, 1]
   *   x1' = [2.164816495852347, 2.766914276262802, −1.625911706317909, −0.696022250945766]
   * MLP: c_fc weight 0, bias [1,−1,0,…] → units [g, g−1, 0…] with g = gelu_new(1) = 0.8411919906082768
   *   (gelu_new(−1) = g − 1 since gelu(x) − gelu(−x) = x); c_proj rows 0 → [1,0,0,0], 1 → [0,0,0,2]
   *   → +[g, 0, 0, 2(g−1)]
   *   y0 = [3.2554055529813715, 1.4142135623730951, −1.9142135623730951, 0.6823839812165535]
   *   y1 = [3.0060084864606234, 2.766914276262802, −1.625911706317909, −1.0136382697292126]
   * ln_f (w = [1,2,1,1], b = [0,0,0,0.25]):
   *   hidden0 = [1.2912076654362479, 0.5979389388018189, −1.4947557600914085, 0.1545786252542512]
   *   hidden1 = [1.0504493158613109, 1.8749029762523763, −1.1386330529395805, −0.5992677510479184]
   * logits = hidden·wteᵀ:
   *   logits0 = [2.7859634255276564, 0.4433603135475677, −1.3401771348371574]
   *   logits1 = [2.189082368800891, 2.4741707273002946, −1.737900803987499]
   */
  const raw: Raw = { model_type: 'gpt2', vocab_size: 3, n_positions: 4, n_embd: 4, n_layer: 1, n_head: 2, layer_norm_epsilon: 0 };
  function handWeights(prefix: string): Map<string, Float32Array> {
    const m = new Map<string, Float32Array>();
    m.set(prefix + 'wte.weight', f32([1, 0, -1, 0, 0, 1, 0, -1, 0, 0, 1, 1]));
    m.set(prefix + 'wpe.weight', f32([0, 0, 0, 0, 1, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    m.set(prefix + 'h.0.ln_1.weight', f32([1, 1, 1, 1]));
    m.set(prefix + 'h.0.ln_1.bias', f32([0, 0, 0, 0]));
    const cAttn = new Float32Array(4 * 12);
    const qDiag = [1, 1, 2, 2];
    for (let i = 0; i < 4; i++) {
      cAttn[i * 12 + i] = qDiag[i];
      cAttn[i * 12 + 4 + i] = 1;
      cAttn[i * 12 + 8 + i] = 1;
    }
    m.set(prefix + 'h.0.attn.c_attn.weight', cAttn);
    const cAttnB = new Float32Array(12);
    cAttnB[11] = 1;
    m.set(prefix + 'h.0.attn.c_attn.bias', cAttnB);
    m.set(prefix + 'h.0.attn.c_proj.weight', f32([1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]));
    m.set(prefix + 'h.0.attn.c_proj.bias', f32([0, 0, 0.5, 0]));
    m.set(prefix + 'h.0.ln_2.weight', f32([1, 1, 1, 1]));
    m.set(prefix + 'h.0.ln_2.bias', f32([0, 0, 0, 0]));
    m.set(prefix + 'h.0.mlp.c_fc.weight', new Float32Array(4 * 16));
    const fcB = new Float32Array(16);
    fcB[0] = 1;
    fcB[1] = -1;
    m.set(prefix + 'h.0.mlp.c_fc.bias', fcB);
    const mProj = new Float32Array(16 * 4);
    mProj[0 * 4 + 0] = 1;
    mProj[1 * 4 + 3] = 2;
    m.set(prefix + 'h.0.mlp.c_proj.weight', mProj);
    m.set(prefix + 'h.0.mlp.c_proj.bias', f32([0, 0, 0, 0]));
    m.set(prefix + 'ln_f.weight', f32([1, 2, 1, 1]));
    m.set(prefix + 'ln_f.bias', f32([0, 0, 0, 0.25]));
    return m;
  }
  const hidden0 = [1.2912076654362479, 0.5979389388018189, -1.4947557600914085, 0.1545786252542512];
  const hidden1 = [1.0504493158613109, 1.8749029762523763, -1.1386330529395805, -0.5992677510479184];
  const logits0 = [2.7859634255276564, 0.4433603135475677, -1.3401771348371574];
  const logits1 = [2.189082368800891, 2.4741707273002946, -1.737900803987499];

  it('matches the hand computation', () => {
    const { hidden, logits } = naiveForward(raw, handWeights(''), [0, 1]);
    expectClose(hidden[0], hidden0, 1e-12);
    expectClose(hidden[1], hidden1, 1e-12);
    expectClose(logits[0], logits0, 1e-12);
    expectClose(logits[1], logits1, 1e-12);
  });

  it('accepts the transformer. prefix, ignores attn.bias buffers and a tied lm_head.weight', () => {
    const w = handWeights('transformer.');
    w.set('transformer.h.0.attn.bias', new Float32Array(16));
    w.set('transformer.h.0.attn.masked_bias', f32([-1e4]));
    w.set('lm_head.weight', new Float32Array(12));
    const { logits } = naiveForward(raw, w, [0, 1]);
    expectClose(logits[1], logits1, 1e-12);
    w.set('transformer.h.0.mystery', new Float32Array(1));
    expect(() => naiveForward(raw, w, [0, 1])).toThrow(/unexpected/);
  });

  it('untied head uses lm_head.weight [V, d]; missing head throws', () => {
    const w = handWeights('');
    const untied = { ...raw, tie_word_embeddings: false };
    expect(() => naiveForward(untied, w, [0, 1])).toThrow(/lm_head/);
    w.set('lm_head.weight', f32([1, 0, -1, 0, 0, 1, 0, -1, 0, 0, 1, 1]));
    expectClose(naiveForward(untied, w, [0, 1]).logits[1], logits1, 1e-12);
  });

  it('layer_norm_epsilon defaults to 1e-5', () => {
    const w = gpt2Weights({ V: 7, P: 8, d: 8, layers: 2, inner: 12 }, mulberry32(1));
    const base = { model_type: 'gpt2', vocab_size: 7, n_positions: 8, n_embd: 8, n_layer: 2, n_head: 2, n_inner: 12 };
    const a = naiveForward(base, w, [1, 2, 3]).logits;
    const b = naiveForward({ ...base, layer_norm_epsilon: 1e-5 }, w, [1, 2, 3]).logits;
    const c = naiveForward({ ...base, layer_norm_epsilon: 1e-1 }, w, [1, 2, 3]).logits;
    expectClose(a[2], b[2], 0);
    expect(Math.abs(a[2][0] - c[2][0])).toBeGreaterThan(1e-6);
  });

  it('scale_attn_by_inverse_layer_idx = halving layer 1 queries; scale_attn_weights=false = doubling queries (head_dim 4)', () => {
    const shape = { V: 7, P: 8, d: 8, layers: 2, inner: 12 };
    const base = { model_type: 'gpt2', vocab_size: 7, n_positions: 8, n_embd: 8, n_layer: 2, n_head: 2, n_inner: 12 };
    const w = gpt2Weights(shape, mulberry32(2));
    const ids = [3, 1, 4, 1, 5];
    const scaleQ = (m: Map<string, Float32Array>, layer: number, f: number): Map<string, Float32Array> => {
      const out = new Map(m);
      const W = Float32Array.from(m.get(`h.${layer}.attn.c_attn.weight`)!);
      const B = Float32Array.from(m.get(`h.${layer}.attn.c_attn.bias`)!);
      for (let i = 0; i < 8; i++) for (let o = 0; o < 8; o++) W[i * 24 + o] *= f; // q = first d output columns
      for (let o = 0; o < 8; o++) B[o] *= f;
      out.set(`h.${layer}.attn.c_attn.weight`, W);
      out.set(`h.${layer}.attn.c_attn.bias`, B);
      return out;
    };
    const inv = naiveForward({ ...base, scale_attn_by_inverse_layer_idx: true }, w, ids).logits;
    const halved = naiveForward(base, scaleQ(w, 1, 0.5), ids).logits;
    for (let t = 0; t < ids.length; t++) expectClose(inv[t], halved[t], 1e-12);
    const plain = naiveForward(base, w, ids).logits;
    expect(Math.abs(plain[4][0] - inv[4][0])).toBeGreaterThan(1e-9);

    const unscaled = naiveForward({ ...base, scale_attn_weights: false }, w, ids).logits;
    const doubled = naiveForward(base, scaleQ(scaleQ(w, 0, 2), 1, 2), ids).logits;
    for (let t = 0; t < ids.length; t++) expectClose(unscaled[t], doubled[t], 1e-12);
  });

  it('causal, and left padding with explicit positions reproduces the unpadded run', () => {
    const base = { model_type: 'gpt2', vocab_size: 7, n_positions: 8, n_embd: 8, n_layer: 2, n_head: 2, n_inner: 12, activation_function: 'gelu' };
    const w = gpt2Weights({ V: 7, P: 8, d: 8, layers: 2, inner: 12 }, mulberry32(3));
    const full = naiveForward(base, w, [2, 5, 6, 1]).logits;
    const prefix = naiveForward(base, w, [2, 5]).logits;
    expectClose(full[1], prefix[1], 1e-13);
    const padded = naiveForward(base, w, [0, 0, 2, 5, 6, 1], { attentionMask: [0, 0, 1, 1, 1, 1], positionIds: [1, 1, 0, 1, 2, 3] }).logits;
    for (let t = 0; t < 4; t++) expectClose(padded[t + 2], full[t], 1e-12);
    // rows are finite even for fully masked (pad) queries
    expect(padded[0].every(Number.isFinite)).toBe(true);
    expect(() => naiveForward(base, w, [1], { positionIds: [8] })).toThrow();
  });
});

// ───────────────────────────── Llama family ─────────────────────────────

describe('Llama-family forward', () => {
  it('single token, hand-computed: attention output = v, gated MLP, untied head', () => {
    /**
     * d = 2, 1 head, head_dim 2, I = 2, eps 0, ids = [0], emb t0 = [3, 4].
     * h = RMSNorm([3,4]) = [3,4]/√12.5 = [0.848528137423857, 1.131370849898476]
     * softmax over one key = 1 → attn = v = Wv·h with Wv = [[1,2],[0,1]] → [3.111269837220809, 1.131370849898476]
     * o = Wo·v with Wo = [[0,1],[1,0]] → [1.131370849898476, 3.111269837220809]
     * x' = [4.131370849898476, 7.111269837220809]
     * hn = RMSNorm(x')·[1, 0.5] = [0.7104157281590079, 0.6114142403445284]
     * gate = [[1,0],[0,0]]·hn = [hn0, 0]; up = [[0,1],[0,0]]·hn = [hn1, 0];
     * m = [silu(hn0)·hn1, 0] = [0.2912342008808811, 0]; down = [[0,0],[1,0]]·m = [0, m0]
     * x'' = [4.131370849898476, 7.40250403810169]
     * hidden = RMSNorm(x'')·[2, 1] = [1.3784136963541436, 1.234906441972762]
     * logits = [[1,1],[1,−1]]·hidden = [2.6133201383269054, 0.14350725438138157]
     */
    const raw = llamaConfig('llama', { V: 2, d: 2, layers: 1, H: 1, KV: 1, hd: 2, I: 2 }, { rms_norm_eps: 0 });
    const rng = mulberry32(4);
    const w = new Map<string, Float32Array>([
      ['model.embed_tokens.weight', f32([3, 4, 1, 0])],
      ['model.layers.0.input_layernorm.weight', f32([1, 1])],
      ['model.layers.0.self_attn.q_proj.weight', rand(4, rng)],
      ['model.layers.0.self_attn.k_proj.weight', rand(4, rng)],
      ['model.layers.0.self_attn.v_proj.weight', f32([1, 2, 0, 1])],
      ['model.layers.0.self_attn.o_proj.weight', f32([0, 1, 1, 0])],
      ['model.layers.0.post_attention_layernorm.weight', f32([1, 0.5])],
      ['model.layers.0.mlp.gate_proj.weight', f32([1, 0, 0, 0])],
      ['model.layers.0.mlp.up_proj.weight', f32([0, 1, 0, 0])],
      ['model.layers.0.mlp.down_proj.weight', f32([0, 0, 1, 0])],
      ['model.norm.weight', f32([2, 1])],
      ['lm_head.weight', f32([1, 1, 1, -1])],
    ]);
    const hidden = [1.3784136963541436, 1.234906441972762];
    const logits = [2.6133201383269054, 0.14350725438138157];
    let out = naiveForward(raw, w, [0]);
    expectClose(out.hidden[0], hidden, 1e-12);
    expectClose(out.logits[0], logits, 1e-12);
    // q/k and the position cannot matter for a single token
    w.set('model.layers.0.self_attn.q_proj.weight', rand(4, rng));
    w.set('model.layers.0.self_attn.k_proj.weight', rand(4, rng));
    out = naiveForward(raw, w, [0], { positionIds: [7] });
    expectClose(out.logits[0], logits, 1e-12);
    // same, without the model. prefix
    const bare = new Map([...w].map(([k, v]) => [k.replace(/^model\./, ''), v]));
    expectClose(naiveForward(raw, bare, [0]).logits[0], logits, 1e-12);
  });

  it('biases: llama attention_bias (q,k,v,o) + mlp_bias; qwen2 q,k,v only', () => {
    /**
     * d = 2, x = [3, 4], eps 0. All weight matrices 0 except Wo = I and Wdown = I.
     * llama: v = bv = [1,2]; o = v + bo = [1.5, 2]; x' = [4.5, 6]
     *        gate = bg = [1,0], up = bu = [2,0] → m = [2·silu(1), 0]; down = m + bd(=[0,0.25])
     *        x'' = [4.5 + 2·0.7310585786300049, 6.25] = [5.96211715726001, 6.25]
     *        hidden = x''/rms(x'') = [0.9761552663014855, 1.0232892533745659]
     * qwen2 (no o or MLP bias): x' = [4, 6]; MLP = down(silu(0)·0) = 0; hidden = [4,6]/√26
     *        = [0.7844645405527362, 1.1766968108291043]
     */
    const z = (): Float32Array => new Float32Array(4);
    const common = (): Map<string, Float32Array> =>
      new Map([
        ['model.embed_tokens.weight', f32([3, 4])],
        ['model.layers.0.input_layernorm.weight', f32([1, 1])],
        ['model.layers.0.post_attention_layernorm.weight', f32([1, 1])],
        ['model.layers.0.self_attn.q_proj.weight', z()],
        ['model.layers.0.self_attn.k_proj.weight', z()],
        ['model.layers.0.self_attn.v_proj.weight', z()],
        ['model.layers.0.self_attn.o_proj.weight', f32([1, 0, 0, 1])],
        ['model.layers.0.self_attn.q_proj.bias', f32([0.3, -0.2])],
        ['model.layers.0.self_attn.k_proj.bias', f32([0.1, 0.4])],
        ['model.layers.0.self_attn.v_proj.bias', f32([1, 2])],
        ['model.layers.0.mlp.gate_proj.weight', z()],
        ['model.layers.0.mlp.up_proj.weight', z()],
        ['model.layers.0.mlp.down_proj.weight', f32([1, 0, 0, 1])],
        ['model.norm.weight', f32([1, 1])],
      ]);
    const shape = { V: 1, d: 2, layers: 1, H: 1, KV: 1, hd: 2, I: 2 };
    const wl = common();
    wl.set('model.layers.0.self_attn.o_proj.bias', f32([0.5, 0]));
    wl.set('model.layers.0.mlp.gate_proj.bias', f32([1, 0]));
    wl.set('model.layers.0.mlp.up_proj.bias', f32([2, 0]));
    wl.set('model.layers.0.mlp.down_proj.bias', f32([0, 0.25]));
    const llama = llamaConfig('llama', shape, { rms_norm_eps: 0, attention_bias: true, mlp_bias: true, tie_word_embeddings: true });
    expectClose(naiveForward(llama, wl, [0]).hidden[0], [0.9761552663014855, 1.0232892533745659], 1e-12);

    const qwen = llamaConfig('qwen2', shape, { rms_norm_eps: 0, tie_word_embeddings: true });
    const wq = common();
    expectClose(naiveForward(qwen, wq, [0]).hidden[0], [0.7844645405527362, 1.1766968108291043], 1e-12);
    wq.set('model.layers.0.self_attn.o_proj.bias', f32([0.5, 0]));
    expect(() => naiveForward(qwen, wq, [0])).toThrow(/unexpected/); // qwen2 never has an o bias
    expect(() => naiveForward(llamaConfig('mistral', shape, { tie_word_embeddings: true }), common(), [0])).toThrow(/unexpected/);
  });

  it('GQA: kv heads duplicated repeat-interleave style give identical output', () => {
    // heads 4, head_dim 4. kv = 1 ≡ kv = 4 with the single kv head copied 4×;
    // kv = 2 (heads 0,1 → kv 0; heads 2,3 → kv 1) ≡ kv = 4 with [k0, k0, k1, k1] (biases too, qwen2).
    const shape: LlamaShape = { V: 11, d: 8, layers: 2, H: 4, KV: 1, hd: 4, I: 12, qkvBias: true };
    for (const kv of [1, 2]) {
      const w = llamaWeights({ ...shape, KV: kv }, mulberry32(10 + kv));
      const wide = new Map(w);
      const rows = 4 / kv; // copies of each kv head
      for (let l = 0; l < 2; l++) {
        for (const name of ['k_proj', 'v_proj']) {
          const W = w.get(`model.layers.${l}.self_attn.${name}.weight`)!; // [kv·hd, d]
          const B = w.get(`model.layers.${l}.self_attn.${name}.bias`)!;
          const W4 = new Float32Array(16 * 8);
          const B4 = new Float32Array(16);
          for (let h = 0; h < 4; h++) {
            const src = Math.floor(h / rows);
            W4.set(W.subarray(src * 4 * 8, (src + 1) * 4 * 8), h * 4 * 8);
            B4.set(B.subarray(src * 4, (src + 1) * 4), h * 4);
          }
          wide.set(`model.layers.${l}.self_attn.${name}.weight`, W4);
          wide.set(`model.layers.${l}.self_attn.${name}.bias`, B4);
        }
      }
      const ids = [1, 7, 3, 9, 2];
      const a = naiveForward(llamaConfig('qwen2', { ...shape, KV: kv }), w, ids).logits;
      const b = naiveForward(llamaConfig('qwen2', { ...shape, KV: 4 }), wide, ids).logits;
      for (let t = 0; t < ids.length; t++) expectClose(a[t], b[t], 1e-12);
    }
  });

  it('RoPE is relative: shifting all positions leaves the output (nearly) unchanged', () => {
    const shape: LlamaShape = { V: 11, d: 8, layers: 2, H: 2, KV: 1, hd: 4, I: 12 };
    const w = llamaWeights(shape, mulberry32(20));
    const raw = llamaConfig('llama', shape);
    const ids = [4, 8, 1, 5];
    const a = naiveForward(raw, w, ids).logits;
    const b = naiveForward(raw, w, ids, { positionIds: [3, 4, 5, 6] }).logits;
    // equal up to the float32 rounding of the angles
    for (let t = 0; t < ids.length; t++) expectClose(a[t], b[t], 1e-5);
    expect(Math.abs(a[3][0] - b[3][0])).toBeGreaterThan(0); // but the angle rounding is visible
  });

  it('mistral sliding window W: query i sees keys i−W < j ≤ i', () => {
    const ids = [4, 8, 1, 5, 10];
    const check = (layers: number, W: number): void => {
      const shape: LlamaShape = { V: 11, d: 8, layers, H: 2, KV: 1, hd: 4, I: 12 };
      const w = llamaWeights(shape, mulberry32(30 + layers));
      const off = naiveForward(llamaConfig('mistral', shape, { sliding_window: null }), w, ids).logits;
      const def = naiveForward(llamaConfig('mistral', shape), w, ids).logits; // absent → 4096 ≫ T
      for (let t = 0; t < ids.length; t++) expectClose(def[t], off[t], 0);
      const sw = naiveForward(llamaConfig('mistral', shape, { sliding_window: W }), w, ids).logits;
      // W = 1 (any depth), or 1 layer: position t equals a full-attention run on ids[t−W+1..t] at the same positions
      for (let t = 0; t < ids.length; t++) {
        const start = Math.max(0, t - W + 1);
        const pos = ids.slice(start, t + 1).map((_, k) => start + k);
        const ref = naiveForward(llamaConfig('mistral', shape, { sliding_window: null }), w, ids.slice(start, t + 1), { positionIds: pos }).logits;
        expectClose(sw[t], ref[ref.length - 1], 1e-12);
      }
      expect(Math.abs(sw[4][0] - off[4][0])).toBeGreaterThan(1e-9);
    };
    check(2, 1);
    check(1, 2);
    check(1, 3);
  });

  it('left padding with attentionMask reproduces the unpadded run; causal prefix', () => {
    const shape: LlamaShape = { V: 11, d: 8, layers: 3, H: 4, KV: 2, hd: 2, I: 12, head: false };
    const w = llamaWeights(shape, mulberry32(40));
    const raw = llamaConfig('llama', shape, { tie_word_embeddings: true, rope_theta: 500 });
    const full = naiveForward(raw, w, [3, 6, 9]).logits;
    const padded = naiveForward(raw, w, [0, 0, 3, 6, 9], { attentionMask: [0, 0, 1, 1, 1], positionIds: [1, 1, 0, 1, 2] }).logits;
    for (let t = 0; t < 3; t++) expectClose(padded[t + 2], full[t], 1e-12);
    expect(padded[0].every(Number.isFinite)).toBe(true);
    const prefix = naiveForward(raw, w, [3, 6]).logits;
    expectClose(full[1], prefix[1], 1e-13);
  });

  it('head_dim ≠ hidden/heads and llama3 rope run; wrong tensor size throws', () => {
    const shape: LlamaShape = { V: 11, d: 8, layers: 1, H: 2, KV: 1, hd: 6, I: 12 };
    const w = llamaWeights(shape, mulberry32(50));
    const raw = llamaConfig('llama', shape, {
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
    });
    const out = naiveForward(raw, w, [1, 2, 3]);
    expect(out.logits[2].length).toBe(11);
    expect(out.hidden[2].length).toBe(8);
    expect(() => naiveForward(llamaConfig('llama', { ...shape, hd: 4 }), w, [1])).toThrow(/elements/);
  });
});

// ───────────────────────────── greedy ─────────────────────────────

describe('naiveGreedy', () => {
  it('ties go to the lowest index; stops after EOS (kept); returns only new tokens', () => {
    // all-zero GPT-2: every logit is 0 → argmax = 0 each step
    const m = gpt2Weights({ V: 5, P: 8, d: 4, layers: 1, inner: 8 }, mulberry32(60));
    for (const [k, v] of m) m.set(k, new Float32Array(v.length));
    const raw = { model_type: 'gpt2', vocab_size: 5, n_positions: 8, n_embd: 4, n_layer: 1, n_head: 1, n_inner: 8 };
    expect(naiveGreedy(raw, m, [3, 2], 3, [])).toEqual([0, 0, 0]);
    expect(naiveGreedy(raw, m, [3, 2], 3, [4, 0])).toEqual([0]);
  });

  it('equals the argmax of the last-position logits step by step', () => {
    const shape: LlamaShape = { V: 13, d: 8, layers: 2, H: 2, KV: 2, hd: 4, I: 12 };
    const w = llamaWeights(shape, mulberry32(70));
    const raw = llamaConfig('llama', shape);
    const gen = naiveGreedy(raw, w, [1, 2], 5, []);
    expect(gen.length).toBe(5);
    const seq = [1, 2];
    for (const tok of gen) {
      const last = naiveForward(raw, w, seq).logits[seq.length - 1];
      expect(last[tok]).toBe(Math.max(...last));
      seq.push(tok);
    }
    // stopping on an EOS that is generated at step 3
    expect(naiveGreedy(raw, w, [1, 2], 5, [gen[2]])).toEqual(gen.slice(0, gen.indexOf(gen[2]) + 1));
  });
});
