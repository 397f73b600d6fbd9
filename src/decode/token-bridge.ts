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
 * forward (tails right-padded, each read at its own last token). Rows are batched with their prefixes
 * left-padded: rows whose candidates each add one token run as one candidates step (as the separate-
 * backbone path does), the re-tokenized rows as one forward of tails. The chosen candidate's ids and
 * cache are kept for the next step.
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

/** One row's RM ids of prompt ⊕ response and their cache, [1, …, ids.length] (no padding: slot j is position j). */
interface RowState {
  ids: number[];
  cache: KVCache;
}

/** One row's candidates in a step: their RM sequences, read-out indices, and the prefix they share with the row's cache. */
interface Plan {
  row: number;
  sequences: number[][];
  reads: number[];
  shared: number;
}

/**
 * Part of a scored step waiting for the choice: some rows (`at`: their places in the step), their
 * prefixes left-padded to `maxShared`, run either as one candidates step (every tail one token: `base` +
 * `candidateKV`) or as right-padded tails (`out`).
 */
type Part = { plans: Plan[]; at: number[]; maxShared: number; k: number } & ({ base: KVCache; ownsBase: boolean; candidateKV: LayerKV[] } | { out: KVCache });

/** `length` slots of batch row `r` of `cache` from slot `from` on, as a one-row cache. */
function rowSlots(cache: KVCache, r: number, from: number, length: number): KVCache {
  const layers = tf.tidy(() =>
    cache.layers.map((l) => {
      const [, Hkv, hd] = l.keysT.shape;
      return {
        keysT: tf.slice(l.keysT, [r, 0, 0, from], [1, Hkv, hd, length]) as tf.Tensor4D, // [1, Hkv, hd, length]
        values: tf.slice(l.values, [r, 0, from, 0], [1, Hkv, length, hd]) as tf.Tensor4D, // [1, Hkv, length, hd]
      };
    }),
  );
  return new KVCache(layers, [new Uint8Array(length).fill(1)], [length]);
}

/**
 * The reward model's side of guided decoding across tokenizers: per row the RM ids and cache of
 * prompt ⊕ response; each step every row's candidates scored in one RM forward; the choice extends them.
 */
export class TextBridge {
  private readonly rows = new Map<number, RowState>();
  private readonly counts = new Map<number, BridgeTokens>();
  private pending: Part[] = [];

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
   * Rewards [n·k] (row order) of each candidate v of each row after its response ids:
   * r(prompt ⊕ text(response ⊕ v)), read as the RM reads a whole sequence; and each row's token counts.
   * Rows whose candidates all add one RM token run as one candidates step; the others, whose text
   * re-tokenized before the new token, as one forward of right-padded tails.
   */
  async scoreRows(rows: readonly number[], responses: readonly (readonly number[])[], candidates: readonly (readonly number[])[]): Promise<{ rewards: Float32Array; tokens: BridgeTokens[] }> {
    this.discardPending();
    const k = candidates[0].length;
    const plans = rows.map((row, b) => this.plan(row, responses[b], candidates[b]));
    const width = (p: Plan): number => Math.max(...p.sequences.map((s) => s.length - p.shared));
    const single = plans.flatMap((p, b) => (width(p) === 1 && p.shared > 0 ? [b] : []));
    const multi = plans.flatMap((p, b) => (width(p) === 1 && p.shared > 0 ? [] : [b]));
    const rewards = new Float32Array(rows.length * k);
    const tokens: BridgeTokens[] = [];
    for (const [at, one] of [[single, true], [multi, false]] as const) {
      if (at.length === 0) continue;
      const { rewards: part, width: w } = await this.run(at.map((b) => plans[b]), [...at], k, one);
      at.forEach((b, i) => {
        rewards.set(part.subarray(i * k, (i + 1) * k), b * k);
        const step = { rmTokens: k * w, rmTokensWithoutCache: plans[b].sequences.reduce((s, q) => s + q.length, 0) };
        const total = this.counts.get(plans[b].row) as BridgeTokens;
        total.rmTokens += step.rmTokens;
        total.rmTokensWithoutCache += step.rmTokensWithoutCache;
        tokens[b] = step;
      });
    }
    return { rewards, tokens };
  }

