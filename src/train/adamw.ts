/**
 * AdamW (Loshchilov & Hutter) with the exact update order of `torch.optim.AdamW`, so hyper-parameters
 * carry over from PyTorch recipes:
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
 *   p ← p·(1 − lr·λ)                       (decoupled weight decay; only where `decay` is set)
 *   p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
 * The moments live in tf.Variables updated in place; `state()` / `restore()` move them to and from
 * host Float32Arrays bit for bit, which is what makes checkpoint resume exact.
 */
import { CheckpointError, OptionError } from '../errors.js';
import { tf } from '../engine/tf.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** λ, applied to parameters whose slot has `decay: true` (matrices; never norms or biases). */
  weightDecay?: number;
}

export interface OptimizedParam {
  name: string;
  variable: tf.Variable;
  decay: boolean;
}

interface Slot extends OptimizedParam {
  m: tf.Variable;
  v: tf.Variable;
}

/** Host copy of the optimizer state: update count and both moments of every parameter. */
export interface AdamWState {
  step: number;
  moments: Map<string, { m: Float32Array; v: Float32Array }>;
}

/** A non-trainable zero variable shaped like `like`; the temporary zeros tensor is freed. */
function zeroVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const variable = tf.variable(zeros, false);
  zeros.dispose();
  return variable;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Updates applied so far (t − 1 for the next update's bias correction). */
  step = 0;
  private readonly slots: Slot[];

  constructor(params: readonly OptimizedParam[], options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.95;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.1;
    for (const [key, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new OptionError(`AdamW ${key} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps > 0)) throw new OptionError(`AdamW eps must be positive, got ${this.eps}`);
    if (!(this.weightDecay >= 0) || !Number.isFinite(this.weightDecay)) {
      throw new OptionError(`weightDecay must be a non-negative number, got ${this.weightDecay}`);
    }
    const names = new Set<string>();
    this.slots = params.map((p) => {
      if (names.has(p.name)) throw new OptionError(`AdamW: parameter name "${p.name}" appears twice`);
      names.add(p.name);
      // Unnamed: tfjs variable names are process-global, and two trainers may coexist.
      return { ...p, m: zeroVariable(p.variable), v: zeroVariable(p.variable) };
    });
  }

  /** Applies one update with learning rate `lr`; `grads` maps parameter names to gradients. */
  apply(grads: Readonly<Record<string, tf.Tensor>>, lr: number): void {
    const t = this.step + 1;
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    const stepSize = lr / bc1;
    const invSqrtBc2 = 1 / Math.sqrt(bc2);
    tf.tidy(() => {
      for (const s of this.slots) {
        const g = grads[s.name];
        if (!g) throw new OptionError(`AdamW: no gradient for parameter "${s.name}"`);
        const m = tf.add(tf.mul(s.m, this.beta1), tf.mul(g, 1 - this.beta1)); // same shape as p
        const v = tf.add(tf.mul(s.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)); // same shape as p
        const decayed = s.decay && this.weightDecay > 0 ? tf.mul(s.variable, 1 - lr * this.weightDecay) : s.variable;
        const denom = tf.add(tf.mul(tf.sqrt(v), invSqrtBc2), this.eps); // same shape as p
        s.variable.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
        s.m.assign(m);
        s.v.assign(v);
      }
    });
    this.step = t;
  }

  async state(): Promise<AdamWState> {
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const s of this.slots) {
      moments.set(s.name, { m: (await s.m.data()) as Float32Array, v: (await s.v.data()) as Float32Array });
    }
    return { step: this.step, moments };
  }

  /** Overwrites the moments and step count with a saved state (shapes must match). */
  restore(state: AdamWState): void {
    for (const s of this.slots) {
      const saved = state.moments.get(s.name);
      if (!saved) throw new CheckpointError(`optimizer state has no moments for parameter "${s.name}"`);
      if (saved.m.length !== s.m.size || saved.v.length !== s.v.size) {
        throw new CheckpointError(`optimizer moments of "${s.name}" have ${saved.m.length} values, expected ${s.m.size}`);
      }
      tf.tidy(() => {
        s.m.assign(tf.tensor(saved.m, s.m.shape));
        s.v.assign(tf.tensor(saved.v, s.v.shape));
      });
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
    }
  }
}
