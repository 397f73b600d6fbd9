/**
 * Plain decoding from a causal LM: greedy, or sampling with temperature / top-k / top-p, batched with
 * left padding and a KV cache. Sampling happens on the host from logits read back, with a seeded stream
 * (tfjs `multinomial` differs by backend and treats seed 0 as unseeded).
 */
import type { tf } from '../engine/tf.js';
import { yieldAndCheck } from '../engine/yield.js';
import { ConfigError, OptionError, throwIfAborted } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { checkMessages, type ChatMessage } from '../lm/chat-template.js';
import type { KVCache } from '../lm/kv-cache.js';
import { decodeStrategy, nonNegativeInt, positiveInt, promptIds, prompts, seed } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { boolean, checkArgument, checkOptions, func, numbers, oneOf, required, signal, without, type Schema } from '../options.js';
import { createRng, validateSeed, type Rng } from '../random.js';
import { applyRepetitionPenalty, argmax, sampleIndex, softmax, topKIndices, topPIndices } from './policy.js';
import { streamOf } from './stream.js';

/** A text prompt, or a conversation to render with the model's chat template. */
export type Prompt = string | readonly ChatMessage[];

/**
 * The response length every decoding function uses when `maxNewTokens` is not given — generate,
 * sample, guidedSample, argsSample, bestOfN and the streams — and `pargs sample --max-new-tokens`'s
 * default, so methods compared with their defaults produce responses of the same length.
 */
export const DEFAULT_MAX_NEW_TOKENS = 64;

export type DecodeStrategy = { kind: 'greedy' } | { kind: 'sample'; temperature?: number; topK?: number; topP?: number };

export interface GenerateOptions {
  lm: CausalLM;
  /**
   * Prompts: text, encoded with the tokenizer's own BOS rule; or conversations (`{role, content}[]`),
   * rendered with the model's chat template and a generation prompt (HH transcript when it has none).
   * Give this or `promptIds`.
   */
  prompts?: readonly Prompt[];
  /** Token-id prompts, used verbatim (no BOS added). */
  promptIds?: readonly (readonly number[])[];
  /** Default `DEFAULT_MAX_NEW_TOKENS` (64). */
  maxNewTokens?: number;
  /** Default greedy. */
  strategy?: DecodeStrategy;
  /** Default 0. */
  seed?: number;
  /** Stop a row when it emits an EOS id of the model's generation config (default true). */
  stopAtEos?: boolean;
  /**
   * 'apply' (default) applies generation_config.json's logits processors as transformers does (pargs
   * implements `repetition_penalty` and refuses the others); 'ignore' decodes from the raw logits.
   */
  generationConfig?: 'apply' | 'ignore';
  signal?: AbortSignal;
  /** Called for every token as it is chosen. */
  onToken?: (event: { row: number; step: number; tokenId: number }) => void;
  /**
   * Worker threads that share the prompts, each with its own copy of the weights (default:
   * PARGS_WORKERS, else the available cores for calls big enough to repay the workers' start-up).
   * Lists of fewer than 8 prompts and in-memory models run in this thread. Results are identical for any n.
   */
  workers?: number;
  /**
   * Index of the first prompt within a larger list (default 0): prompt r draws from the random stream
   * of row firstRow + r, so a list decoded in parts samples exactly as the whole list.
   */
  firstRow?: number;
}

export interface Generation {
  promptIds: number[];
  generatedIds: number[];
  /** Decoded generated tokens (special tokens skipped). */
  text: string;
  finishReason: 'eos' | 'length';
}

