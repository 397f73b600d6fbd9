/** `pargs pretrain`: train a small Llama-architecture LM from a text corpus into a model folder. */
import { OptionError } from '../errors.js';
import type { PretrainEvent, PretrainOptions } from '../pretrain/options.js';
import { pretrainLM } from '../pretrain/trainer.js';
import { formatDuration } from '../progress/format.js';
import { defineCommand } from './args.js';
import { cliProgress } from './progress.js';

/** Re-exported: the progress display's duration format ("1h02m", "3m05s", "42s"). */
export { formatDuration };

export const pretrainCommand = defineCommand({
  name: 'pretrain',
  summary: 'pretrain a small Llama-architecture LM on .txt files (resumable)',
  usage: 'pargs pretrain --corpus FILE|DIR --out DIR [--layers N --dim N --heads N --context T --vocab-size V --steps N --batch-size B --lr LR --seed S] [--validation-files A,B] [--resume | --overwrite] [--keep-checkpoints N] [--dtype f16|f32] [--json]',
  flags: {
    corpus: { type: 'string', help: 'a .txt file or a folder of .txt files', placeholder: 'FILE|DIR' },
    out: { type: 'string', help: 'model folder to write at the end (new, empty or an earlier pargs model; other files in it are kept)', placeholder: 'DIR' },
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
    progressEvery: { type: 'number', integer: true, min: 1, default: 10, help: 'steps between progress lines when stderr is not a terminal (a terminal shows a bar)' },
    json: { type: 'boolean', help: 'print the summary as one JSON object' },
  },
  async run(flags, _positionals, io) {
    if (!flags.corpus) throw new OptionError('pargs pretrain: --corpus FILE|DIR is required');
    if (!flags.out) throw new OptionError('pargs pretrain: --out DIR is required');
    const dtype = flags.dtype?.toUpperCase();
    if (dtype !== 'F16' && dtype !== 'F32') throw new OptionError(`pargs pretrain: --dtype must be f16 or f32, got "${flags.dtype}"`);
    if (!(flags.validationFraction! > 0 && flags.validationFraction! < 1)) throw new OptionError('pargs pretrain: --validation-fraction must be between 0 and 1');
    const startedAt = Date.now();
    // A bar with rate and ETA on a terminal; piped, a line every --progress-every steps (and each tenth).
    const onProgress = cliProgress(io, {
      json: flags.json,
      every: flags.progressEvery,
      describe: (event) => {
        const e = event as PretrainEvent;
        if (e.type === 'tokenizer') return `tokenizer: ${e.origin} (${e.vocabSize} tokens)`;
        if (e.type === 'tokenize') return `corpus: ${e.documents} documents, ${e.trainTokens} train / ${e.validationTokens} validation tokens${e.cached ? ' (cached)' : ''}`;
        if (e.type === 'resume') return `resuming at step ${e.step}`;
        if (e.type === 'eval') return `step ${e.step}: validation loss ${e.valLoss.toFixed(4)}`;
        if (e.type === 'checkpoint' || e.type === 'done') return ''; // the summary on stdout says it
        return undefined;
      },
    });
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
