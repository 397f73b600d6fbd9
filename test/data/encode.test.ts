/** encodePreferences: token-id space, special-token rules, over-length handling and report merging. */
import { describe, expect, it } from 'vitest';
import { encodePreferences } from '../../src/data/encode.js';
import { loadPreferences } from '../../src/data/load.js';
import { OptionError } from '../../src/errors.js';
import { PargsTokenizer } from '../../src/lm/tokenizer.js';
import { EOT, tinyTokenizerJson } from '../helpers/tiny-model.js';

const { json, eotId } = tinyTokenizerJson();
// GPT-2-style: the template adds nothing. Llama-style: BOS in front of encoded text.
const gpt2 = PargsTokenizer.fromJson(json, { bos_token: EOT, eos_token: EOT });
const llama = PargsTokenizer.fromJson(json, { tokenizer_class: 'LlamaTokenizerFast', bos_token: EOT, eos_token: EOT });

const pair = (prompt: string, chosen: string, rejected: string, index = 0) => ({ prompt, chosen, rejected, source: { index } });
/** Byte tokens: this tiny tokenizer only merges " t", "th", "he", " the", so other ASCII is one token a byte. */
const bytes = (s: string): number[] => [...Buffer.from(s)];

describe('encodePreferences', () => {
  it('joins separately encoded prompt and responses as ids, not by re-encoding the joined text', () => {
    // "… t" + "he end" joined would merge into the single token " the"; in id space the boundary stays.
    const p = pair('Say t', 'he end', 'ick tock');
    const { pairs } = encodePreferences([p], gpt2);
    const [e] = pairs;
    expect(e.promptIds).toEqual(gpt2.encode(p.prompt));
    expect(e.chosenIds).toEqual(gpt2.encode(p.chosen, { addSpecialTokens: false }));
    expect([...e.promptIds, ...e.chosenIds]).toEqual([...gpt2.encode('Say t'), ...gpt2.encode('he end', { addSpecialTokens: false })]);
    expect([...e.promptIds, ...e.chosenIds]).not.toEqual(gpt2.encode('Say the end'));
    expect(gpt2.encode('Say the end')).toContain(259); // the merged " the"
  });

  it('applies the tokenizer’s special-token rule to the prompt only', () => {
    const { pairs } = encodePreferences([pair('Q:', ' yes', ' no')], llama);
    expect(pairs[0].promptIds).toEqual([eotId, ...bytes('Q:')]);
    expect(pairs[0].chosenIds).toEqual(bytes(' yes'));
    expect(pairs[0].rejectedIds).toEqual(bytes(' no'));
  });

  it('drops over-length pairs by default, counting prompt + longer response', () => {
    const rows = [pair('Q:', 'abc', 'abcdefg', 0), pair('Q:', 'ab', 'xy', 1), pair('Q:', 'abcdefgh', 'x', 2)];
    const { pairs, report } = encodePreferences(rows, gpt2, { maxLength: 9 });
    expect(pairs.map((p) => p.source.index)).toEqual([0, 1]); // 2 + 7 = 9 fits exactly
    expect(report).toMatchObject({ total: 3, kept: 2 });
    expect(report.counts['too-long']).toBe(1);
    expect(report.dropped[0]).toMatchObject({ index: 2, reason: 'too-long' });
    expect(report.dropped[0].detail).toBe('prompt 2 + longer response 8 = 10 tokens > maxLength 9');
  });

  it('truncates responses to fit with overLength "truncate", keeping the prompt whole', () => {
    const rows = [
      pair('Q:', 'abc', 'abcdefg', 0), // cut to 4: "abc" and "abcd"
      pair('Q:', 'abcdefgh', 'abcdefgX', 1), // both cut to "abcd": identical after truncation
      pair('123456', 'a', 'b', 2), // prompt alone 6 tokens: no room for a response
      pair('Q:', 'ab', 'cd', 3), // fits untouched
    ];
    const { pairs, report } = encodePreferences(rows, gpt2, { maxLength: 6, overLength: 'truncate' });
    expect(pairs.map((p) => [p.source.index, p.chosenIds, p.rejectedIds])).toEqual([
      [0, bytes('abc'), bytes('abcd')],
      [3, bytes('ab'), bytes('cd')],
    ]);
    expect(pairs[0].promptIds).toEqual(bytes('Q:'));
    expect(report).toMatchObject({ total: 4, kept: 2 });
    expect(report.counts['identical-after-tokenization']).toBe(1);
    expect(report.counts['too-long']).toBe(1);
    expect(report.dropped.map((d) => [d.index, d.reason])).toEqual([
      [1, 'identical-after-tokenization'],
      [2, 'too-long'],
    ]);
    expect(report.dropped[0].detail).toBe('the chosen and rejected responses are the same 4 token ids after truncating the responses to 4 tokens');
    expect(report.dropped[1].detail).toMatch(/prompt alone is 6 tokens/);
  });

  it('merges its drops into a PreferenceSet’s load report', async () => {
    const set = await loadPreferences([
      { prompt: 'Q:', chosen: ' a', rejected: ' b' },
      { prompt: 'Q:', chosen: ' ', rejected: ' b' }, // dropped on load
      { prompt: 'Q:', chosen: ' a long answer', rejected: ' b' }, // dropped here
    ]);
    const { pairs, report } = encodePreferences(set, gpt2, { maxLength: 8 });
    expect(pairs).toHaveLength(1);
    expect(report.total).toBe(3);
    expect(report.kept).toBe(1);
    expect(report.dropped.map((d) => [d.index, d.reason])).toEqual([
      [1, 'empty-response'],
      [2, 'too-long'],
    ]);
    expect(report.counts).toMatchObject({ 'empty-response': 1, 'too-long': 1 });
    expect(set.report.kept).toBe(2); // the load report itself is not modified
  });

  it('rejects bad options', () => {
    expect(() => encodePreferences([], gpt2, { maxLength: 1 })).toThrow(OptionError);
    expect(() => encodePreferences([], gpt2, { maxLength: 10.5 })).toThrow(OptionError);
    expect(() => encodePreferences([], gpt2, { overLength: 'cut' as 'drop' })).toThrow(OptionError);
  });
});
