/**
 * One optimizer update and the held-out loss, both through the shared `Transformer.forward` with
 * the training variables passed as its params override. The whole update runs in one `tf.tidy`:
 * tape, gradients, clipping and AdamW temporaries are freed before it returns.
 */
import { TrainingError } from '../errors.js';
import { tf } from '../engine/tf.js';
import type { Transformer } from '../lm/transformer.js';
import type { AdamW } from './adamw.js';
import type { Batch } from './batches.js';
import { clipByGlobalNorm } from './clip.js';
import type { TrainableModel } from './init.js';
import { meanCrossEntropy, targetLogProbs } from './loss.js';

export interface StepContext {
  model: TrainableModel;
  transformer: Transformer;
  optimizer: AdamW;
  /** Global-norm limit; 0 disables clipping. */
  clip: number;
}

/**
 * Computes the batch loss and its gradients, then applies clipping and AdamW at `lr`. `step` (1-based)
 * only names the update in errors. A non-finite loss throws before any weight changes.
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
    if (!Number.isFinite(loss)) {
      throw new TrainingError(`the training loss became ${loss} at step ${step}; lower the learning rate (lr) or keep gradient clipping on`);
    }
    const named: Record<string, tf.Tensor> = {};
    for (const p of model.params) named[p.name] = grads[p.variable.name];
    const clipped = clipByGlobalNorm(named, ctx.clip);
    optimizer.apply(clipped.grads, lr);
    return { loss, gradNorm: clipped.norm.dataSync()[0] };
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
