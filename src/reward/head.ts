/**
 * The trainable reward head on top of a frozen backbone: r = head(h), h the backbone's final hidden
 * state (after its final norm) at the last token of `prompt ⊕ response[:t]`.
 * Linear by default (r = h·w + b); a small MLP (r = w₂·act(W₁h + b₁) + b₂) optionally.
 * The vocabulary head (FaRMA, kind 'vocab') is R = h·W + b with W [d, V]: one reward per possible next
 * token, read at the state BEFORE the token; its math lives in vocab-head.ts.
 */
import { tf } from '../engine/tf.js';
import { firstNonFinite } from '../engine/finite.js';
import { formatBytes, USABLE_FRACTION, type MemoryBudget } from '../engine/memory-budget.js';
import { CheckpointError, DisposedError, OptionError } from '../errors.js';
import { checkArgument, func, integer, required, tagged } from '../options.js';
import type { Rng } from '../random.js';

/**
 * `vocab.vocabSize` is the backbone's vocabulary size: filled in by trainPartialRM, stored in the
 * manifest, and checked against the backbone when the model is loaded.
 */
export type HeadSpec = { kind: 'linear' } | { kind: 'mlp'; hidden: number } | { kind: 'vocab'; vocabSize?: number };

export interface HostParam {
  name: string;
  shape: number[];
  data: Float32Array;
}

function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A trainable variable holding `data`; the temporary tensor is freed (tf.variable keeps its own reference). */
function variableFrom(data: Float32Array, shape: number[]): tf.Variable {
  const initial = tf.tensor(data, shape);
  const variable = tf.variable(initial, true);
  initial.dispose();
  return variable;
}

export function validateHeadSpec(spec: unknown): HeadSpec {
  const s = spec as HeadSpec;
  if (s && s.kind === 'linear') return { kind: 'linear' };
  if (s && s.kind === 'mlp') {
    if (!Number.isInteger(s.hidden) || s.hidden < 1) throw new OptionError(`head.hidden must be a positive integer, got ${JSON.stringify(s.hidden)}`);
    return { kind: 'mlp', hidden: s.hidden };
  }
  if (s && s.kind === 'vocab') {
    if (s.vocabSize !== undefined && (!Number.isInteger(s.vocabSize) || s.vocabSize < 1)) throw new OptionError(`head.vocabSize must be a positive integer, got ${JSON.stringify(s.vocabSize)}`);
    return s.vocabSize === undefined ? { kind: 'vocab' } : { kind: 'vocab', vocabSize: s.vocabSize };
  }
  throw new OptionError(`head must be { kind: 'linear' }, { kind: 'mlp', hidden: N } or { kind: 'vocab' }, got ${JSON.stringify(spec)}`);
}

/**
 * Refuses a head whose training cannot fit in tensor memory, before the (expensive) feature pass:
 * weights with AdamW moments, gradients and clipped gradients (5 copies), and per step the hidden
 * activations of both sides with their gradients (4 × 2 × batch × hidden).
 */
export function checkHeadFits(spec: HeadSpec, inputDim: number, batchSize: number, budget: MemoryBudget): void {
  if (spec.kind === 'vocab' && spec.vocabSize !== undefined) {
    // Weights, AdamW moments, gradient and clipped gradient (5 copies), plus [batch, V] rewards of both sides with gradients.
    const bytes = 4 * (5 * (inputDim + 1) * spec.vocabSize + 4 * batchSize * spec.vocabSize);
    if (bytes <= budget.availableBytes * USABLE_FRACTION) return;
    throw new OptionError(`a vocabulary head over ${spec.vocabSize} tokens needs about ${formatBytes(bytes)} to train on ${inputDim}-dimensional features, but ${formatBytes(budget.availableBytes)} of tensor memory are free (${budget.limit}); use a smaller batchSize or the linear head`);
  }
  if (spec.kind !== 'mlp') return;
  const params = inputDim * spec.hidden + 2 * spec.hidden + 1;
  const bytes = 4 * (5 * params + 8 * batchSize * spec.hidden);
  if (bytes <= budget.availableBytes * USABLE_FRACTION) return;
  const perUnit = 4 * (5 * (inputDim + 2) + 8 * batchSize);
  const fits = Math.max(0, Math.floor((budget.availableBytes * USABLE_FRACTION - 4 * 5) / perUnit));
  throw new OptionError(
    `head.hidden ${spec.hidden} (mlp:${spec.hidden}) needs about ${formatBytes(bytes)} to train on ${inputDim}-dimensional features, but ${formatBytes(budget.availableBytes)} of tensor memory are free (${budget.limit}); use a hidden width ≤ ${fits}`,
  );
}

export class RewardHead {
  private disposed = false;

  private constructor(
    readonly spec: HeadSpec,
    readonly inputDim: number,
    /** Trainable variables by name, in a fixed order. */
    readonly variables: ReadonlyMap<string, tf.Variable>,
  ) {}

