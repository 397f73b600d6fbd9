/**
 * `pretrainLM`: trains a small Llama-architecture language model from scratch on a text corpus and
 * writes it as a Hugging Face model folder that `loadCausalLM` loads.
 *
 * Pipeline: corpus → train/validation split → tokenizer (given, cached or trained BPE) → token
 * streams (cached) → seeded init → AdamW steps on random windows with a warm-up + cosine schedule,
 * periodic held-out loss and checkpoints → model folder + training.json.
 *
 * Determinism: every random draw comes from the seed (init per tensor, data order from a resumable
 * stream), and a checkpoint stores weights, moments, step and data cursor exactly, so a run stopped
 * at step k and resumed ends with the same bits as an uninterrupted one.
 */
import { resolve } from 'node:path';
import { initBackend } from '../engine/backend.js';
import { yieldToEventLoop } from '../engine/yield.js';
import { tensorMemoryBudget } from '../engine/memory-budget.js';
import { tf } from '../engine/tf.js';
import { AbortError, CheckpointError, OptionError, throwIfAborted } from '../errors.js';
import { countParameters, type ModelConfig } from '../lm/config.js';
import { Transformer } from '../lm/transformer.js';
import { AdamW } from '../train/adamw.js';
import { validationBatches, WindowSampler } from './batches.js';
import { checkpointRoot, readCheckpoint, writeCheckpoint, type CheckpointContents } from './checkpoint.js';
import { loadCorpusSplit } from './corpus.js';
import { modelFolderRules, writeModelFolder } from './export.js';
import { claimPretrainOutput } from './output.js';
import { initLlamaModel, type TrainableModel } from './init.js';
import { checkTrainingFits, llamaConfig } from './model-config.js';
import { resolveOptions, trainingSettings, type PretrainOptions, type ResolvedOptions } from './options.js';
import { learningRate } from '../train/schedule.js';
import { bundleFrom, obtainTokenizer, type TokenizerBundle } from './tokenizer-source.js';
import { tokenizeCorpus } from './tokens.js';
import { heldOutLoss, trainStep } from './train-step.js';

export interface PretrainResult {
  out: string;
  steps: number;
  /** Mean training loss over the last (up to) 20 steps, in nats per token. */
  trainLoss: number;
  /** Held-out loss after the last step, in nats per token. */
  valLoss: number;
  wallTimeMs: number;
  parameters: number;
  config: ModelConfig;
}

const RECENT_LOSSES = 20;

function tokenizerFromCheckpoint(saved: CheckpointContents): TokenizerBundle {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(saved.tokenizerJsonText) as Record<string, unknown>;
  } catch {
    throw new CheckpointError('the checkpoint tokenizer.json is not valid JSON; the checkpoint is corrupted');
  }
  return bundleFrom(json, saved.tokenizerConfig, 'checkpoint', saved.tokenizerJsonText);
}

/** Refuses a resume whose corpus, tokenizer or weight-determining settings differ from the checkpoint's. */
function checkResumable(saved: CheckpointContents, corpusHash: string, tokenizerHash: string, settings: Record<string, unknown>): void {
  const m = saved.manifest;
  if (m.corpusHash !== corpusHash) throw new CheckpointError('the corpus (or its validation split) differs from the one the checkpoint was trained on; resume needs the same corpus');
  if (m.tokenizerHash !== tokenizerHash) throw new CheckpointError('the tokenizer differs from the checkpoint’s');
  for (const [key, value] of Object.entries(settings)) {
    if (JSON.stringify(m.settings[key]) !== JSON.stringify(value)) {
      throw new CheckpointError(`option ${key} is ${JSON.stringify(value)} but the checkpoint was trained with ${JSON.stringify(m.settings[key])}; resume with the same settings`);
    }
  }
}

