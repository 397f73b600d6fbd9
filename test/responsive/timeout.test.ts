/**
 * Long calls stay responsive: with a real `AbortSignal.timeout(200)`, each long-running public function
 * rejects with AbortError within one step of the timer firing, a `setInterval` keeps firing while it
 * runs, and no tensor is left behind. Each workload takes over a second unaborted (measured on the old
 * code, where the timer never fired and every call here except pretrainLM's resolved instead).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bestOfN } from '../../src/parallel/dispatch.js';
import { generate } from '../../src/parallel/dispatch.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { AbortError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { evaluateLM } from '../../src/pretrain/eval-lm.js';
import { pretrainLM } from '../../src/pretrain/trainer.js';
import { createRng } from '../../src/random.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { RewardHead } from '../../src/reward/head.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadRewardModel, PartialRewardModel } from '../../src/reward/reward-model.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { removeTempDirs, tempDir, toyOptions } from '../pretrain/helpers.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let rm: PartialRewardModel;
beforeAll(async () => {
  // A context long enough for the long generations below: bestOfN refuses, before generating, samples its
  // reward model would have to score past the context.
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71, hidden: 32, config: { max_position_embeddings: 512 } })).dir);
  rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(1, 'head-init')), 'partial');
});
afterAll(async () => {
  rm.dispose();
  lm.dispose();
  await removeTempDirs();
});

const TIMEOUT_MS = 200;

interface Outcome {
  error: unknown;
  /** From the signal's abort event to the call's rejection. */
  latencyMs: number;
  /** Ticks of a 20 ms interval while the call ran. */
  ticks: number;
  leaked: number;
  /** Progress events (tokens, batches, steps) the call reported after the signal fired. */
  eventsAfterAbort: number;
}

/** Runs `call` under AbortSignal.timeout(200); `event` is for the call's progress callback. */
async function underTimeout(call: (signal: AbortSignal, event: () => void) => Promise<unknown>): Promise<Outcome> {
  const before = tf.memory().numTensors;
  let ticks = 0;
  const interval = setInterval(() => ticks++, 20);
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  let abortedAt = Number.NaN;
  signal.addEventListener('abort', () => (abortedAt = performance.now()));
  let eventsAfterAbort = 0;
  let error: unknown;
  try {
    await call(signal, () => signal.aborted && eventsAfterAbort++);
  } catch (e) {
    error = e;
  }
  const latencyMs = performance.now() - abortedAt;
  clearInterval(interval);
  return { error, latencyMs, ticks, leaked: tf.memory().numTensors - before, eventsAfterAbort };
}

/** One step of these tiny models takes a few ms; the bound leaves room for a loaded 2-core machine. */
const LATENCY_BOUND_MS = 250;

function expectResponsiveAbort(o: Outcome, maxEventsAfterAbort = Infinity, latencyBoundMs = LATENCY_BOUND_MS): void {
  expect(o.error).toBeInstanceOf(AbortError);
  expect(o.ticks).toBeGreaterThan(0);
  expect(o.latencyMs).toBeLessThan(latencyBoundMs);
  expect(o.eventsAfterAbort).toBeLessThanOrEqual(maxEventsAfterAbort);
  expect(o.leaked).toBe(0);
}

const PROMPTS = Array.from({ length: 16 }, (_, i) => [260, 10 + i, 20 + i]);

/** The synthetic preference task of the trainer tests: chosen starts with 120, rejected with 130. */
function pairs(n: number, seed: number, filler = 4): TokenPair[] {
  const rng = createRng(seed, 'synthetic');
  const fill = () => Array.from({ length: filler }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, () => ({ promptIds: [260, 5 + Math.floor(rng() * 50)], chosenIds: [120, ...fill(), 130], rejectedIds: [130, ...fill(), 120] }));
}

describe('AbortSignal.timeout(200) stops long calls within one step', () => {
  it('generate', async () => {
    const o = await underTimeout((signal, event) => generate({ lm, promptIds: PROMPTS, maxNewTokens: 400, stopAtEos: false, strategy: { kind: 'sample' }, signal, onToken: event }));
    expectResponsiveAbort(o, PROMPTS.length); // at most the rows of one step
  });

  it('guidedSample', async () => {
    const o = await underTimeout((signal, event) => guidedSample({ lm, rewardModel: rm, promptIds: PROMPTS, maxNewTokens: 250, topK: 8, stop: { eos: false }, signal, onToken: event }));
    expectResponsiveAbort(o, PROMPTS.length);
  });

  it('bestOfN', async () => {
    const o = await underTimeout((signal) => bestOfN({ lm, rewardModel: rm, promptIds: PROMPTS, n: 4, maxNewTokens: 250, stopAtEos: false, signal }));
    expectResponsiveAbort(o);
  });

  it('trainPartialRM during the feature pass, leaving a step-0 checkpoint that resumes exactly', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'pargs-timeout-')), 'rm');
    const options = { backbone: lm, pairs: pairs(1500, 1, 12), tokensPerBatch: 48, epochs: 1, batchSize: 512, lr: 0.02, seed: 3, checkpointDir: dir };
    const o = await underTimeout((signal, event) => trainPartialRM({ ...options, signal, onProgress: (e) => e.kind === 'features' && event() }));
    // The pass stops within one batch (at most one progress event after the abort); the rejection then
    // waits for the step-0 checkpoint (written, checksummed and locked), so its bound is wider.
    expectResponsiveAbort(o, 1, 2000);
    expect((o.error as Error).message).toContain('feature pass');
    const start = await loadRewardModel(join(dir, 'checkpoints', 'step-00000000'), lm); // the step-0 checkpoint is a loadable reward model
    start.dispose();

    const events: string[] = [];
    const resumed = await trainPartialRM({ ...options, resume: true, onProgress: (e) => e.kind === 'resumed' && events.push(`resumed at ${e.step}`) });
    const fresh = await trainPartialRM({ ...options, pairs: options.pairs, checkpointDir: undefined });
    expect(events).toEqual(['resumed at 0']);
    const bits = async (m: PartialRewardModel) => (await m.head.toHost()).flatMap((p) => [...p.data]);
    expect(await bits(resumed)).toEqual(await bits(fresh));
    resumed.dispose();
    fresh.dispose();
  });

  it('trainPartialRM during the optimizer steps', async () => {
    const train = pairs(64, 2);
    const features = await extractPrefixFeatures({ backbone: lm, pairs: train, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } });
    try {
      const o = await underTimeout((signal, event) =>
        trainPartialRM({ backbone: lm, pairs: train, features, epochs: 150, batchSize: 8, lr: 0.01, seed: 4, signal, onProgress: (e) => e.kind === 'step' && event() }),
      );
      expectResponsiveAbort(o, 1);
      expect((o.error as Error).message).toMatch(/aborted after step \d+/);
    } finally {
      features.store.dispose();
    }
  });

  it('evaluateLM', async () => {
    const text = 'the theory of the thing, and then the other thing. '.repeat(60);
    const o = await underTimeout((signal) => evaluateLM({ lm, texts: Array.from({ length: 8 }, () => text), context: 64, stride: 4, batchSize: 4, signal }));
    expectResponsiveAbort(o);
  });

  it('pretrainLM', async () => {
    const root = await tempDir();
    const o = await underTimeout((signal, event) =>
      pretrainLM(toyOptions(join(root, 'out'), { workDir: join(root, 'work'), steps: 100_000, evalEvery: 100_000, signal, onProgress: (e) => e.type === 'step' && event() })),
    );
    expectResponsiveAbort(o, 1);
  });
});
