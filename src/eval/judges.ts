/**
 * Judges score a (prompt, response) pair. Any function works; pargs ships two lexicon judges from npm —
 * AFINN-165 (`sentiment`, MIT) as the gold judge of the demo, and VADER (`vader-sentiment`,
 * Apache-2.0) as an independent second opinion — and wraps any reward model as a judge.
 */
import { createRequire } from 'node:module';
import { OptionError } from '../errors.js';
import { rewardModel } from '../reward/reward-model-spec.js';
import { checkArgument, checkOptions, integer, oneOf, required, string, type Schema } from '../options.js';
import type { RewardModel } from '../reward/reward-model-interface.js';

export type Judge = (prompt: string, response: string) => number | Promise<number>;

const require = createRequire(import.meta.url);

interface SentimentResult {
  score: number;
  comparative: number;
  tokens: string[];
}
interface VaderModule {
  SentimentIntensityAnalyzer: { polarity_scores(text: string): { compound: number } };
}

let afinn: { analyze(text: string): SentimentResult } | undefined;
let vader: VaderModule | undefined;

export const AFINN_SCHEMA: Schema = { aggregate: oneOf('mean', 'sum') };

/**
 * AFINN-165 valence of the response. 'mean' (default): total valence per word, so longer responses
 * are not favoured; 'sum': the total.
 */
export function afinnJudge(options: { aggregate?: 'mean' | 'sum' } = {}): Judge {
  checkOptions('afinnJudge', options, AFINN_SCHEMA);
  const aggregate = options.aggregate ?? 'mean';
  if (aggregate !== 'mean' && aggregate !== 'sum') throw new OptionError(`afinnJudge: aggregate must be 'mean' or 'sum', got ${JSON.stringify(aggregate)}`);
  if (!afinn) {
    const Sentiment = require('sentiment') as new () => { analyze(text: string): SentimentResult };
    afinn = new Sentiment();
  }
  const analyzer = afinn;
  return (_prompt, response) => {
    const r = analyzer.analyze(response);
    return aggregate === 'sum' ? r.score : r.comparative;
  };
}

export const ENDING_SCHEMA: Schema = { words: integer({ min: 1 }) };

/**
 * AFINN-165 valence of how the response ENDS: the mean valence per word of its last `words` words
 * (default 6), nothing before them counts. Not a sum over the response's words: a prefix's sentiment
 * says little about the score until the response is near its end, which is the case where the
 * "a preferred response's prefixes are preferred" assumption of PARGS is weakest.
 */
export function endingJudge(options: { words?: number } = {}): Judge {
  checkOptions('endingJudge', options, ENDING_SCHEMA);
  const k = options.words ?? 6;
  const mean = afinnJudge();
  return (prompt, response) => {
    const tail = response.trim().split(/\s+/).slice(-k).join(' ');
    return mean(prompt, tail);
  };
}

/** VADER compound score of the response, in [−1, 1]. */
export function vaderJudge(): Judge {
  vader ??= require('vader-sentiment') as VaderModule;
  const analyzer = vader.SentimentIntensityAnalyzer;
  return (_prompt, response) => analyzer.polarity_scores(response).compound;
}

/** A reward model as a judge: the reward of the complete response. */
export function rewardModelJudge(rm: RewardModel): Judge {
  checkArgument('rewardModelJudge', 'rm', rm, required(rewardModel()));
  return (prompt, response) => rm.score(prompt, response);
}

export const BUILTIN_JUDGES = ['afinn', 'afinn-sum', 'afinn-ending', 'vader'] as const;
export type BuiltinJudge = (typeof BUILTIN_JUDGES)[number];

export function builtinJudge(name: string): Judge {
  checkArgument('builtinJudge', 'name', name, required(string()));
  switch (name) {
    case 'afinn':
      return afinnJudge();
    case 'afinn-sum':
      return afinnJudge({ aggregate: 'sum' });
    case 'afinn-ending':
      return endingJudge();
    case 'vader':
      return vaderJudge();
    default:
      throw new OptionError(`unknown judge "${name}"; built-in judges: ${BUILTIN_JUDGES.join(', ')} (or pass a function)`);
  }
}
