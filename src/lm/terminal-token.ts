/**
 * The terminal token: the one id that marks where a response ends, used the same way everywhere.
 *
 * - Which id: the model's end-of-turn token when its chat template has one (the special token the
 *   template writes right after an assistant message: `<|eot_id|>` for Llama-3, `<|im_end|>` for ChatML,
 *   `<end_of_turn>` for Gemma, `</s>` for Mistral), else `generation_config`'s first EOS id, else the
 *   tokenizer's EOS. Prefix plans pad the shorter response with it (`eos` alignment).
 * - Where a complete response is scored: at its last content token. A trailing EOS (any of the model's
 *   EOS ids) is not part of the response for scoring, so a full-sequence reward model is read at the same
 *   position in training (responses carry no EOS) and in Best-of-N (samples that stopped at EOS).
 */
import { TemplateError } from '../errors.js';
import type { PargsTokenizer } from './tokenizer.js';

/** Stands in for an assistant reply, to find what the template writes after one. */
const MARKER = 'pargs-terminal-probe';

/** The special token a chat template puts right after an assistant message, if any. */
export function endOfTurnTokenId(tokenizer: PargsTokenizer): number | null {
  if (!tokenizer.chatTemplate) return null;
  let text: string;
  try {
    text = tokenizer.chatTemplate.render([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: MARKER }]);
  } catch (err) {
    // A template past its rendering limits is hostile or broken: say so rather than pick another id.
    if (err instanceof TemplateError) throw err;
    return null; // a template that cannot render this two-turn chat has no usable end-of-turn marker
  }
  const at = text.lastIndexOf(MARKER);
  if (at < 0) return null;
  const after = text.slice(at + MARKER.length);
  if (after === '') return null;
  const [first] = tokenizer.encode(after, { addSpecialTokens: false });
  // Special tokens decode to nothing when skipped; ordinary text (a newline, a label) does not.
  return first !== undefined && tokenizer.decode([first], { skipSpecialTokens: true }) === '' ? first : null;
}

/** The id that ends a response: end-of-turn, else generation_config's first EOS, else the tokenizer's EOS. */
export function terminalTokenId(tokenizer: PargsTokenizer, generationEosIds: readonly number[]): number | null {
  return endOfTurnTokenId(tokenizer) ?? generationEosIds[0] ?? tokenizer.eosTokenId;
}

/** `responseIds` without one trailing EOS: the tokens a complete response is scored on. */
export function scoredResponse(responseIds: readonly number[], eosIds: readonly number[]): readonly number[] {
  return responseIds.length > 1 && eosIds.includes(responseIds[responseIds.length - 1]) ? responseIds.slice(0, -1) : responseIds;
}