  /** Keeps candidate chosen[b] of each row of the last scored step: its RM ids and cache become the row's. */
  chooseRows(rows: readonly number[], chosen: readonly number[]): void {
    const parts = this.pending;
    if (parts.reduce((s, p) => s + p.plans.length, 0) !== rows.length || parts.some((p) => p.plans.some((plan, i) => plan.row !== rows[p.at[i]]))) {
      throw new OptionError('TextBridge.chooseRows: these rows were not the last scored step');
    }
    try {
      for (const p of parts) {
        const picks = p.at.map((b) => chosen[b]);
        const extended = 'base' in p ? p.base.appendCandidate(p.candidateKV, picks) : undefined; // [rows, …, maxShared + 1]
        try {
          p.plans.forEach((plan, i) => {
            const ids = plan.sequences[picks[i]];
            // The row's real slots start after its left padding, maxShared − shared.
            const from = p.maxShared - plan.shared;
            const cache = extended ? rowSlots(extended, i, from, ids.length) : rowSlots((p as { out: KVCache }).out, i * p.k + picks[i], from, ids.length);
            const state = this.rows.get(plan.row) as RowState;
            state.cache.dispose();
            state.cache = cache;
            state.ids = ids;
          });
        } finally {
          extended?.dispose();
        }
      }
    } finally {
      this.discardPending();
    }
  }

  /** One RM forward for some rows' candidates (`one`: each adds one token after the shared prefix); their rewards [rows·k]. */
  private async run(plans: Plan[], at: number[], k: number, one: boolean): Promise<{ rewards: Float32Array; width: number }> {
    const n = plans.length;
    const maxShared = Math.max(...plans.map((p) => p.shared));
    const width = Math.max(...plans.map((p) => Math.max(...p.sequences.map((s) => s.length - p.shared))));
    const d = this.rm.backbone.config.hiddenSize;
    let hidden: tf.Tensor3D;
    let rowsRead: Int32Array; // row of the flattened hidden states each candidate is read from
    if (one) {
      // The candidates step of the separate-backbone path, against the prefixes.
      const { cache: base, owned: ownsBase } = this.prefixes(plans, maxShared, 1);
      const out = this.rm.backbone.forward({ ids: plans.map((p) => p.sequences.map((s) => s[p.shared])), cache: base, candidates: true, logits: 'none' });
      hidden = out.hidden; // [n, k, d]
      rowsRead = Int32Array.from({ length: n * k }, (_, i) => i);
      this.pending.push({ plans, at, maxShared, k, base, ownsBase, candidateKV: out.candidateKV as LayerKV[] });
    } else {
      const pad = this.rm.backbone.padId;
      const ids = plans.flatMap((p) => p.sequences.map((s) => Array.from({ length: width }, (_, i) => s[p.shared + i] ?? pad)));
      const mask = plans.flatMap((p) => p.sequences.map((s) => Array.from({ length: width }, (_, i) => (p.shared + i < s.length ? 1 : 0))));
      const prefix = maxShared > 0 ? this.prefixes(plans, maxShared, k).cache : undefined; // [n·k, …, maxShared]
      const out = this.rm.backbone.forward({ ids, mask, ...(prefix ? { cache: prefix } : {}), logits: 'none', returnCache: true });
      prefix?.dispose();
      hidden = out.hidden; // [n·k, width, d]
      rowsRead = Int32Array.from(plans.flatMap((p, b) => p.reads.map((r, j) => (b * k + j) * width + r - p.shared)));
      this.pending.push({ plans, at, maxShared, k, out: out.cache as KVCache });
    }
    const rewardTensor = tf.tidy(() => this.rm.rewardsFromHidden(tf.gather(tf.reshape(hidden, [-1, d]), tf.tensor1d(rowsRead, 'int32')) as tf.Tensor2D)); // [n·k]
    hidden.dispose();
    const rewards = (await rewardTensor.data()) as Float32Array;
    rewardTensor.dispose();
    return { rewards, width };
  }

  /** Frees a finished row. */
  drop(row: number): void {
    this.rows.get(row)?.cache.dispose();
    this.rows.delete(row);
  }

  dispose(): void {
    this.discardPending();
    for (const row of [...this.rows.keys()]) this.drop(row);
  }

