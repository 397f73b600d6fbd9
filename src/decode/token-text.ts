/**
 * The text of single token ids for traces, decoded once per id and call: a guided step traces every
 * candidate of every row, and the same ids recur step after step, so a lookup replaces most decodes.
 */
import type { PargsTokenizer } from '../lm/tokenizer.js';

export function tokenTextCache(tokenizer: PargsTokenizer): (id: number) => string {
  const texts = new Map<number, string>();
  return (id) => {
    let text = texts.get(id);
    if (text === undefined) {
      text = tokenizer.decode([id], { skipSpecialTokens: false });
      texts.set(id, text);
    }
    return text;
  };
}
