/**
 * The feature pass on worker threads. The main thread plans the jobs and cuts them into batches exactly
 * as the in-process pass does, and sends whole batches: every batch is the same forward (same rows, same
 * left padding) whichever worker runs it, so the features are bit-identical to one thread. Results are
 * stored in batch order, so the store (and its spill file) fills exactly as in one thread.
 */
import { FeatureStore } from '../reward/feature-store.js';
import { featureResult, storeBatch, type FeaturePassOptions, type Job, type PrefixFeatures } from '../reward/features.js';
import { requestedWorkers, resolveWorkers } from './count.js';
import { runOnWorkers } from './pool.js';
import { weightBytes } from './models.js';

/** The pass on workers, or undefined when it runs in this thread (1 worker, one batch, or an in-memory backbone). */
export function extractOnWorkers(o: FeaturePassOptions, plans: PrefixFeatures['plans'], jobs: Job[], batchRows: readonly number[]): Promise<PrefixFeatures> | undefined {
  const { backbone } = o;
  // An in-memory backbone (no folder) cannot be loaded by a worker; an explicit 1 needs no planning here.
  if (!backbone.source || requestedWorkers(o.workers, Infinity) <= 1) return undefined;
  const batches: Job[][] = [];
  let start = 0;
  for (const count of batchRows) {
    batches.push(jobs.slice(start, start + count));
    start += count;
  }
  if (batches.length < 2) return undefined;
  const work = batches.reduce((sum, b) => sum + b[0].ids.length * b.length, 0) * backbone.parameterCount; // padded tokens × parameters
  const workers = Math.min(resolveWorkers(o.workers, work, weightBytes(backbone)), batches.length);
  if (workers <= 1) return undefined;
  return run(o, plans, jobs, batches, workers);
}

async function run(o: FeaturePassOptions, plans: PrefixFeatures['plans'], jobs: Job[], batches: Job[][], workers: number): Promise<PrefixFeatures> {
  const { backbone } = o;
  const started = performance.now();
  const d = backbone.config.hiddenSize;
  const store = new FeatureStore(d, o.memoryBudgetBytes);
  const arrived = new Map<number, Float32Array>();
  let stored = 0;
  let done = 0;
  let tokens = 0;
  let paddedTokens = 0;
  const storeInOrder = (): void => {
    for (let host = arrived.get(stored); host; host = arrived.get(stored)) {
      arrived.delete(stored);
      const batch = batches[stored++];
      tokens += storeBatch(store, batch, host, d);
      paddedTokens += batch[0].ids.length * batch.length;
      done += batch.length;
      o.onProgress?.({ kind: 'features', sequencesDone: done, sequences: jobs.length, tokens });
    }
  };
  try {
    await runOnWorkers({
      workers,
      init: { backend: backbone.backend.name, lm: { dir: backbone.source, fingerprint: backbone.fingerprint } },
      tasks: batches.map((batch) => ({ kind: 'features', jobs: batch.map((j) => ({ ids: j.ids, positions: j.positions })) })),
      what: 'the feature pass',
      signal: o.signal,
      onResult: (index, value) => {
        arrived.set(index, value as Float32Array);
        storeInOrder();
      },
    });
  } catch (err) {
    store.dispose();
    throw err;
  }
  return featureResult(o, store, plans, { sequences: jobs.length, tokens, paddedTokens, seconds: (performance.now() - started) / 1000 });
}
