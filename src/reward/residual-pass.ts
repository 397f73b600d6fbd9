/**
 * The one backbone pass of a reward model with trained top blocks: the frozen lower layers run once
 * per sequence and the residual stream entering layer `fromLayer` is kept for every position, [T, d]
 * per sequence and side. The top blocks are causal, so running them over a whole cached sequence gives
 * the state of every prefix at once, as the head-only pass does with final hidden states. The states go
 * to the same FeatureStore (memory budget, float16 spill) as the head-only features.
 */
import { tf } from '../engine/tf.js';
import { yieldAndCheck } from '../engine/yield.js';
import { leftPad } from '../lm/causal-lm.js';
import { FeatureStore } from './feature-store.js';
import { featureResult, planBatchRows, planFeatureJobs, type FeaturePassOptions, type Job, type PrefixFeatures } from './features.js';

/** Residual states of every position of every planned sequence, entering layer `fromLayer`. Runs in this thread. */
export async function extractResidualStates(o: FeaturePassOptions, fromLayer: number): Promise<PrefixFeatures> {
  const started = performance.now();
  const { backbone } = o;
  const { plans, jobs } = planFeatureJobs(o);
  const batchRows = planBatchRows(o, jobs);
  const d = backbone.config.hiddenSize;
  const store = new FeatureStore(d, o.memoryBudgetBytes);
  let done = 0;
  let tokens = 0;
  let paddedTokens = 0;
  try {
    for (let start = 0; start < jobs.length; ) {
      await yieldAndCheck(o.signal, 'the feature pass');
      const count = batchRows.shift() as number;
      const batch = jobs.slice(start, start + count);
      start += count;
      const host = await residualBatch(o, batch, fromLayer);
      const T = batch[0].ids.length;
      batch.forEach((job, b) => {
        const pad = T - job.ids.length;
        store.put(job.pair, job.side, host.slice((b * T + pad) * d, (b + 1) * T * d));
        tokens += job.ids.length;
      });
      paddedTokens += T * batch.length;
      done += batch.length;
      o.onProgress?.({ kind: 'features', sequencesDone: done, sequences: jobs.length, tokens });
    }
  } catch (err) {
    store.dispose();
    throw err;
  }
  const stats = { sequences: jobs.length, tokens, paddedTokens, seconds: (performance.now() - started) / 1000 };
  return { ...featureResult(o, store, plans, stats), residualFrom: fromLayer };
}

/** One forward of the lower layers over a left-padded batch: [B·T·d] on the host. */
async function residualBatch(o: FeaturePassOptions, batch: readonly Job[], fromLayer: number): Promise<Float32Array> {
  const { ids, mask } = leftPad(batch.map((j) => j.ids), o.backbone.padId);
  const out = o.backbone.forward({ ids, mask, logits: 'none', toLayer: fromLayer }); // hidden: [B, T, d]
  const host = (await out.hidden.data()) as Float32Array;
  out.hidden.dispose();
  return host;
}