  /**
   * A fresh head. Weights ~ N(0, 1/d) so initial rewards are O(1) whatever the hidden size; biases 0.
   * Drawn on the host from `rng`, so initialisation is identical on every backend. A vocabulary head
   * starts at zero (FaRMA): every token has reward 0, so untrained guidance is plain sampling.
   */
  static init(spec: HeadSpec, inputDim: number, rng: Rng): RewardHead {
    checkArgument('RewardHead.init', 'spec', spec, required(tagged('kind', { linear: {}, mlp: { hidden: required(integer({ min: 1 })) }, vocab: { vocabSize: required(integer({ min: 1 })) } })));
    checkArgument('RewardHead.init', 'inputDim', inputDim, required(integer({ min: 1 })));
    checkArgument('RewardHead.init', 'rng', rng, required(func()));
    const shapes = RewardHead.shapes(spec, inputDim);
    const vars = new Map<string, tf.Variable>();
    for (const [name, shape] of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (!name.endsWith('bias') && spec.kind !== 'vocab') {
        const std = 1 / Math.sqrt(shape[0]);
        for (let i = 0; i < size; i++) data[i] = std * normal(rng);
      }
      vars.set(name, variableFrom(data, shape));
    }
    return new RewardHead(spec, inputDim, vars);
  }

  /** A head from saved host parameters; shapes are checked against the spec. */
  static fromHost(spec: HeadSpec, inputDim: number, params: readonly HostParam[]): RewardHead {
    const byName = new Map(params.map((p) => [p.name, p]));
    const shapes = RewardHead.shapes(spec, inputDim);
    // Everything is checked before the first variable exists, so a refusal leaves no tensor behind.
    for (const [name, shape] of shapes) {
      const p = byName.get(name);
      if (!p) throw new OptionError(`reward head parameter "${name}" is missing`);
      if (p.shape.join(',') !== shape.join(',')) throw new OptionError(`reward head parameter "${name}" has shape [${p.shape}], expected [${shape}]`);
      const bad = firstNonFinite(p.data);
      if (bad >= 0) throw new CheckpointError(`reward head parameter "${name}" holds ${p.data[bad]} at index ${bad}: the head diverged or the file is corrupted; retrain it`);
    }
    const vars = new Map<string, tf.Variable>();
    for (const [name, shape] of shapes) vars.set(name, variableFrom((byName.get(name) as HostParam).data, shape));
    return new RewardHead(spec, inputDim, vars);
  }

  private static shapes(spec: HeadSpec, d: number): [string, number[]][] {
    if (spec.kind === 'linear') return [['weight', [d, 1]], ['bias', [1]]];
    if (spec.kind === 'vocab') {
      if (spec.vocabSize === undefined) throw new OptionError('a vocabulary head needs head.vocabSize (the backbone\'s vocabulary size); trainPartialRM fills it in');
      return [['weight', [d, spec.vocabSize]], ['bias', [spec.vocabSize]]];
    }
    return [['hidden.weight', [d, spec.hidden]], ['hidden.bias', [spec.hidden]], ['out.weight', [spec.hidden, 1]], ['out.bias', [1]]];
  }

  /** Rewards for features [N, d] → [N] (linear and MLP heads; a vocabulary head: see vocab-head.ts). */
  apply(features: tf.Tensor2D): tf.Tensor1D {
    this.assertLive('apply');
    if (this.spec.kind === 'vocab') throw new OptionError('a vocabulary reward head scores (state, next token) pairs, not states: use tokenRewards / vocabRewards from reward/vocab-head.ts');
    return tf.tidy(() => {
      const v = (n: string) => this.variables.get(n) as tf.Variable;
      if (this.spec.kind === 'linear') {
        return tf.reshape(tf.add(tf.matMul(features, v('weight') as tf.Tensor2D), v('bias')), [-1]) as tf.Tensor1D; // [N]
      }
      const hidden = tf.relu(tf.add(tf.matMul(features, v('hidden.weight') as tf.Tensor2D), v('hidden.bias'))); // [N, hidden]
      return tf.reshape(tf.add(tf.matMul(hidden as tf.Tensor2D, v('out.weight') as tf.Tensor2D), v('out.bias')), [-1]) as tf.Tensor1D; // [N]
    });
  }

  async toHost(): Promise<HostParam[]> {
    this.assertLive('toHost');
    const out: HostParam[] = [];
    for (const [name, v] of this.variables) out.push({ name, shape: v.shape, data: (await v.data()) as Float32Array });
    return out;
  }

  /** True after `dispose()`: the head's variables are freed. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  assertLive(fn: string): void {
    if (this.disposed) throw new DisposedError(`RewardHead.${fn}: this reward head was disposed (with its reward model); load the reward model again`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables.values()) v.dispose();
  }
}
