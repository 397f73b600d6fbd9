/**
 * Rotary position embeddings exactly as Hugging Face computes them: inverse frequencies and angles
 * rounded to float32 (`Math.fround`), half-split layout (cos and sin duplicated as [θ, θ]).
 * Tables are built on the host for just the positions a forward needs, so no [maxPositions, dim]
 * table is ever allocated (131k positions for Llama 3).
 */
import type { ModelConfig, RopeScaling } from './config.js';

/** What a forward needs to rotate q and k: the inverse frequencies and yarn's cos/sin multiplier. */
export interface RopeFrequencies {
  invFreq: Float32Array;
  /** transformers' `attention_scaling`: multiplies cos and sin (1 except for yarn). */
  attentionScaling: number;
}

/** `rotaryDim` (the rotated channels per head) sizes the frequencies: GPT-NeoX rotates only part of a head. */
type RopeConfig = Pick<ModelConfig, 'rotaryDim' | 'ropeTheta' | 'ropeScaling' | 'maxPositions'>;

/** HF: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), the power and the division in float32. */
function defaultInverseFrequencies(theta: number, dim: number): Float32Array {
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const exponent = Math.fround((2 * i) / dim);
    inv[i] = Math.fround(1 / Math.fround(Math.pow(theta, exponent)));
  }
  return inv;
}

/** YaRN (transformers `_compute_yarn_parameters`, v5 reading: the configured factor is used as given). */
function yarnFrequencies(theta: number, dim: number, s: Extract<RopeScaling, { type: 'yarn' }>): RopeFrequencies {
  const getMscale = (scale: number, mscale = 1): number => (scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1);
  let attentionScaling = s.attentionFactor ?? getMscale(s.factor);
  if (s.attentionFactor === undefined && s.mscale && s.mscaleAllDim) {
    attentionScaling = getMscale(s.factor, s.mscale) / getMscale(s.factor, s.mscaleAllDim);
  }
  // Which dimension completes `rotations` turns over the original context (a Python float in HF).
  const correctionDim = (rotations: number): number =>
    (dim * Math.log(s.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = correctionDim(s.betaFast);
  let high = correctionDim(s.betaSlow);
  if (s.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001; // HF's guard against a zero-width ramp
  const half = dim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const posFreq = Math.fround(Math.pow(theta, Math.fround((2 * i) / dim)));
    const extrapolation = Math.fround(1 / posFreq);
    const interpolation = Math.fround(1 / Math.fround(s.factor * posFreq));
    const ramp = Math.min(Math.max(Math.fround((i - low) / (high - low)), 0), 1);
    const extrapolationWeight = Math.fround(1 - ramp);
    invFreq[i] = Math.fround(
      Math.fround(interpolation * Math.fround(1 - extrapolationWeight)) + Math.fround(extrapolation * extrapolationWeight),
    );
  }
  return { invFreq, attentionScaling };
}

/**
 * The rotary frequencies for a forward whose largest position is `seqLen − 1`. Only dynamic NTK depends
 * on it: past `maxPositions` the base grows to θ·((f·seqLen/maxPositions) − (f − 1))^(dim/(dim − 2)).
 */
export function ropeFrequencies(config: RopeConfig, seqLen = 0): RopeFrequencies {
  // transformers: dim = int(head_dim · partial_rotary_factor) for every rope type, NTK's exponent included.
  const dim = config.rotaryDim;
  const s = config.ropeScaling;
  if (s.type === 'yarn') return yarnFrequencies(config.ropeTheta, dim, s);
  if (s.type === 'dynamic') {
    const len = Math.max(seqLen, config.maxPositions);
    const theta = config.ropeTheta * Math.pow((s.factor * len) / config.maxPositions - (s.factor - 1), dim / (dim - 2));
    return { invFreq: defaultInverseFrequencies(theta, dim), attentionScaling: 1 };
  }
  const inv = defaultInverseFrequencies(config.ropeTheta, dim);
  const half = dim / 2;
  if (s.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = Math.fround(inv[i] / s.factor);
  } else if (s.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) {
        inv[i] = Math.fround(inv[i] / s.factor);
      } else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = Math.fround((1 - smooth) * (inv[i] / s.factor) + smooth * inv[i]);
      }
    }
  }
  return { invFreq: inv, attentionScaling: 1 };
}

/** inv_freq for the configured scaling at lengths within `maxPositions` (float32-rounded). */
export function ropeInverseFrequencies(config: RopeConfig): Float32Array {
  return ropeFrequencies(config).invFreq;
}

/**
 * cos and sin for each position, laid out [positions.length, headDim] with the half-split duplication
 * over the first 2·invFreq.length channels, ready to broadcast against q/k of shape [B·T, heads, headDim].
 * Channels past the rotated ones (partial rotary; `headDim` defaults to exactly the rotated ones) get
 * cos 1 and sin 0, so x·cos + rotate_half(x)·sin leaves them exactly as they are, as transformers does.
 */
export function ropeTables(invFreq: Float32Array, positions: ArrayLike<number>, attentionScaling = 1, headDim = 2 * invFreq.length): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const dim = headDim;
  const cos = new Float32Array(positions.length * dim).fill(1);
  const sin = new Float32Array(positions.length * dim);
  for (let p = 0; p < positions.length; p++) {
    const base = p * dim;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[p] * invFreq[i]);
      // HF multiplies the float32 cos/sin by attention_scaling (yarn's mscale), then rounds to float32.
      const c = Math.fround(Math.fround(Math.cos(angle)) * attentionScaling);
      const s = Math.fround(Math.fround(Math.sin(angle)) * attentionScaling);
      cos[base + i] = c;
      cos[base + half + i] = c;
      sin[base + i] = s;
      sin[base + half + i] = s;
    }
  }
  return { cos, sin };
}

/**
 * rotate_half(x) = [−x₂, x₁] as a signed permutation matrix R ([dim, dim]), so that x·R is one plain
 * matMul: cheaper on wasm than slicing and concatenating halves, and trivially differentiable. With
 * `rotaryDim` < dim (partial rotary) the halves are those of the first `rotaryDim` channels and the
 * other columns are zero (their sin is 0 anyway).
 */
export function rotateHalfMatrix(dim: number, rotaryDim = dim): Float32Array {
  const half = rotaryDim / 2;
  const r = new Float32Array(dim * dim);
  for (let i = 0; i < half; i++) {
    r[(i + half) * dim + i] = -1; // out[i] = −x[i + half]
    r[i * dim + (i + half)] = 1; // out[i + half] = x[i]
  }
  return r;
}