function restoreWeights(model: TrainableModel, saved: CheckpointContents): void {
  for (const p of model.params) {
    const data = saved.params.get(p.name);
    if (!data || data.length !== p.variable.size) {
      throw new CheckpointError(`checkpoint parameter "${p.name}" is missing or has the wrong size`);
    }
    tf.tidy(() => p.variable.assign(tf.tensor(data, p.variable.shape)));
  }
  if (saved.params.size !== model.params.length) throw new CheckpointError('the checkpoint holds parameters this model does not have');
}

async function prepare(o: ResolvedOptions) {
  const checkpointDir = checkpointRoot(o.workDir);
  const resumeFrom = o.resume ? await readCheckpoint(checkpointDir, (message) => o.onProgress({ type: 'note', message })) : undefined;
  const split = await loadCorpusSplit(o.corpus, o.validation);
  throwIfAborted(o.signal, 'pretraining');
  const bundle = resumeFrom
    ? tokenizerFromCheckpoint(resumeFrom)
    : await obtainTokenizer({ given: o.tokenizer, train: split.train, vocabSize: o.vocabSize, corpusHash: split.hash, cacheDir: o.cacheDir, signal: o.signal });
  o.onProgress({ type: 'tokenizer', origin: bundle.origin, vocabSize: bundle.tokenizer.size });
  const streams = await tokenizeCorpus(split, bundle, o.cacheDir, o.signal);
  o.onProgress({
    type: 'tokenize', cached: streams.cached, trainTokens: streams.train.length, validationTokens: streams.validation.length,
    documents: split.train.length + split.validation.length,
  });
  const vocabSize = Math.max(bundle.tokenizer.size, bundle.eotId + 1);
  const { raw, config } = llamaConfig({
    vocabSize, layers: o.layers, dim: o.dim, heads: o.heads, kvHeads: o.kvHeads, context: o.context,
    intermediate: o.intermediate, tieEmbeddings: o.tieEmbeddings, eotId: bundle.eotId, dtype: o.dtype,
  });
  const settings = trainingSettings(o, vocabSize);
  if (resumeFrom) checkResumable(resumeFrom, split.hash, bundle.hash, settings);
  return { checkpointDir, resumeFrom, split, bundle, streams, raw, config, settings };
}

/** Pretrains a language model; see `PretrainOptions`. Rejects with `AbortError` after checkpointing when `signal` fires. */
export async function pretrainLM(options: PretrainOptions): Promise<PretrainResult> {
  const o = resolveOptions(options);
  const work = await claimPretrainOutput(o);
  try {
    return await pretrainClaimed(o);
  } finally {
    await work.release();
  }
}

