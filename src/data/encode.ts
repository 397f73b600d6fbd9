/**
 * encodePreferences: preference text → token ids, the form the reward model trains on. Prompt and
 * responses are encoded separately and joined as ids, never as text: a reward for the prefix
 * `prompt ⊕ response[1..i]` is only meaningful if the ids the model sees are the ids decoding produces,
 * and re-encoding a joined string can merge tokens across the boundary.
 */
import { OptionError, TemplateError, TokenizerError } from '../errors.js';
import type { ChatRendering } from '../lm/chat-template.js';
import type { PargsTokenizer } from '../lm/tokenizer.js';
import { checkArgument, checkOptions as checkSchema, custom, integer, oneOf, required, showValue, type Schema } from '../options.js';
import { tokenizer as tokenizerSpec } from '../lm/lm-specs.js';
import { makeDropReport, mergeDropReports } from './drop-report.js';
import type { Conversation, DropReport, DroppedRow, EncodedPair, PreferencePair, PreferenceSet } from './types.js';

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
  /**
   * How the conversational pairs were rendered: with the tokenizer's chat template, or as the HH
   * transcript because it has none. Undefined when no pair is conversational.
   */
  conversationRendering?: ChatRendering;
}

/** The text of the common start of strings. */
function commonPrefix(texts: readonly string[]): string {
  let k = 0;
  const first = texts[0];
  while (k < first.length && texts.every((t) => t.charCodeAt(k) === first.charCodeAt(k))) k++;
  return first.slice(0, k);
}

/**
 * A conversation rendered with the chat template, as TRL does: the prompt with a generation prompt,
 * each side as the text the whole conversation adds after it (so a reply carries the template's
 * end-of-turn tokens). The prompt is cut to what all three renderings share, for templates whose
 * generation prompt differs from the start of the assistant turn.
 */
function renderWithTemplate(tokenizer: PargsTokenizer, c: Conversation): { prompt: string; chosen: string; rejected: string } {
  const promptText = tokenizer.applyChatTemplate(c.prompt, { addGenerationPrompt: true });
  const chosenText = tokenizer.applyChatTemplate([...c.prompt, ...c.chosen]);
  const rejectedText = tokenizer.applyChatTemplate([...c.prompt, ...c.rejected]);
  const prompt = commonPrefix([promptText, chosenText, rejectedText]);
  return { prompt, chosen: chosenText.slice(prompt.length), rejected: rejectedText.slice(prompt.length) };
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
 * tokenizers; none when a chat template already wrote it), each response with `addSpecialTokens: false`.
 * Conversational pairs are rendered with the tokenizer's chat template when it has one, else their HH
 * transcript is used. No EOS is appended here; padding with EOS belongs to training. Over-length,
 * template-refused and tokenization-identical pairs are dropped and reported.
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

  let conversationRendering: ChatRendering | undefined;
  for (const [index, pair] of input.entries()) {
    if (pair.margin !== undefined && !(typeof pair.margin === 'number' && Number.isFinite(pair.margin))) {
      throw new OptionError(`encodePreferences: pair ${index} has margin ${showValue(pair.margin)}; a margin must be a finite number (or absent)`);
    }
    let text: { prompt: string; chosen: string; rejected: string } = pair;
    let promptIds: number[];
    if (pair.conversation && tokenizer.chatTemplate) {
      conversationRendering = 'chat-template';
      try {
        text = renderWithTemplate(tokenizer, pair.conversation);
      } catch (err) {
        // A template that refuses one conversation drops that row; one that exceeds a rendering limit
        // is a fault of the template, not of the row, and would cost its time limit on every row.
        if (!(err instanceof TokenizerError) || err instanceof TemplateError) throw err;
        drop(pair.source, 'unsupported-conversation', err.message);
        continue;
      }
      if (text.prompt === '') {
        drop(pair.source, 'no-shared-prompt', 'the chat template renders the prompt and the two conversations with no common start');
        continue;
      }
      promptIds = tokenizer.encodeChat(text.prompt);
    } else {
      if (pair.conversation) conversationRendering = 'hh-transcript';
      promptIds = tokenizer.encode(text.prompt);
    }
    let chosenIds = tokenizer.encode(text.chosen, { addSpecialTokens: false });
    let rejectedIds = tokenizer.encode(text.rejected, { addSpecialTokens: false });
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
    pairs.push({ promptIds, chosenIds, rejectedIds, source: pair.source, ...(pair.margin !== undefined ? { margin: pair.margin } : {}) });
  }

  const own = makeDropReport(input.length, dropped);
  const report = Array.isArray(set) ? own : mergeDropReports((set as PreferenceSet).report, own);
  return conversationRendering ? { pairs, report, conversationRendering } : { pairs, report };
}
