/**
 * One optimizer update and the held-out loss, both through the shared `Transformer.forward` with
 * the training variables passed as its params override. The whole update runs in one `tf.tidy`:
 * tape, gradients, clipping and AdamW temporaries are freed before it returns.
 */
import { assertFiniteStep, assertFiniteWeights } from '../engine/finite.js';
import { tf } from '../engine/tf.js';
import type { Transformer } from '../lm/transformer.js';
import type { AdamW } from '../train/adamw.js';
import type { Batch } from './batches.js';
import { clipByGlobalNorm } from '../train/clip.js';
import type { TrainableModel } from './init.js';
import { meanCrossEntropy, targetLogProbs } from './loss.js';

const HINT = 'Lower the learning rate (lr) or keep gradient clipping on (clip).';

export interface StepContext {
  model: TrainableModel;
  transformer: Transformer;
  optimizer: AdamW;
  /** Global-norm limit; 0 disables clipping. */
  clip: number;
}

/**
 * Computes the batch loss and its gradients, then applies clipping and AdamW at `lr`. `step` (1-based)
 * only names the update in errors. A non-finite loss or gradient norm throws a `TrainingError` before any
 * weight changes; weights the update made non-finite throw right after it, before the caller can save them.
 */
export function trainStep(ctx: StepContext, batch: Batch, lr: number, step: number): { loss: number; gradNorm: number } {
  const { model, transformer, optimizer } = ctx;
  const variables = model.params.map((p) => p.variable);
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      // The tied head (embedᵀ) is computed inside the tape, so its gradient reaches the embedding.
      const out = transformer.forward({ ids: batch.ids, logits: 'all' }, model.view());
      return meanCrossEntropy(out.logits as tf.Tensor, batch.targets); // scalar over [B, T]
    }, variables);
    const loss = value.dataSync()[0];
    const named: Record<string, tf.Tensor> = {};
    for (const p of model.params) named[p.name] = grads[p.variable.name];
    const clipped = clipByGlobalNorm(named, ctx.clip);
    const gradNorm = clipped.norm.dataSync()[0];
    assertFiniteStep('pretrainLM', step, { loss, gradNorm }, HINT);
    optimizer.apply(clipped.grads, lr);
    assertFiniteWeights('pretrainLM', step, model.params, HINT);
    return { loss, gradNorm };
  });
}

/** Mean next-token loss in nats over all targets of `batches` (no gradients). */
export function heldOutLoss(model: TrainableModel, transformer: Transformer, batches: readonly Batch[]): number {
  let total = 0;
  let count = 0;
  for (const b of batches) {
    total += tf.tidy(() => {
      const out = transformer.forward({ ids: b.ids, logits: 'all' }, model.view());
      return tf.sum(targetLogProbs(out.logits as tf.Tensor, b.targets)).dataSync()[0]; // Σ log p over [B, T]
    });
    count += b.targets.length;
  }
  return -total / count;
}