  /** Row's candidate sequences and the prefix they share with its cache (the lossy-decode check applies here). */
  private plan(row: number, responseIds: readonly number[], candidates: readonly number[]): Plan {
    const state = this.rows.get(row) as RowState;
    const before = responseIds.length ? this.lm.tokenizer.decode(responseIds, { cleanUpSpaces: false }) : '';
    const sequences = candidates.map((v) => rmSequence(this.rm, this.prompts[row], appendedText(this.lm, before, [...responseIds, v], this.where), this.where));
    const reads = sequences.map((s) => readIndex(this.rm, s));
    // Every candidate runs at least its read-out token, so the shared prefix stops before the earliest one.
    const shared = Math.min(...sequences.map((s, j) => Math.min(commonPrefix(state.ids, s), reads[j])));
    return { row, sequences, reads, shared };
  }

  /**
   * The rows' shared prefixes as one cache, each left-padded to `maxShared` (masked slots) and repeated
   * `repeat` times: [n·repeat, …, maxShared]. A single row whose whole cache is shared is used as it is.
   */
  private prefixes(plans: readonly Plan[], maxShared: number, repeat: number): { cache: KVCache; owned: boolean } {
    const states = plans.map((p) => this.rows.get(p.row) as RowState);
    if (plans.length === 1 && repeat === 1 && plans[0].shared === states[0].ids.length) return { cache: states[0].cache, owned: false };
    const layers = tf.tidy(() => {
      const index = tf.tensor1d(Int32Array.from({ length: plans.length * repeat }, (_, i) => Math.floor(i / repeat)), 'int32');
      return states[0].cache.layers.map((first, li) => {
        const [, Hkv, hd] = first.keysT.shape;
        const keys = plans.map((p, b) => {
          if (p.shared === 0) return tf.zeros([1, Hkv, hd, maxShared]);
          const l = states[b].cache.layers[li];
          const kept = tf.slice(l.keysT, [0, 0, 0, 0], [1, Hkv, hd, p.shared]); // [1, Hkv, hd, shared]
          return p.shared === maxShared ? kept : tf.concat([tf.zeros([1, Hkv, hd, maxShared - p.shared]), kept], 3); // [1, Hkv, hd, maxShared]
        });
        const values = plans.map((p, b) => {
          if (p.shared === 0) return tf.zeros([1, Hkv, maxShared, hd]);
          const l = states[b].cache.layers[li];
          const kept = tf.slice(l.values, [0, 0, 0, 0], [1, Hkv, p.shared, hd]); // [1, Hkv, shared, hd]
          return p.shared === maxShared ? kept : tf.concat([tf.zeros([1, Hkv, maxShared - p.shared, hd]), kept], 2); // [1, Hkv, maxShared, hd]
        });
        return {
          keysT: tf.gather(tf.concat(keys, 0), index, 0) as tf.Tensor4D, // [n·repeat, Hkv, hd, maxShared]
          values: tf.gather(tf.concat(values, 0), index, 0) as tf.Tensor4D, // [n·repeat, Hkv, maxShared, hd]
        };
      });
    });
    const masks = plans.flatMap((p) => Array.from({ length: repeat }, () => Uint8Array.from({ length: maxShared }, (_, i) => (i >= maxShared - p.shared ? 1 : 0))));
    return { cache: new KVCache(layers, masks, plans.flatMap((p) => new Array<number>(repeat).fill(p.shared))), owned: true };
  }

  private discardPending(): void {
    for (const p of this.pending) {
      if ('out' in p) p.out.dispose();
      else {
        if (p.ownsBase) p.base.dispose();
        for (const l of p.candidateKV) {
          l.keysT.dispose();
          l.values.dispose();
        }
      }
    }
    this.pending = [];
  }
}

/** Best-of-N's items for a reward model on another tokenizer: each response decoded (checked) and re-encoded with the prompt text. */
export function bridgedScoreItems(lm: CausalLM, rm: RewardModel, prompts: readonly string[], responses: readonly { prompt: number; responseIds: readonly number[] }[], where: string): ScoreItem[] {
  return responses.map((r) => rm.encode(prompts[r.prompt], responseText(lm, r.responseIds, where)));
}
