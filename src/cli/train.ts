/** `pargs train`: preference file → partial (or full-sequence) reward model, with progress on stderr. */
import { resolveMaxLength } from './max-length.js';
import { encodePreferences, formatDropReport, loadPreferences, splitPairs } from '../data/index.js';
import { FORMATS } from '../data/formats.js';
import type { PreferenceFormat } from '../data/types.js';
import { OptionError } from '../errors.js';
import { inspectOutputDir } from '../io/output-dir.js';
import { loadCausalLM } from '../lm/load.js';
import { createRng } from '../random.js';
import type { RewardDiagnostics } from '../reward/diagnostics.js';
import { loadFeatureShards } from '../reward/feature-shards.js';
import { type TrainEvent } from '../reward/trainer.js';
import { trainPartialRM } from '../parallel/dispatch.js';
import { loadRewardModel, type PartialRewardModel } from '../reward/reward-model.js';
import { join } from 'node:path';
import { defineCommand } from './args.js';
import { cliProgress } from './progress.js';

export function formatDiagnostics(d: RewardDiagnostics): string {
  const deciles = d.prefixAccuracyByDecile.map((a) => (Number.isNaN(a) ? '  – ' : a.toFixed(2))).join(' ');
  return [
    `pairs ${d.pairs}  full-response accuracy ${d.fullAccuracy.toFixed(3)}  prefix accuracy ${d.prefixAccuracy.toFixed(3)}  prefix loss ${d.prefixLoss.toFixed(4)}`,
    `mean margin ${d.meanMargin.toFixed(3)}  reward mean ${d.rewardMean.toFixed(3)} ± ${d.rewardStd.toFixed(3)}`,
    `prefix accuracy by position in the response (tenths): ${deciles}`,
  ].join('\n');
}