function validateStrategy(strategy: DecodeStrategy, vocab: number): void {
  if (strategy.kind === 'greedy') return;
  if (strategy.kind !== 'sample') throw new OptionError(`strategy.kind must be 'greedy' or 'sample', got ${JSON.stringify((strategy as { kind: unknown }).kind)}`);
  const { temperature = 1, topK, topP } = strategy;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new OptionError(`temperature must be a positive finite number, got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > vocab)) {
    throw new OptionError(`topK must be an integer in [1, ${vocab}], got ${topK}`);
  }
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new OptionError(`topP must be in (0, 1], got ${topP}`);
}

/** Picks the next token from one row of logits (already penalised). */
export function chooseToken(logits: Float32Array, strategy: DecodeStrategy, rng: Rng): number {
  checkArgument('chooseToken', 'logits', logits, required(numbers()));
  checkArgument('chooseToken', 'strategy', strategy, required(decodeStrategy()));
  checkArgument('chooseToken', 'rng', rng, required(func()));
  if (strategy.kind === 'greedy') return argmax(logits);
  const { temperature = 1, topK, topP } = strategy;
  const candidates = topK === undefined ? null : topKIndices(logits, topK);
  const scores = candidates ? candidates.map((i) => logits[i]) : logits;
  let probs = softmax(scores, temperature);
  let ids: ArrayLike<number> | null = candidates;
  if (topP !== undefined && topP < 1) {
    const kept = topPIndices(probs, topP);
    const mass = kept.reduce((s, i) => s + probs[i], 0);
    const nucleus = Float64Array.from(kept, (i) => probs[i] / mass);
    ids = kept.map((i) => (candidates ? candidates[i] : i));
    probs = nucleus;
  }
  const pick = sampleIndex(probs, rng());
  return ids ? ids[pick] : pick;
}

/**
 * The text a prompt is decoded from: itself, or a conversation rendered for the assistant's next turn
 * (the chat template, else the HH transcript; `rendering` says which).
 */
export function renderPrompt(lm: CausalLM, prompt: Prompt, where = 'prompt'): { text: string; rendering: 'text' | 'chat-template' | 'hh-transcript' } {
  if (typeof prompt === 'string') return { text: prompt, rendering: 'text' };
  checkMessages(prompt, where);
  return lm.tokenizer.renderChat(prompt, { addGenerationPrompt: true });
}

/** Prompt rows from text (tokenizer BOS rule), conversations (no double BOS) or ids (verbatim); shared by every decoding method. */
export function resolvePrompts(o: { lm: CausalLM; prompts?: readonly Prompt[]; promptIds?: readonly (readonly number[])[] }): number[][] {
  if ((o.prompts === undefined) === (o.promptIds === undefined)) throw new OptionError('give exactly one of prompts or promptIds');
  const fromPrompt = (p: Prompt, i: number): number[] => {
    if (typeof p === 'string') return o.lm.tokenizer.encode(p);
    if (!Array.isArray(p)) throw new OptionError(`prompt ${i} must be a string or a list of {role, content} messages, got ${p === null ? 'null' : typeof p}`);
    return o.lm.tokenizer.encodeChat(renderPrompt(o.lm, p, `prompt ${i}`).text);
  };
  const rows = o.prompts ? o.prompts.map(fromPrompt) : (o.promptIds as number[][]).map((r) => [...r]);
  if (rows.length === 0) throw new OptionError('the prompt list is empty; give at least one prompt');
  rows.forEach((r, i) => {
    if (r.length === 0) throw new OptionError(`prompt ${i} encodes to no tokens; give non-empty text or ids`);
  });
  return rows;
}

/**
 * Refuses prompts the model cannot continue: longer than its context, or (learned positions, a hard
 * limit) too long to add `maxNewTokens`.
 */
export function checkContext(lm: CausalLM, prompts: readonly (readonly number[])[], maxNewTokens: number): void {
  const limit = lm.config.maxPositions;
  prompts.forEach((p, i) => {
    if (p.length > limit) throw new OptionError(`prompt ${i} has ${p.length} tokens, more than this model's context of ${limit}; shorten it`);
    if (lm.config.positional === 'learned' && p.length + maxNewTokens > limit) {
      throw new OptionError(`prompt ${i} (${p.length} tokens) plus maxNewTokens ${maxNewTokens} exceeds this model's context of ${limit} tokens`);
    }
  });
}

export const GENERATE_SCHEMA: Schema = {
  lm: required(causalLM()),
  prompts: prompts(),
  promptIds: promptIds(),
  maxNewTokens: nonNegativeInt(),
  strategy: decodeStrategy(),
  seed: seed(),
  stopAtEos: boolean(),
  generationConfig: oneOf('apply', 'ignore'),
  workers: positiveInt(),
  firstRow: nonNegativeInt(),
  signal: signal(),
  onToken: func(),
};

export function validateFirstRow(firstRow: unknown, where: string): number {
  if (firstRow === undefined) return 0;
  if (typeof firstRow !== 'number' || !Number.isSafeInteger(firstRow) || firstRow < 0) throw new OptionError(`${where}: firstRow must be a non-negative integer, got ${JSON.stringify(firstRow)}`);
  return firstRow;
}

/**
 * Runs checked, resolved work somewhere else (parallel/ passes worker threads), or returns undefined to
 * run it in this thread. The loops call it once, after every check and before any model call.
 */
export type Offload<O, R> = (options: O, prompts: number[][]) => Promise<R> | undefined;

