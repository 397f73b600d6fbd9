/** `pargs train`: preference file → partial (or full-sequence) reward model, with progress on stderr. */
import { resolveMaxLength } from './max-length.js';
import { encodePreferences, formatDropReport, loadPreferences, splitPairs } from '../data/index.js';
import { OptionError } from '../errors.js';
import { inspectOutputDir } from '../io/output-dir.js';
import { loadCausalLM } from '../lm/load.js';
import { createRng } from '../random.js';
import type { RewardDiagnostics } from '../reward/diagnostics.js';
import { loadFeatureShards } from '../reward/feature-shards.js';
import { trainPartialRM, type TrainEvent } from '../reward/trainer.js';
import { defineCommand } from './args.js';

export function formatDiagnostics(d: RewardDiagnostics): string {
  const deciles = d.prefixAccuracyByDecile.map((a) => (Number.isNaN(a) ? '  – ' : a.toFixed(2))).join(' ');
  return [
    `pairs ${d.pairs}  full-response accuracy ${d.fullAccuracy.toFixed(3)}  prefix accuracy ${d.prefixAccuracy.toFixed(3)}  prefix loss ${d.prefixLoss.toFixed(4)}`,
    `mean margin ${d.meanMargin.toFixed(3)}  reward mean ${d.rewardMean.toFixed(3)} ± ${d.rewardStd.toFixed(3)}`,
    `prefix accuracy by position in the response (tenths): ${deciles}`,
  ].join('\n');
}

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train a partial-sequence (or full-sequence) reward head on preference data',
  usage: 'pargs train --model DIR --data FILE [--eval FILE] --out DIR [--mode partial|full] [--prefix all|sample] [--epochs N] [--batch-size N] [--lr X] [--max-pairs N] [--seed S] [--checkpoint-every N] [--keep-checkpoints N] [--resume | --overwrite] [--json]',
  flags: {
    model: { type: 'string', help: 'frozen backbone: a local Hugging Face model folder', placeholder: 'DIR' },
    data: { type: 'string', help: 'preference pairs (.jsonl, .jsonl.gz, .json): TRL, HH-RLHF or summarize format', placeholder: 'FILE' },
    eval: { type: 'string', help: 'held-out pairs for diagnostics (default: hold out --eval-fraction of --data)', placeholder: 'FILE' },
    evalFraction: { type: 'number', min: 0, max: 0.9, default: 0.1, help: 'share of --data held out when --eval is not given' },
    out: { type: 'string', help: 'output folder (new, empty or an earlier pargs train result): the reward model, with its checkpoints in DIR/checkpoints', placeholder: 'DIR' },
    mode: { type: 'string', default: 'partial', help: 'partial (prefixes, PARGS) or full (complete responses, ARGS)', placeholder: 'MODE' },
    prefix: { type: 'string', default: 'all', help: 'all prefixes per pair, or sample --prefix-samples of them per epoch', placeholder: 'all|sample' },
    prefixSamples: { type: 'number', integer: true, min: 1, default: 8, help: 'prefixes drawn per pair per epoch with --prefix sample' },
    alignment: { type: 'string', default: 'eos', help: 'eos (pad the shorter response with EOS) or shortest', placeholder: 'eos|shortest' },
    head: { type: 'string', default: 'linear', help: 'linear, mlp:H for an MLP head with H hidden units, or vocab (FaRMA: a reward per next token)', placeholder: 'KIND' },
    objective: { type: 'string', default: 'bt-prefix', help: 'bt-prefix (PARGS prefix pairs) or farma (vocab head: rounds of complete-response BT and max-consistency)', placeholder: 'NAME' },
    epochs: { type: 'number', integer: true, min: 1, default: 2, help: 'passes over the prefix pairs' },
    batchSize: { type: 'number', integer: true, min: 1, default: 256, help: 'prefix pairs per step' },
    lr: { type: 'number', min: 0, default: 1e-3, help: 'peak learning rate of the head' },
    maxPairs: { type: 'number', integer: true, min: 1, help: 'use at most N training pairs (a seeded subsample)' },
    maxLength: { type: 'number', integer: true, min: 2, help: 'drop pairs whose prompt + longer response exceed N tokens (default: 512 or the model context, the smaller)' },
    seed: { type: 'number', integer: true, default: 0, help: 'seed for every random choice' },
    resume: { type: 'boolean', help: 'continue from the newest valid checkpoint in --out' },
    overwrite: { type: 'boolean', help: 'replace an earlier result (or unfinished run) in --out' },
    checkpointEvery: { type: 'number', integer: true, min: 1, help: 'steps between checkpoints (default: each epoch)' },
    keepCheckpoints: { type: 'number', integer: true, min: 1, default: 2, help: 'checkpoints kept in --out/checkpoints' },
    features: { type: 'string', help: 'train from feature shards of pargs features (comma-separated folders) over all of --data', placeholder: 'DIRS' },
    json: { type: 'boolean', help: 'print the final summary as one JSON object' },
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
    if (flags.resume && flags.overwrite) throw new OptionError('pargs train: --resume and --overwrite exclude each other');
    // Refused before loading the backbone; trainPartialRM checks again when it claims the folder.
    await inspectOutputDir(flags.out as string, { kind: 'reward-model', what: 'pargs train --out', overwrite: flags.overwrite, resume: flags.resume, protect: [flags.model as string] });
    const lm = await loadCausalLM(flags.model as string, { backend: flags.backend as 'auto' | undefined });
    try {
      io.err(`backbone ${flags.model}: ${lm.config.modelType}, ${lm.config.numLayers} layers, d ${lm.config.hiddenSize} (${lm.backend.description})`);
      const encodeFile = async (file: string) => {
        const set = await loadPreferences(file, { signal: io.signal });
        const encoded = encodePreferences(set, lm.tokenizer, { maxLength: resolveMaxLength(flags.maxLength, lm, 'train') });
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
        const rng = createRng(flags.seed ?? 0, 'max-pairs');
        train = train.map((p) => ({ p, key: rng() })).sort((a, b) => a.key - b.key).slice(0, flags.maxPairs).map((x) => x.p);
        io.err(`using a seeded subsample of ${train.length} training pairs (--max-pairs)`);
      }
      let lastFeatureReport = -1;
      const onProgress = (e: TrainEvent): void => {
        if (e.kind === 'features') {
          const pct = Math.floor((100 * e.sequencesDone) / e.sequences);
          if (pct >= lastFeatureReport + 10 || e.sequencesDone === e.sequences) {
            lastFeatureReport = pct;
            io.err(`features (${e.split}): ${e.sequencesDone}/${e.sequences} sequences, ${e.tokens} tokens`);
          }
          if (e.sequencesDone === e.sequences) lastFeatureReport = -1;
        } else if (e.kind === 'step') {
          if (e.step === 1 || e.step % 10 === 0 || e.step === e.totalSteps) {
            const stage = e.stage ? `  ${e.stage}` : '';
            const ranking = Number.isNaN(e.accuracy) ? '' : `  acc ${e.accuracy.toFixed(3)}  margin ${e.margin.toFixed(3)}`;
            io.err(`step ${e.step}/${e.totalSteps}  epoch ${e.epoch + 1}${stage}  loss ${e.loss.toFixed(4)}${ranking}  lr ${e.lr.toExponential(2)}`);
          }
        } else if (e.kind === 'eval') {
          io.err(`eval at step ${e.step}:\n${formatDiagnostics(e.diagnostics)}`);
        } else if (e.kind === 'resumed') {
          io.err(`resumed from ${e.dir} at step ${e.step}`);
        } else if (e.kind === 'note') {
          io.err(`note: ${e.message}`);
        }
      };
      const rm = await trainPartialRM({
        backbone: lm,
        pairs: train,
        evalPairs,
        mode: flags.mode,
        prefix: flags.prefix === 'sample' ? { kind: 'sample', perPair: flags.prefixSamples as number } : { kind: 'all' },
        alignment: flags.alignment,
        head: headMatch[2] ? { kind: 'mlp', hidden: Number(headMatch[2]) } : headMatch[1] === 'vocab' ? { kind: 'vocab' } : { kind: 'linear' },
        objective: flags.objective,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        lr: flags.lr,
        seed: flags.seed,
        features,
        checkpointDir: flags.out,
        checkpointEvery: flags.checkpointEvery,
        keepCheckpoints: flags.keepCheckpoints,
        resume: flags.resume,
        overwrite: flags.overwrite,
        signal: io.signal,
        onProgress,
      });
      const history = rm.training.history as { evals: { diagnostics: RewardDiagnostics }[]; steps: { loss: number }[] };
      const final = history.evals.at(-1)?.diagnostics;
      const summary = { out: flags.out, mode: rm.mode, trainPairs: train.length, evalPairs: evalPairs.length, steps: history.steps.length, finalLoss: history.steps.at(-1)?.loss, eval: final };
      if (flags.json) io.out(JSON.stringify(summary));
      else {
        io.out(`saved ${rm.mode} reward model to ${flags.out} (${train.length} training pairs, ${summary.steps} steps, final loss ${summary.finalLoss?.toFixed(4)})`);
        if (final) io.out(formatDiagnostics(final));
      }
      rm.dispose();
      features?.store.dispose();
      return 0;
    } finally {
      lm.dispose();
    }
  },
});
