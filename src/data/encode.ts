/**
 * encodePreferences: preference text → token ids, the form the reward model trains on. Prompt and
 * responses are encoded separately and joined as ids, never as text: a reward for the prefix
 * `prompt ⊕ response[1..i]` is only meaningful if the ids the model sees are the ids decoding produces,
 * and re-encoding a joined string can merge tokens across the boundary.
 */
import { OptionError } from '../errors.js';
import type { PargsTokenizer } from '../lm/tokenizer.js';
import { checkArgument, checkOptions as checkSchema, custom, integer, oneOf, required, type Schema } from '../options.js';
import { tokenizer as tokenizerSpec } from '../option-specs.js';
import { makeDropReport, mergeDropReports } from './drop-report.js';
import type { DropReport, DroppedRow, EncodedPair, PreferencePair, PreferenceSet } from './types.js';

export interface EncodePreferencesOptions {
  /** Longest allowed prompt + longer response, in tokens (default 512, as the paper). */
  maxLength?: number;
  /**
   * What to do with a longer pair: 'drop' it (default, as the paper), or 'truncate' both responses to
   * fit (the prompt is kept whole, so a prompt of maxLength − 1 tokens or more still drops the row).
   */
  overLength?: 'drop' | 'truncate';
}

export interface EncodedPreferences {
  pairs: EncodedPair[];
  /** For a PreferenceSet, the load report with this step's drops added. */
  report: DropReport;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function checkOptions(options: EncodePreferencesOptions): { maxLength: number; overLength: 'drop' | 'truncate' } {
  const maxLength = options.maxLength ?? 512;
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new OptionError(`encodePreferences: maxLength must be an integer of at least 2 (one prompt and one response token), got ${maxLength}`);
  }
  const overLength = options.overLength ?? 'drop';
  if (overLength !== 'drop' && overLength !== 'truncate') {
    throw new OptionError(`encodePreferences: overLength must be "drop" or "truncate", got ${JSON.stringify(overLength)}`);
  }
  return { maxLength, overLength };
}

export const ENCODE_PREFERENCES_SCHEMA: Schema = { maxLength: integer(), overLength: oneOf('drop', 'truncate') };

/**
 * Encodes each pair: the prompt with the tokenizer's own special-token rule (BOS for Llama-type
 * tokenizers), each response with `addSpecialTokens: false`. No EOS is appended here; padding with EOS
 * belongs to training. Over-length and tokenization-identical pairs are dropped and reported.
 */
export function encodePreferences(
  set: PreferenceSet | readonly PreferencePair[],
  tokenizer: PargsTokenizer,
  options: EncodePreferencesOptions = {},
): EncodedPreferences {
  checkArgument('encodePreferences', 'set', set, required(custom('a PreferenceSet or an array of {prompt, chosen, rejected}', (v) => Array.isArray(v) || (v !== null && typeof v === 'object' && Array.isArray((v as PreferenceSet).pairs)), ['pairs', 1, {}])));
  checkArgument('encodePreferences', 'tokenizer', tokenizer, required(tokenizerSpec()));
  checkSchema('encodePreferences', options, ENCODE_PREFERENCES_SCHEMA);
  const { maxLength, overLength } = checkOptions(options);
  const input: readonly PreferencePair[] = Array.isArray(set) ? set : (set as PreferenceSet).pairs;
  const pairs: EncodedPair[] = [];
  const dropped: DroppedRow[] = [];
  const drop = (source: PreferencePair['source'], reason: DroppedRow['reason'], detail: string): void => {
    dropped.push({ ...source, reason, detail });
  };

  for (const pair of input) {
    const promptIds = tokenizer.encode(pair.prompt);
    let chosenIds = tokenizer.encode(pair.chosen, { addSpecialTokens: false });
    let rejectedIds = tokenizer.encode(pair.rejected, { addSpecialTokens: false });
    const longest = Math.max(chosenIds.length, rejectedIds.length);
    const length = promptIds.length + longest;
    let cut = '';
    if (length > maxLength) {
      const counts = `prompt ${promptIds.length} + longer response ${longest} = ${length} tokens > maxLength ${maxLength}`;
      if (overLength === 'drop') {
        drop(pair.source, 'too-long', counts);
        continue;
      }
      if (promptIds.length > maxLength - 1) {
        drop(pair.source, 'too-long', `the prompt alone is ${promptIds.length} tokens, leaving no room for a response within maxLength ${maxLength}`);
        continue;
      }
      const budget = maxLength - promptIds.length;
      chosenIds = chosenIds.slice(0, budget);
      rejectedIds = rejectedIds.slice(0, budget);
      cut = ` after truncating the responses to ${budget} tokens`;
    }
    if (sameIds(chosenIds, rejectedIds)) {
      drop(pair.source, 'identical-after-tokenization', `the chosen and rejected responses are the same ${chosenIds.length} token ids${cut}`);
      continue;
    }
    pairs.push({ promptIds, chosenIds, rejectedIds, source: pair.source });
  }

  const own = makeDropReport(input.length, dropped);
  return { pairs, report: Array.isArray(set) ? own : mergeDropReports((set as PreferenceSet).report, own) };
}