/** Plain decoding in this thread (`offload`: see `Offload`); the public `generate` is parallel/dispatch.ts'. */
export async function generate(options: GenerateOptions, offload?: Offload<GenerateOptions, Generation[]>): Promise<Generation[]> {
  checkOptions('generate', options, GENERATE_SCHEMA);
  const { lm, signal, onToken } = options;
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new OptionError(`maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  const strategy = options.strategy ?? { kind: 'greedy' };
  validateStrategy(strategy, lm.config.vocabSize);
  const seed = validateSeed(options.seed ?? 0, 'generate');
  const applyConfig = (options.generationConfig ?? 'apply') === 'apply';
  if (applyConfig && lm.generation.unsupportedProcessors.length > 0) {
    throw new ConfigError(
      `generation_config.json sets ${lm.generation.unsupportedProcessors.join(', ')}, which pargs does not implement; pass generationConfig: 'ignore' to decode from the raw logits`,
    );
  }
  const penalty = applyConfig ? lm.generation.repetitionPenalty : 1;
  const eos = new Set(options.stopAtEos === false ? [] : lm.generation.eosTokenIds);
  const prompts = resolvePrompts(options);
  // One stream per row: a row samples the same tokens whether it runs alone or in a batch.
  const firstRow = validateFirstRow(options.firstRow, 'generate');
  const rngs = prompts.map((_, row) => createRng(seed, `decode:${firstRow + row}`));
  checkContext(lm, prompts, maxNewTokens);
  const elsewhere = offload?.(options, prompts);
  if (elsewhere) return elsewhere;
  const generated: number[][] = prompts.map(() => []);
  const finished: (Generation['finishReason'] | null)[] = prompts.map(() => null);
  throwIfAborted(signal, 'generate');
  let { logits, cache, hidden } = lm.prefill(prompts) as { logits: tf.Tensor2D; cache: KVCache; hidden: tf.Tensor };
  hidden.dispose();
  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const host = (await logits.data()) as Float32Array; // [B·V]
      const V = lm.config.vocabSize;
      const next = prompts.map((prompt, row) => {
        if (finished[row]) return lm.padId;
        const rowLogits = host.slice(row * V, (row + 1) * V);
        if (penalty !== 1) applyRepetitionPenalty(rowLogits, [...prompt, ...generated[row]], penalty);
        const token = chooseToken(rowLogits, strategy, rngs[row]);
        generated[row].push(token);
        onToken?.({ row, step, tokenId: token });
        if (eos.has(token)) finished[row] = 'eos';
        return token;
      });
      if (finished.every((f) => f) || step === maxNewTokens - 1) break;
      await yieldAndCheck(signal, 'generate');
      const out = lm.step(cache, next);
      logits.dispose();
      cache.dispose();
      out.hidden.dispose();
      ({ logits, cache } = out);
    }
  } finally {
    logits.dispose();
    cache.dispose();
  }
  return prompts.map((promptIds, row) => ({
    promptIds,
    generatedIds: generated[row],
    text: lm.tokenizer.decode(generated[row]),
    finishReason: finished[row] ?? 'length',
  }));
}

/** One token of `generateStream`: the id, and the text it adds to its row's response. */
export interface GeneratedToken {
  row: number;
  step: number;
  tokenId: number;
  /**
   * The text this token adds to the row's decoded response (special tokens skipped), ready to print:
   * '' while a multi-byte character is still incomplete, then the whole character; a row's last token
   * flushes what is left, so the pieces of a row join to its `Generation.text`.
   */
  text: string;
}

/**
 * `generate` as an async iterator of tokens with their text, to print a response as it is written:
 * `for await (const t of generateStream(o)) process.stdout.write(t.text)`. Leaving the loop early stops
 * the generation (see streamOf); the iterator's return value is the results.
 */
export function generateStream(options: Omit<GenerateOptions, 'onToken'>, offload?: Offload<GenerateOptions, Generation[]>): AsyncGenerator<GeneratedToken, Generation[], undefined> {
  checkOptions('generateStream', options, without(GENERATE_SCHEMA, 'onToken'));
  const { tokenizer } = options.lm;
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const eos = new Set(options.stopAtEos === false ? [] : options.lm.generation.eosTokenIds);
  return streamOf<GeneratedToken, Generation[]>((emit, signal) => {
    const ids: number[][] = [];
    const shown: string[] = [];
    return generate({
      ...options,
      signal,
      onToken: (e) => {
        const row = (ids[e.row] ??= []);
        row.push(e.tokenId);
        // Decoding the whole row (not the token alone) joins multi-byte characters split over tokens.
        const full = tokenizer.decode(row);
        const before = shown[e.row] ?? '';
        const lastOfRow = e.step === maxNewTokens - 1 || eos.has(e.tokenId);
        let text = '';
        if (full.startsWith(before) && (lastOfRow || !full.endsWith('\uFFFD'))) {
          text = full.slice(before.length);
          shown[e.row] = full;
        }
        emit({ ...e, text });
      },
    }, offload);
  }, options.signal);
}
