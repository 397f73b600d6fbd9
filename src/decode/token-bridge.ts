/**
 * The text bridge: guided decoding (PARGS, ARGS) and Best-of-N with a reward model whose tokenizer is
 * not the LM's (the paper's TL;DR pairing). The LM's response ids ⊕ each candidate are decoded to text
 * with the LM tokenizer and encoded by the reward model (`rm.encode(prompt, response)`, so its own BOS
 * and prompt handling apply); the reward is read at the last token of that sequence (an HF model's pad
 * rule included), exactly as if each candidate's whole text were scored on its own.
 *
 * Each row keeps the RM ids of prompt ⊕ response and the RM's KV cache of them. Per step, the k candidate
 * sequences share that cache up to their longest common id prefix with it (the BPE boundary moves only
 * near the end, so this is almost everything); only the differing tails run, all k in one batched
 * forward (tails right-padded; one token each → one candidates step, as the shared path). The chosen
 * candidate's ids and cache are kept for the next step.
 *
 * Lossy decode check (TokenizerError naming the LM's tokenizer.json): the response text must grow by
 * appending. With r = the response ids and v a candidate, decode(r ⊕ v) must start with decode(r)
 * (less a trailing U+FFFD: an incomplete character the next byte token completes), and a token that has
 * text of its own (decode([v]) ≠ '') must add text. A decoder that rewrites or drops earlier text (CTC's
 * de-duplication, WordPiece clean-up) would make the RM score a text the LM did not write. Special tokens
 * (EOS) have no text: such a candidate is scored as the response without it, as a complete response is
 * (src/lm/terminal-token.ts). Decoding here skips the clean-up of spaces before punctuation, which would
 * rewrite earlier text.
 */
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { OptionError, TokenizerError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { KVCache, type LayerKV } from '../lm/kv-cache.js';
import type { RewardModel, ScoreItem } from '../reward/reward-model-interface.js';
import { renderPrompt, type Prompt } from './generate.js';

/** How much of the reward model's work the bridge's cache saved. */
export interface BridgeTokens {
  /** RM token positions run (prefill, and each step's k tails with their right padding). */
  rmTokens: number;
  /** RM tokens a bridge without a cache would run: every candidate's whole re-encoded sequence. */
  rmTokensWithoutCache: number;
}

/** True when `rm` reads other ids than `lm` writes, so scoring goes through text. */
export function needsTextBridge(lm: CausalLM, rm: RewardModel): boolean {
  return rm.tokenizer.fingerprint !== lm.tokenizer.fingerprint;
}

/** The prompt text the reward model reads: the given text, a conversation as the LM renders it, else the decoded prompt ids. */
export function promptTexts(lm: CausalLM, prompts: readonly Prompt[] | undefined, promptIds: readonly (readonly number[])[]): string[] {
  return promptIds.map((ids, i) => {
    const p = prompts?.[i];
    if (typeof p === 'string') return p;
    if (p !== undefined) return renderPrompt(lm, p, `prompt ${i}`).text;
    return lm.tokenizer.decode(ids, { cleanUpSpaces: false });
  });
}

/** The response text of `ids` with the lossy-decode check of the file comment applied to its last token. */
function appendedText(lm: CausalLM, before: string, ids: readonly number[], where: string): string {
  const text = lm.tokenizer.decode(ids, { cleanUpSpaces: false });
  const stable = before.replace(/\uFFFD+$/, '');
  const last = ids[ids.length - 1];
  const ownText = lm.tokenizer.decode([last], { cleanUpSpaces: false }) !== '';
  const grew = text.startsWith(stable) && (text !== before || !ownText || stable !== before);
  if (!grew) {
    const file = lm.source ? join(lm.source, 'tokenizer.json') : "the LM's tokenizer.json";
    throw new TokenizerError(
      `${where}: the decoder of ${file} is lossy for this response: appending token ${last} turns ${JSON.stringify(before.slice(-40))} into ${JSON.stringify(text.slice(-40))}, so a reward model on another tokenizer would read a text the LM did not write; use a reward model on the LM's own tokenizer, or an LM whose decoder only appends text (byte-level BPE, SentencePiece)`,
    );
  }
  return text;
}

/** Checked text of a whole response (every token appends), for Best-of-N. */
function responseText(lm: CausalLM, ids: readonly number[], where: string): string {
  let text = '';
  for (let t = 1; t <= ids.length; t++) text = appendedText(lm, text, ids.slice(0, t), where);
  return text;
}

/** RM ids of prompt ⊕ response text, as one sequence. */
function rmSequence(rm: RewardModel, prompt: string, response: string, where: string): number[] {
  const { promptIds, responseIds } = rm.encode(prompt, response);
  const ids = [...promptIds, ...responseIds];
  if (ids.length === 0) throw new OptionError(`${where}: the prompt ${JSON.stringify(prompt.slice(0, 40))} with an empty response encodes to no tokens of the reward model; give a non-empty prompt`);
  return ids;
}

/** transformers' read-out: the last token that is not the pad id (index 0 when all are); the last token without a pad rule. */
function readIndex(rm: RewardModel, ids: readonly number[]): number {
  const pad = rm.padTokenId ?? null;
  if (pad === null) return ids.length - 1;
  for (let i = ids.length - 1; i >= 0; i--) if (ids[i] !== pad) return i;
  return 0;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The first `length` slots of the given rows of a bridge cache (no left padding: slot j is position j). */
function cachePrefix(cache: KVCache, rows: readonly number[], length: number): KVCache {
  const layers = tf.tidy(() => {
    const index = tf.tensor1d(Int32Array.from(rows), 'int32');
    return cache.layers.map((l) => {
      const [, Hkv, hd] = l.keysT.shape;
      return {
        keysT: tf.slice(tf.gather(l.keysT, index, 0), [0, 0, 0, 0], [rows.length, Hkv, hd, length]) as tf.Tensor4D, // [rows, Hkv, hd, length]
        values: tf.slice(tf.gather(l.values, index, 0), [0, 0, 0, 0], [rows.length, Hkv, length, hd]) as tf.Tensor4D, // [rows, Hkv, length, hd]
      };
    });
  });
  return new KVCache(layers, rows.map(() => new Uint8Array(length).fill(1)), rows.map(() => length));
}

/** One row's RM state, and the scored step waiting for the choice. */
interface RowState {
  ids: number[];
  cache: KVCache; // [1, …, ids.length]
  /** A step's candidates: their RM sequences, and the cache they ran on (its own copy unless it is `cache`). */
  pending?: { sequences: number[][]; out: KVCache } | { sequences: number[][]; base: KVCache; ownsBase: boolean; candidateKV: LayerKV[] };
}

/**
 * The reward model's side of guided decoding across tokenizers: per row the RM ids and cache of
 * prompt ⊕ response, scoring of a step's candidates, and the choice that extends them.
 */
export class TextBridge {
  private readonly rows = new Map<number, RowState>();
  private readonly counts = new Map<number, BridgeTokens>();

  private constructor(
    private readonly lm: CausalLM,
    private readonly rm: RewardModel,
    private readonly prompts: readonly string[],
    private readonly where: string,
  ) {}

  /** Encodes every prompt with the reward model and prefills its cache (one forward per row: no padding to strip later). */
  static start(lm: CausalLM, rm: RewardModel, prompts: readonly string[], where: string): TextBridge {
    const bridge = new TextBridge(lm, rm, prompts, where);
    try {
      prompts.forEach((p, row) => {
        const ids = rmSequence(rm, p, '', where);
        const out = rm.backbone.forward({ ids: [ids], logits: 'none', returnCache: true });
        out.hidden.dispose();
        bridge.rows.set(row, { ids, cache: out.cache as KVCache });
        bridge.counts.set(row, { rmTokens: ids.length, rmTokensWithoutCache: 0 });
      });
    } catch (err) {
      bridge.dispose();
      throw err;
    }
    return bridge;
  }

  /** Totals of `row` so far. */
  tokens(row: number): BridgeTokens {
    return { ...(this.counts.get(row) as BridgeTokens) };
  }

  /**
   * Rewards of each candidate v of `row` after `responseIds`: r(prompt ⊕ text(response ⊕ v)), read as
   * the RM reads a whole sequence; returns them [k] and this step's token counts.
   */
  async score(row: number, responseIds: readonly number[], candidates: readonly number[]): Promise<{ rewards: Float32Array; tokens: BridgeTokens }> {
    const state = this.rows.get(row) as RowState;
    this.discardPending(state);
    const before = responseIds.length ? this.lm.tokenizer.decode(responseIds, { cleanUpSpaces: false }) : '';
    const sequences = candidates.map((v) => rmSequence(this.rm, this.prompts[row], appendedText(this.lm, before, [...responseIds, v], this.where), this.where));
    const reads = sequences.map((s) => readIndex(this.rm, s));
    // Every candidate runs at least its read-out token, so the shared prefix stops before the earliest one.
    const shared = Math.min(...sequences.map((s, j) => Math.min(commonPrefix(state.ids, s), reads[j])));
    const tails = sequences.map((s) => s.slice(shared));
    const width = Math.max(...tails.map((t) => t.length));
    const k = candidates.length;
    const d = this.rm.backbone.config.hiddenSize;
    let hidden: tf.Tensor3D;
    let at: Int32Array; // row of the flattened hidden states each candidate is read from
    if (width === 1 && shared > 0) {
      // One token per candidate: the candidates step of the shared path, against the prefix itself.
      const ownsBase = shared < state.ids.length;
      const base = ownsBase ? cachePrefix(state.cache, [0], shared) : state.cache;
      const out = this.rm.backbone.forward({ ids: [tails.map((t) => t[0])], cache: base, candidates: true, logits: 'none' });
      hidden = out.hidden; // [1, k, d]
      at = Int32Array.from(candidates, (_, j) => j);
      state.pending = { sequences, base, ownsBase, candidateKV: out.candidateKV as LayerKV[] };
    } else {
      const ids = tails.map((t) => [...t, ...new Array<number>(width - t.length).fill(this.rm.backbone.padId)]);
      const mask = tails.map((t) => Array.from({ length: width }, (_, i) => (i < t.length ? 1 : 0)));
      const cache = shared > 0 ? cachePrefix(state.cache, new Array<number>(k).fill(0), shared) : undefined;
      const out = this.rm.backbone.forward({ ids, mask, ...(cache ? { cache } : {}), logits: 'none', returnCache: true });
      cache?.dispose();
      hidden = out.hidden; // [k, width, d]
      at = Int32Array.from(reads, (r, j) => j * width + r - shared);
      state.pending = { sequences, out: out.cache as KVCache };
    }
    const rewardTensor = tf.tidy(() => this.rm.rewardsFromHidden(tf.gather(tf.reshape(hidden, [-1, d]), tf.tensor1d(at, 'int32')) as tf.Tensor2D)); // [k]
    hidden.dispose();
    const rewards = (await rewardTensor.data()) as Float32Array;
    rewardTensor.dispose();
    const tokens = { rmTokens: k * width, rmTokensWithoutCache: sequences.reduce((s, q) => s + q.length, 0) };
    const total = this.counts.get(row) as BridgeTokens;
    total.rmTokens += tokens.rmTokens;
    total.rmTokensWithoutCache += tokens.rmTokensWithoutCache;
    return { rewards, tokens };
  }

  /** `score` for every active row: rewards [n·k] in row order, and each row's token counts. */
  async scoreRows(rows: readonly number[], responses: readonly (readonly number[])[], candidates: readonly (readonly number[])[]): Promise<{ rewards: Float32Array; tokens: BridgeTokens[] }> {
    const k = candidates[0].length;
    const rewards = new Float32Array(rows.length * k);
    const tokens: BridgeTokens[] = [];
    for (const [b, row] of rows.entries()) {
      const out = await this.score(row, responses[b], candidates[b]);
      rewards.set(out.rewards, b * k);
      tokens.push(out.tokens);
    }
    return { rewards, tokens };
  }

  /** Keeps candidate j of `row`'s last scored step: its RM ids and cache become the row's. */
  choose(row: number, j: number): void {
    const state = this.rows.get(row) as RowState;
    const p = state.pending;
    if (!p) throw new OptionError(`TextBridge.choose: row ${row} has no scored step`);
    const ids = p.sequences[j];
    const cache = 'out' in p ? cachePrefix(p.out, [j], ids.length) : p.base.appendCandidate(p.candidateKV, [j]);
    this.discardPending(state);
    state.cache.dispose();
    state.cache = cache;
    state.ids = ids;
  }

  /** Frees a finished row. */
  drop(row: number): void {
    const state = this.rows.get(row);
    if (!state) return;
    this.discardPending(state);
    state.cache.dispose();
    this.rows.delete(row);
  }

  dispose(): void {
    for (const row of [...this.rows.keys()]) this.drop(row);
  }

  private discardPending(state: RowState): void {
    const p = state.pending;
    if (!p) return;
    if ('out' in p) p.out.dispose();
    else {
      if (p.ownsBase) p.base.dispose();
      for (const l of p.candidateKV) {
        l.keysT.dispose();
        l.values.dispose();
      }
    }
    state.pending = undefined;
  }
}

/** Best-of-N's items for a reward model on another tokenizer: each response decoded (checked) and re-encoded with the prompt text. */
export function bridgedScoreItems(lm: CausalLM, rm: RewardModel, prompts: readonly string[], responses: readonly { prompt: number; responseIds: readonly number[] }[], where: string): ScoreItem[] {
  return responses.map((r) => rm.encode(prompts[r.prompt], responseText(lm, r.responseIds, where)));
}
