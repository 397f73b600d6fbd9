/**
 * `evaluateLM`: held-out loss of a causal LM on text, per token and per UTF-8 byte.
 *
 * Each text is tokenized on its own, preceded by the model's BOS (or first EOS) id when it has one,
 * so every text token is predicted; the prefix itself is never scored. Windows of up to `context`
 * tokens start every `stride` tokens, and each scores only the targets no earlier window scored (the
 * sliding-window perplexity of the transformers docs). With the default stride = context the windows
 * do not overlap: every token is scored once, with 0…context−1 tokens of context; a smaller stride
 * gives tokens more context for more compute. Per-byte figures divide the total nats by the texts' UTF-8 byte count, which makes models
 * with different tokenizers comparable. Deterministic: no sampling anywhere.
 */
import { tf } from '../engine/tf.js';
import { yieldAndCheck, yieldEvery } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { positiveInt as positiveIntSpec } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { checkOptions, func, required, signal, string, strings, type Schema } from '../options.js';
import { targetLogProbs } from './loss.js';

export interface EvaluateLMOptions {
  lm: CausalLM;
  /** One text; give this or `texts`. */
  text?: string;
  texts?: readonly string[];
  /** Window length (default: the model's context, at most 1024). */
  context?: number;
  /** Tokens between window starts (default = context: non-overlapping windows). */
  stride?: number;
  /** Windows per forward pass (default: as many as keep the logits under ~16M floats). */
  batchSize?: number;
  signal?: AbortSignal;
  /** After each forward pass: windows scored so far of all (`progressReporter()` displays it). */
  onProgress?: (event: { kind: 'progress'; stage: 'scoring windows'; unit: 'window'; done: number; total: number }) => void;
}

export interface LMEvaluation {
  /** Tokens scored. */
  tokens: number;
  /** UTF-8 bytes of the evaluated texts. */
  bytes: number;
  /** Σ −log p over scored tokens, in nats. */
  totalNats: number;
  lossPerToken: number;
  perplexity: number;
  /** totalNats / bytes. */
  lossPerByte: number;
  bitsPerByte: number;
  /** Text tokens not scored (the first token of each text when the model has no BOS to predict it from). */
  unscoredTokens: number;
  windows: number;
  context: number;
  stride: number;
}

interface Window {
  ids: number[];
  targets: number[];
  /** Index into `targets` from which predictions are scored. */
  scoreFrom: number;
}

/** Windows over one stream, scoring each target position ≥ `firstTarget` exactly once. */
function windowsOf(stream: number[], firstTarget: number, context: number, stride: number): Window[] {
  const out: Window[] = [];
  let scoredUpTo = firstTarget - 1; // highest target position already scored
  for (let begin = 0; scoredUpTo < stream.length - 1; begin += stride) {
    const end = Math.min(begin + context, stream.length - 1); // inputs begin … end−1 predict positions begin+1 … end
    out.push({ ids: stream.slice(begin, end), targets: stream.slice(begin + 1, end + 1), scoreFrom: Math.max(0, scoredUpTo - begin) });
    scoredUpTo = end;
  }
  return out;
}

function positiveInt(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new OptionError(`evaluateLM: ${name} must be a positive integer, got ${value}`);
}

export const EVALUATE_LM_SCHEMA: Schema = {
  lm: required(causalLM()),
  text: string(),
  texts: strings(),
  context: positiveIntSpec(),
  stride: positiveIntSpec(),
  batchSize: positiveIntSpec(),
  signal: signal(),
  onProgress: func(),
};

export async function evaluateLM(options: EvaluateLMOptions): Promise<LMEvaluation> {
  checkOptions('evaluateLM', options, EVALUATE_LM_SCHEMA);
  const { lm } = options;
  if ((options.text === undefined) === (options.texts === undefined)) throw new OptionError('evaluateLM: give exactly one of text or texts');
  const texts = options.texts ?? [options.text as string];
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw new OptionError(`evaluateLM: texts[${i}] must be a string`);
  });
  positiveInt(options.context, 'context');
  positiveInt(options.stride, 'stride');
  positiveInt(options.batchSize, 'batchSize');
  const context = options.context ?? Math.min(lm.config.maxPositions, 1024);
  if (context > lm.config.maxPositions) {
    throw new OptionError(`evaluateLM: context ${context} exceeds this model's ${lm.config.maxPositions} positions (max_position_embeddings); longer texts are scored in sliding windows, so pass context ≤ ${lm.config.maxPositions}`);
  }
  const stride = options.stride ?? context;
  if (stride > context) throw new OptionError(`evaluateLM: stride (${stride}) must not exceed context (${context})`);
  const V = lm.config.vocabSize;
  const batchSize = options.batchSize ?? Math.max(1, Math.floor(16_000_000 / (context * V)));
  const prefix = lm.generation.bosTokenId ?? lm.generation.eosTokenIds[0] ?? null;

  const windows: Window[] = [];
  let bytes = 0;
  let unscoredTokens = 0;
  const utf8 = new TextEncoder();
  const tokenizingTurn = yieldEvery(20, options.signal, 'evaluateLM');
  for (const text of texts) {
    await tokenizingTurn();
    bytes += utf8.encode(text).length;
    const ids = lm.tokenizer.encode(text, { addSpecialTokens: false });
    if (ids.length === 0) continue;
    const stream = prefix === null ? ids : [prefix, ...ids];
    if (prefix === null) unscoredTokens++;
    windows.push(...windowsOf(stream, 1, context, stride));
  }
  // Rows of one forward pass must have one length; group windows by length, in a fixed order.
  const byLength = new Map<number, Window[]>();
  for (const w of windows) {
    const list = byLength.get(w.ids.length);
    if (list) list.push(w);
    else byLength.set(w.ids.length, [w]);
  }
  let totalNats = 0;
  let tokens = 0;
  let windowsDone = 0;
  for (const length of [...byLength.keys()].sort((a, b) => b - a)) {
    const group = byLength.get(length) as Window[];
    for (let i = 0; i < group.length; i += batchSize) {
      await yieldAndCheck(options.signal, 'evaluateLM');
      const rows = group.slice(i, i + batchSize);
      const logProbs = tf.tidy(() => {
        const out = lm.forward({ ids: rows.map((r) => r.ids), logits: 'all' });
        return targetLogProbs(out.logits as tf.Tensor, rows.flatMap((r) => r.targets)); // [rows·length]
      });
      const values = (await logProbs.data()) as Float32Array;
      logProbs.dispose();
      rows.forEach((r, k) => {
        for (let t = r.scoreFrom; t < length; t++) totalNats -= values[k * length + t];
        tokens += length - r.scoreFrom;
      });
      windowsDone += rows.length;
      options.onProgress?.({ kind: 'progress', stage: 'scoring windows', unit: 'window', done: windowsDone, total: windows.length });
    }
  }
  if (tokens === 0) throw new OptionError('evaluateLM: the text gives no token to score; pass a longer text');
  const lossPerToken = totalNats / tokens;
  const lossPerByte = bytes > 0 ? totalNats / bytes : NaN;
  return {
    tokens, bytes, totalNats, lossPerToken, perplexity: Math.exp(lossPerToken), lossPerByte, bitsPerByte: lossPerByte / Math.LN2,
    unscoredTokens, windows: windows.length, context, stride,
  };
}
