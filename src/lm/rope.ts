/**
 * Rotary position embeddings exactly as Hugging Face computes them: inverse frequencies and angles
 * rounded to float32 (`Math.fround`), half-split layout (cos and sin duplicated as [θ, θ]).
 * Tables are built on the host for just the positions a forward needs, so no [maxPositions, dim]
 * table is ever allocated (131k positions for Llama 3).
 */
import type { ModelConfig } from './config.js';

/** inv_freq[i] = 1 / theta^(2i/dim), then adjusted for the configured scaling; float32-rounded. */
export function ropeInverseFrequencies(config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const dim = config.headDim;
  const half = dim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    // HF: 1.0 / (base ** (torch.arange(0, dim, 2, dtype=int64).float() / dim)) in float32.
    const exponent = Math.fround((2 * i) / dim);
    inv[i] = Math.fround(1 / Math.fround(Math.pow(config.ropeTheta, exponent)));
  }
  const s = config.ropeScaling;
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
  return inv;
}

/**
 * cos and sin for each position, laid out [positions.length, headDim] with the half-split duplication,
 * ready to broadcast against q/k of shape [B·T, heads, headDim].
 */
export function ropeTables(invFreq: Float32Array, positions: ArrayLike<number>): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const dim = 2 * half;
  const cos = new Float32Array(positions.length * dim);
  const sin = new Float32Array(positions.length * dim);
  for (let p = 0; p < positions.length; p++) {
    const base = p * dim;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[p] * invFreq[i]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
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
 * matMul: cheaper on wasm than slicing and concatenating halves, and trivially differentiable.
 */
export function rotateHalfMatrix(dim: number): Float32Array {
  const half = dim / 2;
  const r = new Float32Array(dim * dim);
  for (let i = 0; i < half; i++) {
    r[(i + half) * dim + i] = -1; // out[i] = −x[i + half]
    r[i * dim + (i + half)] = 1; // out[i + half] = x[i]
  }
  return r;
}
