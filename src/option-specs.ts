/**
 * Option specs shared by several public functions (models, prompts, seeds, decode strategies), so the
 * same key means the same type everywhere. Classes are looked up lazily: their modules import callers
 * of this one.
 */
import { CausalLM } from './lm/causal-lm.js';
import { boolean, custom, idRows, ids, instance, integer, number, object, required, strings, tagged, type Spec } from './options.js';
import { PartialRewardModel } from './reward/reward-model.js';

export const causalLM = (): Spec => instance(() => CausalLM, 'a CausalLM (from loadCausalLM)');
export const rewardModel = (): Spec => instance(() => PartialRewardModel, 'a PartialRewardModel (from trainPartialRM or loadRewardModel)');

/** Any integer seed; `validateSeed` adds the safe-integer range. */
export const seed = (): Spec => integer();
export const positiveInt = (): Spec => integer({ min: 1 });
export const nonNegativeInt = (): Spec => integer({ min: 0 });
export const nonNegative = (): Spec => number({ min: 0 });

export const prompts = (): Spec => strings();
export const promptIds = (): Spec => idRows();

export const decodeStrategy = (): Spec =>
  tagged('kind', {
    greedy: {},
    sample: { temperature: number({ above: 0 }), topK: positiveInt(), topP: number({ above: 0, max: 1 }) },
  });

export const guidedMode = (): Spec => tagged('kind', { greedy: {}, sample: { temperature: number({ above: 0 }) } });

export const stopOptions = (): Spec => object({ eos: boolean(), tokenIds: ids(), strings: strings() });

/** A token-id pair as `encodePreferences` makes it. */
export const tokenPair = (): Spec => object({ promptIds: required(ids()), chosenIds: required(ids()), rejectedIds: required(ids()) }, 'a token pair');

export const shard = (): Spec => object({ index: required(nonNegativeInt()), count: required(positiveInt()) }, 'a shard');

/** Preference pairs: a PreferenceSet, text rows or token-id pairs (contents are checked by the callee). */
export const pairsInput = (): Spec =>
  custom('a PreferenceSet (from loadPreferences) or an array of pairs', (v) => Array.isArray(v) || isPreferenceSet(v), ['pairs.jsonl', 1, {}]);

function isPreferenceSet(v: unknown): boolean {
  return v !== null && typeof v === 'object' && Array.isArray((v as { pairs?: unknown }).pairs);
}
