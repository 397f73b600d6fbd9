/** `pargs pretrain`: train a small Llama-architecture LM from a text corpus into a model folder. */
import { OptionError } from '../errors.js';
import type { PretrainEvent, PretrainOptions } from '../pretrain/options.js';
import { pretrainLM } from '../pretrain/trainer.js';
import { defineCommand } from './args.js';

/** "1h02m", "3m05s", "42s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

export const pretrainCommand = defineCommand({
  name: 'pretrain',
  summary: 'pretrain a small Llama-architecture LM on .txt files (resumable)',
  usage: 'pargs pretrain --corpus FILE|DIR --out DIR [--layers N --dim N --heads N --context T --vocab-size V --steps N --batch-size B --lr LR --seed S] [--validation-files A,B] [--resume | --overwrite] [--keep-checkpoints N] [--dtype f16|f32] [--json]',
  flags: {
    corpus: { type: 'string', help: 'a .txt file or a folder of .txt files', placeholder: 'FILE|DIR' },
    out: { type: 'string', help: 'model folder to write, whole at the end (new, empty or an earlier pargs model)', placeholder: 'DIR' },
    workDir: { type: 'string', help: 'checkpoints and caches, locked during the run (default OUT.work)', placeholder: 'DIR' },
    tokenizer: { type: 'string', help: 'use this tokenizer folder instead of training a BPE', placeholder: 'DIR' },
    layers: { type: 'number', integer: true, min: 1, default: 4, help: 'transformer blocks' },
    dim: { type: 'number', integer: true, min: 2, default: 256, help: 'hidden size' },
    heads: { type: 'number', integer: true, min: 1, default: 4, help: 'attention heads' },
    kvHeads: { type: 'number', integer: true, min: 1, help: 'key/value heads (default = heads)' },
    context: { type: 'number', integer: true, min: 2, default: 128, help: 'training window length T' },
    vocabSize: { type: 'number', integer: true, min: 258, default: 4096, help: 'BPE vocabulary size' },
    steps: { type: 'number', integer: true, min: 1, default: 2000, help: 'optimizer updates' },
    batchSize: { type: 'number', integer: true, min: 1, default: 8, help: 'windows per update' },
    lr: { type: 'number', min: 0, default: 2e-3, help: 'peak learning rate' },
    warmupSteps: { type: 'number', integer: true, min: 0, help: 'linear warm-up updates (default 5 % of steps)' },
    weightDecay: { type: 'number', min: 0, default: 0.1, help: 'AdamW weight decay on matrices' },
    clip: { type: 'number', min: 0, default: 1, help: 'global gradient-norm limit (0 = off)' },
    seed: { type: 'number', integer: true, default: 0, help: 'random seed (init and data order)' },
    evalEvery: { type: 'number', integer: true, min: 1, help: 'steps between held-out evaluations (default steps/10)' },
    evalTokens: { type: 'number', integer: true, min: 1, default: 8192, help: 'validation tokens per evaluation' },
    validationFraction: { type: 'number', min: 0, max: 1, default: 0.05, help: 'share of documents held out' },
    validationFiles: { type: 'string', help: 'hold out these .txt files instead (comma-separated; removed from a corpus folder)', placeholder: 'A,B' },
    checkpointEvery: { type: 'number', integer: true, min: 1, help: 'steps between checkpoints (default steps/20)' },
    resume: { type: 'boolean', help: 'continue from the newest valid checkpoint in the work folder' },
    overwrite: { type: 'boolean', help: 'replace an earlier model in --out and start over an unfinished run' },
    keepCheckpoints: { type: 'number', integer: true, min: 1, default: 2, help: 'checkpoints kept in the work folder' },
    untied: { type: 'boolean', help: 'separate output head instead of tied embeddings' },
    dtype: { type: 'string', default: 'f16', help: 'model.safetensors dtype: f16 | f32', placeholder: 'f16|f32' },
    progressEvery: { type: 'number', integer: true, min: 1, default: 10, help: 'steps between progress lines' },
    json: { type: 'boolean', help: 'print the summary as one JSON object' },
  },
  async run(flags, _positionals, io) {
    if (!flags.corpus) throw new OptionError('pargs pretrain: --corpus FILE|DIR is required');
    if (!flags.out) throw new OptionError('pargs pretrain: --out DIR is required');
    const dtype = flags.dtype?.toUpperCase();
    if (dtype !== 'F16' && dtype !== 'F32') throw new OptionError(`pargs pretrain: --dtype must be f16 or f32, got "${flags.dtype}"`);
    if (!(flags.validationFraction! > 0 && flags.validationFraction! < 1)) throw new OptionError('pargs pretrain: --validation-fraction must be between 0 and 1');
    const startedAt = Date.now();
    let firstStep: { step: number; at: number } | undefined;
    const onProgress = (e: PretrainEvent): void => {
      switch (e.type) {
        case 'tokenizer':
          io.err(`tokenizer: ${e.origin} (${e.vocabSize} tokens)`);
          break;
        case 'tokenize':
          io.err(`corpus: ${e.documents} documents, ${e.trainTokens} train / ${e.validationTokens} validation tokens${e.cached ? ' (cached)' : ''}`);
          break;
        case 'resume':
          io.err(`resuming at step ${e.step}`);
          break;
        case 'note':
          io.err(`note: ${e.message}`);
          break;
        case 'step': {
          firstStep ??= { step: e.step, at: Date.now() };
          if (e.step % flags.progressEvery! !== 0 && e.step !== e.steps) break;
          // Average over the steps of this run (evaluations and checkpoints included); the first
          // step alone has no history, so its own speed stands in.
          const done = e.step - firstStep.step;
          const perStep = done > 0 ? (Date.now() - firstStep.at) / done : (flags.batchSize! * flags.context! * 1000) / e.tokensPerSec;
          const eta = formatDuration(perStep * (e.steps - e.step));
          io.err(`step ${e.step}/${e.steps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${Math.round(e.tokensPerSec)} tok/s  ETA ${eta}`);
          break;
        }
        case 'eval':
          io.err(`step ${e.step}: validation loss ${e.valLoss.toFixed(4)}`);
          break;
        case 'checkpoint':
          break;
        case 'done':
          break;
      }
    };
    const options: PretrainOptions = {
      corpus: flags.corpus, out: flags.out, workDir: flags.workDir, tokenizer: flags.tokenizer,
      layers: flags.layers!, dim: flags.dim!, heads: flags.heads!, kvHeads: flags.kvHeads, context: flags.context!,
      vocabSize: flags.vocabSize!, steps: flags.steps!, batchSize: flags.batchSize!, lr: flags.lr!, warmupSteps: flags.warmupSteps,
      weightDecay: flags.weightDecay, clip: flags.clip, seed: flags.seed!, evalEvery: flags.evalEvery, evalTokens: flags.evalTokens,
      validation: flags.validationFiles !== undefined
        ? { files: flags.validationFiles.split(',').map((f) => f.trim()).filter((f) => f !== '') }
        : { fraction: flags.validationFraction },
      tieEmbeddings: !flags.untied, resume: flags.resume, overwrite: flags.overwrite, keepCheckpoints: flags.keepCheckpoints,
      checkpointEvery: flags.checkpointEvery, dtype, signal: io.signal, onProgress,
    };
    const result = await pretrainLM(options);
    const summary = {
      out: result.out, steps: result.steps, parameters: result.parameters, trainLoss: result.trainLoss,
      valLoss: result.valLoss, wallTimeMs: result.wallTimeMs, runTimeMs: Date.now() - startedAt,
    };
    if (flags.json) {
      io.out(JSON.stringify(summary));
    } else {
      io.out(`wrote ${result.out}: ${result.parameters} parameters, ${result.steps} steps in ${formatDuration(result.wallTimeMs)}`);
      io.out(`train loss ${result.trainLoss.toFixed(4)}, validation loss ${result.valLoss.toFixed(4)} (perplexity ${Math.exp(result.valLoss).toFixed(2)})`);
    }
    return 0;
  },
});