/** `n` of `items`, chosen by `rng` (same seed, same subsample), in the order the keys sort. */
function seededSubsample<T>(items: readonly T[], n: number, rng: () => number): T[] {
  return items.map((p) => ({ p, key: rng() })).sort((a, b) => a.key - b.key).slice(0, n).map((x) => x.p);
}

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train a partial-sequence (or full-sequence) reward head on preference data',
  usage: 'pargs train --model DIR --data FILE [--eval FILE] --out DIR [--mode partial|full] [--prefix all|sample] [--format NAME] [--over-length drop|truncate] [--epochs N] [--batch-size N] [--lr X] [--min-prefix N] [--weighting per-prefix|per-pair] [--margin M] [--weight-decay X] [--warmup-ratio R] [--eval-every N] [--max-pairs N] [--eval-pairs N] [--seed S] [--checkpoint-every N] [--keep-checkpoints N] [--init-rm DIR] [--save-format pargs|hf] [--resume | --overwrite] [--json]',
  flags: {
    model: { type: 'string', help: 'frozen backbone: a local Hugging Face model folder', placeholder: 'DIR' },
    data: { type: 'string', help: 'preference pairs (.jsonl, .jsonl.gz, .json): TRL, HH-RLHF or summarize format', placeholder: 'FILE' },
    format: { type: 'string', default: 'auto', help: `format of --data and --eval: auto (detected from the rows) or ${FORMATS.join(', ')}`, placeholder: 'NAME' },
    overLength: { type: 'string', default: 'drop', help: 'pairs longer than --max-length: drop them, or truncate both responses', placeholder: 'drop|truncate' },
    eval: { type: 'string', help: 'held-out pairs for diagnostics (default: hold out --eval-fraction of --data)', placeholder: 'FILE' },
    evalFraction: { type: 'number', min: 0, max: 0.9, default: 0.1, help: 'share of --data held out when --eval is not given' },
    out: { type: 'string', help: 'output folder (new, empty or an earlier pargs train result): the reward model, with its checkpoints in DIR/checkpoints', placeholder: 'DIR' },
    mode: { type: 'string', default: 'partial', help: 'partial (prefixes, PARGS) or full (complete responses, ARGS)', placeholder: 'MODE' },
    prefix: { type: 'string', default: 'all', help: 'all prefixes per pair, or sample --prefix-samples of them per epoch', placeholder: 'all|sample' },
    prefixSamples: { type: 'number', integer: true, min: 1, default: 8, help: 'prefixes drawn per pair per epoch with --prefix sample' },
    alignment: { type: 'string', default: 'eos', help: 'eos (pad the shorter response with EOS) or shortest', placeholder: 'eos|shortest' },
    head: { type: 'string', default: 'linear', help: 'linear, mlp:H for an MLP head with H hidden units, or vocab (FaRMA: a reward per next token)', placeholder: 'KIND' },
    unfreeze: { type: 'number', integer: true, min: 1, help: 'also train the top M transformer blocks and the final norm with the head (default: the head only); saved as OUT/blocks.safetensors', placeholder: 'M' },
    objective: { type: 'string', default: 'bt-prefix', help: 'bt-prefix (PARGS prefix pairs) or farma (vocab head: rounds of complete-response BT and max-consistency)', placeholder: 'NAME' },
    epochs: { type: 'number', integer: true, min: 1, default: 2, help: 'passes over the prefix pairs' },
    batchSize: { type: 'number', integer: true, min: 1, default: 256, help: 'prefix pairs per step' },
    lr: { type: 'number', min: 0, default: 1e-3, help: 'peak learning rate of the head' },
    minPrefix: { type: 'number', integer: true, min: 1, default: 1, help: 'shortest response prefix compared, in tokens' },
    weighting: { type: 'string', default: 'per-prefix', help: 'per-prefix (the paper: long pairs weigh more) or per-pair', placeholder: 'per-prefix|per-pair' },
    margin: { type: 'number', min: 0, default: 0, help: 'Bradley–Terry margin m in −log σ(Δ − m) for rows without their own margin column' },
    weightDecay: { type: 'number', min: 0, help: 'AdamW weight decay of the head (default: the library\'s)' },
    warmupRatio: { type: 'number', min: 0, max: 1, default: 0.05, help: 'fraction of steps spent warming the learning rate up' },
    evalEvery: { type: 'number', integer: true, min: 1, help: 'steps between evaluations (default: each epoch and the end)' },
    maxPairs: { type: 'number', integer: true, min: 1, help: 'use at most N training pairs (a seeded subsample); caps the held-out pairs too unless --eval-pairs is given' },
    evalPairs: { type: 'number', integer: true, min: 1, help: 'use at most N held-out pairs (a seeded subsample; default: --max-pairs when given, else all)' },
    maxLength: { type: 'number', integer: true, min: 2, help: 'drop pairs whose prompt + longer response exceed N tokens (default: 512 or the model context, the smaller)' },
    seed: { type: 'number', integer: true, default: 0, help: 'seed for every random choice' },
    resume: { type: 'boolean', help: 'continue from the newest valid checkpoint in --out' },
    overwrite: { type: 'boolean', help: 'replace an earlier result (or unfinished run) in --out' },
    checkpointEvery: { type: 'number', integer: true, min: 1, help: 'steps between checkpoints (default: each epoch)' },
    keepCheckpoints: { type: 'number', integer: true, min: 1, default: 2, help: 'checkpoints kept in --out/checkpoints' },
    initRm: { type: 'string', help: 'start the linear head from this reward model (an HF *ForSequenceClassification folder on the same backbone weights, or a pargs RM), then train on prefixes', placeholder: 'DIR' },
    saveFormat: { type: 'string', default: 'pargs', help: 'pargs, or hf: also export the trained linear head as a Hugging Face *ForSequenceClassification folder in OUT/hf', placeholder: 'pargs|hf' },
    features: { type: 'string', help: 'train from feature shards of pargs features (comma-separated folders) over all of --data', placeholder: 'DIRS' },
    json: { type: 'boolean', help: 'print the final summary as one JSON object' },
    workers: { type: 'number', integer: true, min: 1, help: 'worker threads, each with its own copy of the weights (default PARGS_WORKERS, else the cores)' },
    backend: { type: 'string', help: 'tensorflow | wasm | cpu | auto', placeholder: 'NAME' },
  },
  async run(flags, _positionals, io) {
    for (const key of ['model', 'data', 'out'] as const) if (!flags[key]) throw new OptionError(`pargs train: --${key} is required`);
    if (flags.mode !== 'partial' && flags.mode !== 'full') throw new OptionError(`pargs train: --mode must be partial or full, got "${flags.mode}"`);
    if (flags.prefix !== 'all' && flags.prefix !== 'sample') throw new OptionError(`pargs train: --prefix must be all or sample, got "${flags.prefix}"`);
    if (flags.alignment !== 'eos' && flags.alignment !== 'shortest') throw new OptionError(`pargs train: --alignment must be eos or shortest, got "${flags.alignment}"`);
    const headMatch = /^(linear|vocab|mlp:(\d+))$/.exec(flags.head ?? '');
    if (!headMatch) throw new OptionError(`pargs train: --head must be linear or mlp:H (e.g. mlp:64), or vocab, got "${flags.head}"`);
    if (flags.objective !== 'bt-prefix' && flags.objective !== 'farma') throw new OptionError(`pargs train: --objective must be bt-prefix or farma, got "${flags.objective}"`);
    if (flags.format !== 'auto' && !(FORMATS as readonly string[]).includes(flags.format as string)) {
      throw new OptionError(`pargs train: --format must be auto or one of ${FORMATS.join(', ')}, got "${flags.format}"`);
    }
    if (flags.overLength !== 'drop' && flags.overLength !== 'truncate') throw new OptionError(`pargs train: --over-length must be drop or truncate, got "${flags.overLength}"`);
    if (flags.weighting !== 'per-prefix' && flags.weighting !== 'per-pair') throw new OptionError(`pargs train: --weighting must be per-prefix or per-pair, got "${flags.weighting}"`);
    if (flags.resume && flags.overwrite) throw new OptionError('pargs train: --resume and --overwrite exclude each other');
    if (flags.saveFormat !== 'pargs' && flags.saveFormat !== 'hf') throw new OptionError(`pargs train: --save-format must be pargs or hf, got "${flags.saveFormat}"`);
    if (flags.saveFormat === 'hf' && headMatch[2]) throw new OptionError(`pargs train: --save-format hf needs --head linear: an MLP head (${flags.head}) has no Hugging Face *ForSequenceClassification form`);
    // Refused before loading the backbone; trainPartialRM checks again when it claims the folder.
    await inspectOutputDir(flags.out as string, { kind: 'reward-model', what: 'pargs train --out', overwrite: flags.overwrite, resume: flags.resume, protect: [flags.model as string] });
    const lm = await loadCausalLM(flags.model as string, { backend: flags.backend as 'auto' | undefined });
    let init: PartialRewardModel | undefined;
    try {
      if (flags.initRm) init = await loadRewardModel(flags.initRm, lm, { backend: flags.backend as 'auto' | undefined });
      io.err(`backbone ${flags.model}: ${lm.config.modelType}, ${lm.config.numLayers} layers, d ${lm.config.hiddenSize} (${lm.backend.description})`);
      const encodeFile = async (file: string) => {
        const set = await loadPreferences(file, { signal: io.signal, format: flags.format as 'auto' | PreferenceFormat });
        const encoded = encodePreferences(set, lm.tokenizer, { maxLength: resolveMaxLength(flags.maxLength, lm, 'train'), overLength: flags.overLength as 'drop' | 'truncate' });
        io.err(`${file} (${set.format}): ${formatDropReport(encoded.report)}`);
        return encoded.pairs;
      };
      let train = await encodeFile(flags.data as string);
      let evalPairs = flags.eval ? await encodeFile(flags.eval) : [];
      // Shards cover every pair of --data, so nothing is held out of it when training from them.
      if (!flags.eval && !flags.features && (flags.evalFraction ?? 0) > 0 && train.length > 1) {
        const split = splitPairs(train, { evalFraction: flags.evalFraction as number, seed: flags.seed ?? 0 });
        ({ train, eval: evalPairs } = split);
        io.err(`held out ${evalPairs.length} of the pairs for diagnostics (--eval-fraction ${flags.evalFraction})`);
      }
      const features = flags.features ? await loadFeatureShards(flags.features.split(',')) : undefined;
      if (features && flags.maxPairs !== undefined) throw new OptionError('pargs train: --max-pairs cannot be combined with --features (the shards cover all of --data)');
      if (flags.maxPairs !== undefined && train.length > flags.maxPairs) {
        train = seededSubsample(train, flags.maxPairs, createRng(flags.seed ?? 0, 'max-pairs'));
        io.err(`using a seeded subsample of ${train.length} training pairs (--max-pairs)`);
      }
      // The held-out diagnostics cost a feature pass too: never more held-out pairs than asked for.
      const evalCap = flags.evalPairs ?? flags.maxPairs;
      if (evalCap !== undefined && evalPairs.length > evalCap) {
        evalPairs = seededSubsample(evalPairs, evalCap, createRng(flags.seed ?? 0, 'eval-pairs'));
        io.err(`using a seeded subsample of ${evalPairs.length} held-out pairs (${flags.evalPairs !== undefined ? '--eval-pairs' : '--max-pairs; --eval-pairs N to change'})`);
      }
      // Bars (feature pass, steps) on a terminal, plain lines on a pipe; the CLI's own words for the rest.
      const onProgress = cliProgress(io, {
        json: flags.json,
        describe: (event) => {
          const e = event as TrainEvent;
          if (e.kind === 'eval') return `eval at step ${e.step}:\n${formatDiagnostics(e.diagnostics)}`;
          if (e.kind === 'resumed') return `resumed from ${e.dir} at step ${e.step}`;
          return undefined;
        },
      });
      const rm = await trainPartialRM({
        backbone: lm,
        workers: flags.workers,
        pairs: train,
        evalPairs,
        mode: flags.mode,
        prefix: flags.prefix === 'sample' ? { kind: 'sample', perPair: flags.prefixSamples as number } : { kind: 'all' },
        alignment: flags.alignment,
        minPrefix: flags.minPrefix,
        weighting: flags.weighting,
        margin: flags.margin,
        ...(flags.weightDecay !== undefined ? { weightDecay: flags.weightDecay } : {}),
        warmupRatio: flags.warmupRatio,
        ...(flags.evalEvery !== undefined ? { evalEvery: flags.evalEvery } : {}),
        head: headMatch[2] ? { kind: 'mlp', hidden: Number(headMatch[2]) } : headMatch[1] === 'vocab' ? { kind: 'vocab' } : { kind: 'linear' },
        ...(flags.unfreeze !== undefined ? { trainable: { kind: 'top-blocks' as const, blocks: flags.unfreeze } } : {}),
        objective: flags.objective,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        lr: flags.lr,
        seed: flags.seed,
        features,
        init,
        checkpointDir: flags.out,
        checkpointEvery: flags.checkpointEvery,
        keepCheckpoints: flags.keepCheckpoints,
        resume: flags.resume,
        overwrite: flags.overwrite,
        signal: io.signal,
        onProgress,
      });
      const history = rm.training.history;
      const final = history.evals.at(-1)?.diagnostics;
      const summary = { out: flags.out, mode: rm.mode, trainPairs: train.length, evalPairs: evalPairs.length, steps: history.steps.length, finalLoss: history.steps.at(-1)?.loss, eval: final };
      if (flags.json) io.out(JSON.stringify(summary));
      else {
        io.out(`saved ${rm.mode} reward model to ${flags.out} (${train.length} training pairs, ${summary.steps} steps, final loss ${summary.finalLoss?.toFixed(4)})`);
        if (final) io.out(formatDiagnostics(final));
      }
      if (flags.saveFormat === 'hf') {
        const hfDir = join(flags.out as string, 'hf');
        await rm.save(hfDir, { format: 'hf', overwrite: flags.overwrite || flags.resume });
        if (!flags.json) io.out(`exported it as a Hugging Face ${lm.config.modelType} sequence-classification folder to ${hfDir}`);
      }
      rm.dispose();
      features?.store.dispose();
      return 0;
    } finally {
      init?.dispose();
      lm.dispose();
    }
  },
});
