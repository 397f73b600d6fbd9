/**
 * The settings of the paper's two experiments (Rashid et al., "A Critical Look At Tokenwise
 * Reward-Guided Text Generation"), as far as the paper, its official code (ahmadrash/PARGS) and the ARGS
 * code fix them. Every value says where it comes from; `unknown` lists what the released code does not
 * fix, together with the value this recipe uses instead. docs/recipes.md is the prose version.
 */
import type { PreferenceFormat } from '../data/types.js';

export const RECIPES = ['hh', 'tldr'] as const;
export type RecipeName = (typeof RECIPES)[number];

export interface RecipeSettings {
  name: RecipeName;
  title: string;
  /** Format read from --data ('auto' detects TRL, HH or summarize). */
  format: 'auto' | PreferenceFormat;
  /** Text put before every decoding prompt. */
  promptPrefix: string;
  /** Strings that end a response (cut before them). */
  stopStrings: string[];
  maxNewTokens: number;
  /** Candidates per step of every guided method. */
  topK: number;
  /** PARGS: sampling with β. */
  pargsBeta: number;
  /** PARGS-G: argmax with β. */
  pargsGreedyBeta: number;
  /** ARGS: greedy, score = log π_ref + w·r. */
  argsWeight: number;
  /** Pairs whose longer response has at most this many tokens are skipped (0: none). */
  skipPairsUpTo: number;
  /** Shortest prefix the partial RM is trained on. */
  minPrefix: number;
  /** Training pairs used at most (a seeded subsample); undefined: all. */
  maxPairs?: number;
  /** Prompt + response tokens kept per pair (longer pairs dropped and reported). */
  maxLength: number;
  /** Where each fixed value comes from. */
  sources: string[];
  /** Settings the released code does not fix, and what this recipe does instead. */
  unknown: string[];
}

const COMMON_UNKNOWN = [
  'Best-of-N: N is not fixed by the sources read; the recipe uses --n (default 4) genuine samples at temperature 1 over the top-k (the official script passed top_p = 0, which makes its samples greedy; not repeated here)',
  'the reward models: the paper fine-tunes whole transformers (lr 5e-6–5e-5, fp16); here a linear head on the frozen --model backbone is trained (lr --lr, default 1e-3) — the same objective, not the same model',
  'CD: the paper compares with Controlled Decoding but its value-model settings are not in the code read; here the value head regresses each training response\'s prefixes onto the full RM\'s score of that response (one rollout per prefix) and decodes like PARGS (sampling, β = the PARGS β)',
  'plain decoding: the paper\'s "TOP-K" baseline is top-k sampling; k = the recipe\'s top-k, temperature 1',
];

export const RECIPE_SETTINGS: Record<RecipeName, RecipeSettings> = {
  tldr: {
    name: 'tldr',
    title: 'TL;DR summarization (Reddit posts)',
    format: 'auto',
    promptPrefix: 'Context: ',
    stopStrings: [],
    maxNewTokens: 64,
    topK: 10,
    pargsBeta: 2,
    pargsGreedyBeta: 1,
    argsWeight: 1,
    skipPairsUpTo: 20,
    minPrefix: 2,
    maxPairs: 8192,
    maxLength: 512,
    sources: [
      'k = 10, 64 new tokens, PARGS β = 2 (sampling), PARGS-G β = 1, ARGS w = 1 greedy: the official decoding script',
      'partial RM training: every prefix length from 2 (i = 1 skipped), pairs of ≤ 20 response tokens skipped, the shorter response EOS-padded, 8,192 comparisons, 1 epoch, 256 prefix pairs per step (16 × 16 accumulation), max length 512: the official training code and README',
      'test prompts prefixed "Context: ": the official decoding script',
    ],
    unknown: [
      'test prompts: the paper used the first 100 of the CarperAI TL;DR test split shuffled with seed 42; give them with --prompts, otherwise the recipe holds out --test prompts of --data with its own seeded split',
      ...COMMON_UNKNOWN,
    ],
  },
  hh: {
    name: 'hh',
    title: 'HH-RLHF dialogue (Anthropic helpful-harmless)',
    format: 'hh',
    promptPrefix: '',
    stopStrings: ['\n\nHuman:'],
    maxNewTokens: 128,
    topK: 10,
    pargsBeta: 2,
    pargsGreedyBeta: 1,
    argsWeight: 1.5,
    skipPairsUpTo: 0,
    minPrefix: 1,
    maxLength: 512,
    sources: [
      'prompt = the dialogue up to and including the last shared "\\n\\nAssistant:"; stop at "\\n\\nHuman:"; 128 new tokens; k = 10; ARGS w = 1.5 greedy: the ARGS code for HH-RLHF, which the paper reuses (π_ref and the full RM are ARGS\'s Llama-7B models there)',
      'partial RM training: every prefix length from 1, the shorter response EOS-padded, 1 epoch, 256 prefix pairs per step, max length 512 (prefix examples over 512 tokens dropped): the official training code',
    ],
    unknown: [
      'PARGS β and PARGS-G β for HH are not in the released code; the recipe uses the TL;DR values (2 and 1)',
      'the number of training comparisons and of test prompts for HH are not fixed by the code read; the recipe uses every pair of --data (or --max-pairs) and --test held-out prompts (default 100)',
      ...COMMON_UNKNOWN,
    ],
  },
};
