/**
 * Which prefixes of a preference pair are compared, and which token sequences the backbone must run to
 * get their features.
 *
 * Prefix length i counts response tokens; the prompt is always whole, and both responses are cut at the
 * same i. With `eos` alignment (the paper) the shorter response is padded with EOS up to the longer
 * length L, so its later "prefixes" are the complete response followed by EOS; `shortest` compares only
 * i ≤ min(Lc, Lr). `full` mode compares each complete response at its own end: an ordinary
 * full-sequence reward model (what ARGS needs).
 */
import { OptionError } from '../errors.js';
import { checkArgument, custom, integer, object, oneOf, required, tokenIds } from '../options.js';

export interface TokenPair {
  promptIds: readonly number[];
  chosenIds: readonly number[];
  rejectedIds: readonly number[];
  /** This pair's Bradley–Terry margin (TRL's `margin` column); the training option's margin when absent. */
  margin?: number;
}

export type RewardMode = 'partial' | 'full';
export type Alignment = 'eos' | 'shortest';

export interface PrefixPlanOptions {
  mode: RewardMode;
  alignment: Alignment;
  /** Smallest prefix length compared (≥ 1). The official TL;DR training skipped i = 1. */
  minPrefix: number;
  /** Token appended to pad the shorter response under `eos` alignment. */
  eosId: number | null;
  /**
   * Which hidden states the feature pass keeps: 'prefix-ends' (default) the state at the last token of
   * each compared prefix (linear and MLP heads); 'from-prompt-end' every state from the prompt's last
   * token to the sequence's end, row j = after j response tokens (the vocabulary head reads the state
   * before each token; see features.ts).
   */
  states?: 'prefix-ends' | 'from-prompt-end';
}

/** The plan for one pair: the two sequences to run and the positions whose hidden states are features. */
export interface PairPlan {
  /** prompt ⊕ chosen (EOS-padded under `eos` alignment). */
  chosenSequence: number[];
  rejectedSequence: number[];
  /** Indices into each sequence whose hidden states score the compared prefixes, aligned pairwise. */
  chosenPositions: number[];
  rejectedPositions: number[];
  /** Prefix length (in response tokens) of each compared pair, and the aligned length L. */
  prefixLengths: number[];
  alignedLength: number;
}

export function planPair(pair: TokenPair, o: PrefixPlanOptions): PairPlan | null {
  checkArgument('planPair', 'pair', pair, required(object({ promptIds: required(tokenIds()), chosenIds: required(tokenIds()), rejectedIds: required(tokenIds()) }, 'a token pair', true)));
  checkArgument('planPair', 'options', o, required(object({ mode: required(oneOf('partial', 'full')), alignment: required(oneOf('eos', 'shortest')), minPrefix: required(integer({ min: 1 })), eosId: custom('a token id or null', (v) => v === null || (Number.isInteger(v) && (v as number) >= 0), ['1', -1]) }, 'prefix plan options')));
  const P = pair.promptIds.length;
  const Lc = pair.chosenIds.length;
  const Lr = pair.rejectedIds.length;
  if (o.mode === 'full') {
    return {
      chosenSequence: [...pair.promptIds, ...pair.chosenIds],
      rejectedSequence: [...pair.promptIds, ...pair.rejectedIds],
      chosenPositions: [P + Lc - 1],
      rejectedPositions: [P + Lr - 1],
      prefixLengths: [Math.max(Lc, Lr)],
      alignedLength: Math.max(Lc, Lr),
    };
  }
  let L: number;
  let chosen = [...pair.chosenIds];
  let rejected = [...pair.rejectedIds];
  if (o.alignment === 'eos') {
    if (o.eosId === null) throw new OptionError("alignment 'eos' needs an EOS token, but the backbone's tokenizer has none; use alignment 'shortest'");
    L = Math.max(Lc, Lr);
    chosen = [...chosen, ...new Array<number>(L - Lc).fill(o.eosId)];
    rejected = [...rejected, ...new Array<number>(L - Lr).fill(o.eosId)];
  } else {
    L = Math.min(Lc, Lr);
    chosen = chosen.slice(0, L);
    rejected = rejected.slice(0, L);
  }
  if (L < o.minPrefix) return null;
  const prefixLengths: number[] = [];
  for (let i = o.minPrefix; i <= L; i++) prefixLengths.push(i);
  const positions = prefixLengths.map((i) => P + i - 1);
  return {
    chosenSequence: [...pair.promptIds, ...chosen],
    rejectedSequence: [...pair.promptIds, ...rejected],
    chosenPositions: positions,
    rejectedPositions: positions,
    prefixLengths,
    alignedLength: L,
  };
}
