/**
 * Option specs shared by several public functions (prompts, seeds, decode strategies, pairs), so the same
 * key means the same type everywhere. Ground floor: the specs of domain types live beside those types
 * (`lm/lm-specs.ts`, `reward/reward-model-spec.ts`); a spec here checks shape only.
 */
import { anyOf, arrayOf, boolean, custom, oneOf, idRows, tokenIds, integer, number, object, required, string, strings, tagged, type Spec } from './options.js';

/** Any integer seed; `validateSeed` adds the safe-integer range. */
export function seed(): Spec {
  return integer();
}
export function positiveInt(): Spec {
  return integer({ min: 1 });
}
export function nonNegativeInt(): Spec {
  return integer({ min: 0 });
}
export function nonNegative(): Spec {
  return number({ min: 0 });
}

/** Bytes kept in memory before spilling (Infinity: never spill). */
export function memoryBudget(): Spec {
  return number({ min: 0, finite: false });
}

/** The prefix options of a feature pass (see `PrefixPlanOptions`). */
export function prefixOptions(): Spec {
  return object({ mode: required(oneOf('partial', 'full')), alignment: required(oneOf('eos', 'shortest')), minPrefix: required(positiveInt()), states: oneOf('prefix-ends', 'from-prompt-end') }, 'prefix options');
}

/** Prompts: text, or a conversation of `{role, content}` messages rendered with the chat template. */
export function prompts(): Spec {
  const message = object({ role: required(string()), content: required(string()) }, 'a {role, content} message');
  return arrayOf(anyOf(string(), arrayOf(message, 'a message list')), 'an array of prompts (strings or {role, content} message lists)');
}
export function promptIds(): Spec {
  return idRows();
}

export function decodeStrategy(): Spec {
  return tagged('kind', {
    greedy: {},
    sample: { temperature: number({ above: 0 }), topK: positiveInt(), topP: number({ above: 0, max: 1 }) },
  });
}

export function guidedMode(): Spec {
  return tagged('kind', { greedy: { exact: boolean() }, sample: { temperature: number({ above: 0 }), exact: boolean() } });
}

export function stopOptions(): Spec {
  return object({ eos: boolean(), tokenIds: tokenIds(), strings: strings() });
}

/** A token-id pair as `encodePreferences` makes it (its `margin`, when given, a finite number). */
export function tokenPair(): Spec {
  return object({ promptIds: required(tokenIds()), chosenIds: required(tokenIds()), rejectedIds: required(tokenIds()), margin: number() }, 'a token pair', true);
}

/** A text comparison as users write it (`margin`, when given, a finite number). */
export function textPair(): Spec {
  return object({ prompt: required(string()), chosen: required(string()), rejected: required(string()), margin: number() }, 'a {prompt, chosen, rejected} pair', true);
}

export function shard(): Spec {
  return object({ index: required(nonNegativeInt()), count: required(positiveInt()) }, 'a shard');
}

/** Precomputed features as `extractPrefixFeatures` / `loadFeatureShards` return them. */
export function prefixFeatures(): Spec {
  return custom('PrefixFeatures (from extractPrefixFeatures or loadFeatureShards)', (v) => v !== null && typeof v === 'object' && 'store' in v && 'plans' in v, [{}, 'features', 1]);
}

/** Preference pairs: a PreferenceSet, text rows or token-id pairs (contents are checked by the callee). */
export function pairsInput(): Spec {
  return custom('a PreferenceSet (from loadPreferences) or an array of pairs', (v) => Array.isArray(v) || isPreferenceSet(v), ['pairs.jsonl', 1, {}]);
}

function isPreferenceSet(v: unknown): boolean {
  return v !== null && typeof v === 'object' && Array.isArray((v as { pairs?: unknown }).pairs);
}