async function pretrainClaimed(o: ResolvedOptions): Promise<PretrainResult> {
  const runStart = performance.now();
  await initBackend();
  checkTrainingFits({ ...o, eotId: 0 }, o, tensorMemoryBudget());
  throwIfAborted(o.signal, 'pretraining');
  const { checkpointDir, resumeFrom, split, bundle, streams, raw, config, settings } = await prepare(o);

  const model = initLlamaModel(config, o.seed);
  const optimizer = new AdamW(model.params, { beta1: o.beta1, beta2: o.beta2, weightDecay: o.weightDecay });
  const transformer = new Transformer(config, model.stored());
  try {
    if (resumeFrom) {
      restoreWeights(model, resumeFrom);
      optimizer.restore(resumeFrom.optimizer);
      o.onProgress({ type: 'resume', step: resumeFrom.manifest.step });
    }
    const m = resumeFrom?.manifest;
    const sampler = new WindowSampler(streams.train, o.context, o.batchSize, o.seed, m?.data);
    const valBatches = validationBatches(streams.validation, o.context, o.batchSize, o.evalTokens);
    if (valBatches.length === 0) throw new OptionError('the validation split has fewer than 2 tokens; give it more text');
    const schedule = { peak: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.steps };
    const priorMs = m?.elapsedMs ?? 0;
    const elapsed = (): number => priorMs + (performance.now() - runStart);
    let step = m?.step ?? 0;
    const recent = [...(m?.recentLosses ?? [])];
    let valLoss = m?.lastValLoss ?? null;
    let valStep = valLoss === null ? -1 : step;
    let savedStep = step;

    const checkpoint = async (finished: boolean): Promise<void> => {
      const moments = await optimizer.state();
      const params = [];
      for (const p of model.params) params.push({ name: p.name, shape: p.variable.shape, data: (await p.variable.data()) as Float32Array });
      const dir = await writeCheckpoint(checkpointDir, {
        manifest: {
          step, finished, settings, config: raw, corpusHash: split.hash, tokenizerHash: bundle.hash,
          data: sampler.cursor(), elapsedMs: elapsed(), recentLosses: recent, lastValLoss: valLoss,
        },
        params, optimizer: moments, tokenizerJsonText: bundle.jsonText, tokenizerConfig: bundle.tokenizerConfig,
      }, o.keepCheckpoints);
      savedStep = step;
      o.onProgress({ type: 'checkpoint', step, dir });
    };

    const ctx = { model, transformer, optimizer, clip: o.clip };
    while (step < o.steps) {
      await yieldToEventLoop(); // timers, I/O and Ctrl-C run between steps
      if (o.signal?.aborted) {
        if (step > savedStep) await checkpoint(false);
        throw new AbortError(`pretraining was aborted after step ${step}; the checkpoint in ${checkpointDir} resumes it (resume: true)`);
      }
      const t0 = performance.now();
      const lr = learningRate(step, schedule);
      const { loss, gradNorm } = trainStep(ctx, sampler.next(), lr, step + 1);
      step++;
      recent.push(loss);
      if (recent.length > RECENT_LOSSES) recent.shift();
      const seconds = (performance.now() - t0) / 1000;
      o.onProgress({
        type: 'step', step, steps: o.steps, loss, lr, gradNorm,
        tokensPerSec: (o.batchSize * o.context) / Math.max(seconds, 1e-9), elapsedMs: elapsed(),
      });
      if (step % o.evalEvery === 0 || step === o.steps) {
        valLoss = heldOutLoss(model, transformer, valBatches);
        valStep = step;
        o.onProgress({ type: 'eval', step, valLoss });
      }
      if (step % o.checkpointEvery === 0 && step < o.steps) await checkpoint(false);
    }
    if (valStep !== step || valLoss === null) {
      valLoss = heldOutLoss(model, transformer, valBatches);
      o.onProgress({ type: 'eval', step, valLoss });
    }
    const trainLoss = recent.length > 0 ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN;
    const wallTimeMs = elapsed();
    const parameters = countParameters(config);
    await writeModelFolder(o.out, {
      rawConfig: raw, model, dtype: o.dtype, tokenizer: bundle,
      training: {
        options: { ...settings, corpus: typeof o.corpus === 'string' ? o.corpus : `${o.corpus.length} texts`, validation: o.validation, evalTokens: o.evalTokens, dtype: o.dtype, tokenizer: o.tokenizer ?? 'trained byte-level BPE' },
        steps: step, tokensSeen: step * o.batchSize * o.context, parameters, wallTimeMs,
        trainLoss, lastStepLoss: recent[recent.length - 1] ?? null, validationLoss: valLoss,
        corpus: { documents: split.train.length + split.validation.length, trainTokens: streams.train.length, validationTokens: streams.validation.length, validationTokensScored: valBatches.reduce((s, b) => s + b.targets.length, 0) },
        backend: tf.getBackend(),
      },
    }, modelFolderRules(o.overwrite, o.resume));
    await checkpoint(true);
    o.onProgress({ type: 'done', steps: step, trainLoss, valLoss, out: resolve(o.out), wallTimeMs });
    return { out: resolve(o.out), steps: step, trainLoss, valLoss, wallTimeMs, parameters, config };
  } finally {
    model.dispose();
    optimizer.dispose();
    transformer.dispose();
  }
}
