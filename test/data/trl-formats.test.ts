/**
 * TRL's four preference formats (explicit/implicit prompt × standard/conversational) and
 * UltraFeedback-binarized rows, read from one fixture file; the implicit-prompt split on tricky cases;
 * conversational rows rendered with a chat template (or the HH transcript) when encoded.
 */
import { describe, expect, it } from 'vitest';
import { encodePreferences } from '../../src/data/encode.js';
import { implicitPromptEnd } from '../../src/data/format-trl.js';
import { loadPreferences } from '../../src/data/load.js';
import { PargsTokenizer } from '../../src/lm/tokenizer.js';
import { GEMMA, LLAMA3, QWEN2 } from '../fixtures/chat-templates.js';
import { EOT, tinyTokenizerJson } from '../helpers/tiny-model.js';
import { jsonl, writeTemp } from './fixtures.js';

const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });
const question = 'What color is the sky?';

const rows = {
  standardExplicit: { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' },
  standardImplicit: { chosen: 'The sky is blue.', rejected: 'The sky is green.' },
  conversationalExplicit: { prompt: [user(question)], chosen: [assistant('It is blue.')], rejected: [assistant('It is green.')] },
  conversationalImplicit: { chosen: [user(question), assistant('It is blue.')], rejected: [user(question), assistant('It is green.')] },
  ultraFeedback: {
    prompt: question,
    prompt_id: 'abc123',
    chosen: [user(question), assistant('It is blue.')],
    rejected: [user(question), assistant('It is green.')],
    messages: [user(question), assistant('It is blue.')],
    score_chosen: 8.5,
    score_rejected: 3,
  },
  withMargin: { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.', margin: 1.5 },
};

describe('TRL preference formats from a fixture file', () => {
  it('reads all four TRL formats and UltraFeedback-binarized rows, keeping every row', async () => {
    const path = await writeTemp('trl-all.jsonl', jsonl(Object.values(rows)));
    const set = await loadPreferences(path);
    expect(set.format).toBe('trl');
    expect(set.report).toMatchObject({ total: 6, kept: 6 });
    const [se, si, ce, ci, uf, m] = set.pairs;
    expect(se).toMatchObject({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' });
    expect(se.conversation).toBeUndefined();
    expect(si).toMatchObject({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' });
    const hh = { prompt: `\n\nHuman: ${question}\n\nAssistant:`, chosen: ' It is blue.', rejected: ' It is green.' };
    const conversation = { prompt: [user(question)], chosen: [assistant('It is blue.')], rejected: [assistant('It is green.')] };
    for (const pair of [ce, ci, uf]) expect(pair).toMatchObject({ ...hh, conversation });
    expect(uf.scores).toEqual({ chosen: 8.5, rejected: 3 });
    expect(ce.scores).toBeUndefined();
    expect(m.margin).toBe(1.5);
    expect(se.margin).toBeUndefined();
  });

  it('detects a file of implicit-prompt string rows as TRL', async () => {
    const set = await loadPreferences(await writeTemp('implicit.jsonl', jsonl([rows.standardImplicit])));
    expect(set.format).toBe('trl');
  });

  it('keeps a row without prompt whose text has HH markers as an HH row', async () => {
    const hh = { chosen: '\n\nHuman: hi\n\nAssistant: hello', rejected: '\n\nHuman: hi\n\nAssistant: go' };
    const set = await loadPreferences([hh]);
    expect(set.format).toBe('hh');
    expect(set.pairs[0]).toMatchObject({ prompt: '\n\nHuman: hi\n\nAssistant:', chosen: ' hello', rejected: ' go' });
  });

  it('UltraFeedback rows whose lists hold only the replies get the string prompt as the user turn', async () => {
    const set = await loadPreferences([{ prompt: question, chosen: [assistant('Blue.')], rejected: [assistant('Green.')], score_chosen: 9 }]);
    expect(set.pairs[0].conversation).toEqual({ prompt: [user(question)], chosen: [assistant('Blue.')], rejected: [assistant('Green.')] });
    expect(set.pairs[0].scores).toEqual({ chosen: 9, rejected: undefined });
  });

  it('finds the implicit conversational prompt at a turn boundary, even when the replies share a first word', async () => {
    const long = {
      chosen: [user('q'), assistant('a1'), user('q2'), assistant('Sure, blue.')],
      rejected: [user('q'), assistant('a1'), user('q2'), assistant('Sure, green.')],
    };
    const set = await loadPreferences([long]);
    expect(set.pairs[0]).toMatchObject({ prompt: '\n\nHuman: q\n\nAssistant: a1\n\nHuman: q2\n\nAssistant:', chosen: ' Sure, blue.', rejected: ' Sure, green.' });
    expect(set.pairs[0].conversation?.chosen).toEqual([assistant('Sure, blue.')]);
  });

  it('drops unusable rows with their reasons, counted', async () => {
    const bad = [
      { chosen: 'Hello', rejected: 'Help' }, // the shared "Hel" is inside a word: nothing to take as the prompt
      { chosen: 'The cat', rejected: 'The cat sat' }, // the chosen text is all prompt
      { chosen: [user('a'), assistant('x')], rejected: [user('b'), assistant('y')] },
      { ...rows.ultraFeedback, prompt: 'Another question?' },
      { ...rows.standardExplicit, margin: 'big' },
      { ...rows.conversationalImplicit, rejected: rows.conversationalImplicit.chosen },
      { prompt: [user('q')], chosen: [user('again'), assistant('x')], rejected: [assistant('y')] },
    ];
    const set = await loadPreferences([rows.standardExplicit, ...bad]);
    expect(set.report.kept).toBe(1);
    expect(set.report.dropped.map((d) => d.reason)).toEqual([
      'no-shared-prompt',
      'empty-response',
      'no-shared-prompt',
      'invalid-value',
      'wrong-type',
      'identical-responses',
      'unsupported-conversation',
    ]);
    expect(set.report.counts['no-shared-prompt']).toBe(2);
    expect(set.report.dropped[4].detail).toMatch(/"margin" must be a number when present, got string/);
    expect(set.report.dropped[6].detail).toMatch(/reply in "chosen" must start with an assistant message/);
  });
});

describe('the implicit prompt of two strings', () => {
  const split = (chosen: string, rejected: string): [string, string, string] => {
    const k = implicitPromptEnd(chosen, rejected);
    return [chosen.slice(0, k), chosen.slice(k), rejected.slice(k)];
  };

  it('is the longest common prefix with the space before the cut given to the responses (TRL)', () => {
    expect(split('The sky is blue.', 'The sky is green.')).toEqual(['The sky is', ' blue.', ' green.']);
  });

  it('keeps whole shared words in the prompt, as TRL does', () => {
    expect(split('Q? Yes, it is', 'Q? Yes, it was')).toEqual(['Q? Yes, it', ' is', ' was']);
  });

  it('never ends inside a word of either response', () => {
    // TRL would cut after "A: Blue", leaving "berry" as a response.
    expect(split('A: Blue sky', 'A: Blueberry')).toEqual(['A:', ' Blue sky', ' Blueberry']);
    expect(split('A: Blue', 'A: Blueberry pie')).toEqual(['A:', ' Blue', ' Blueberry pie']);
    expect(split('Say: Yes.', 'Say: Yes!')).toEqual(['Say:', ' Yes.', ' Yes!']);
    expect(implicitPromptEnd('Hello', 'Help')).toBe(0);
  });

  it('keeps a newline before the cut in the prompt (only a space moves to the responses)', () => {
    expect(split('Answer:\nyes', 'Answer:\nno')).toEqual(['Answer:\n', 'yes', 'no']);
  });
});

describe('encodePreferences renders conversations with the chat template', () => {
  const { json, eotId } = tinyTokenizerJson();
  const text = (tok: PargsTokenizer, ids: number[]): string => tok.decode(ids, { skipSpecialTokens: false });

  it('renders prompt and replies as TRL does: replies carry the end-of-turn text', async () => {
    const tok = PargsTokenizer.fromJson(json, { bos_token: EOT, eos_token: EOT, chat_template: QWEN2 });
    const set = await loadPreferences([rows.conversationalExplicit, rows.ultraFeedback, rows.standardExplicit]);
    const encoded = encodePreferences(set, tok);
    expect(encoded.conversationRendering).toBe('chat-template');
    const [conv, uf, standard] = encoded.pairs;
    const prompt = `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n`;
    for (const pair of [conv, uf]) {
      expect(text(tok, pair.promptIds)).toBe(prompt);
      expect(text(tok, pair.chosenIds)).toBe('It is blue.<|im_end|>\n');
      expect(text(tok, pair.rejectedIds)).toBe('It is green.<|im_end|>\n');
    }
    expect(text(tok, standard.promptIds)).toBe('The sky is');
  });

  it('a template that writes BOS gets no second BOS from the Llama rule', async () => {
    const tok = PargsTokenizer.fromJson(json, { tokenizer_class: 'LlamaTokenizerFast', bos_token: EOT, eos_token: EOT, chat_template: LLAMA3 });
    const { pairs } = encodePreferences(await loadPreferences([rows.conversationalImplicit]), tok);
    expect(pairs[0].promptIds[0]).toBe(eotId);
    expect(pairs[0].promptIds[1]).not.toBe(eotId);
    expect(text(tok, pairs[0].chosenIds)).toBe('It is blue.<|eot_id|>');
  });

  it('falls back to the HH transcript without a template, and says so', async () => {
    const tok = PargsTokenizer.fromJson(json, { bos_token: EOT, eos_token: EOT });
    const encoded = encodePreferences(await loadPreferences([rows.conversationalExplicit]), tok);
    expect(encoded.conversationRendering).toBe('hh-transcript');
    expect(text(tok, encoded.pairs[0].promptIds)).toBe(`\n\nHuman: ${question}\n\nAssistant:`);
    expect(encodePreferences(await loadPreferences([rows.standardExplicit]), tok).conversationRendering).toBeUndefined();
  });

  it('drops and counts a row the template refuses, and carries margins to the encoded pair', async () => {
    const tok = PargsTokenizer.fromJson(json, { bos_token: EOT, eos_token: EOT, chat_template: GEMMA });
    const withSystem = { ...rows.conversationalExplicit, prompt: [{ role: 'system', content: 'S.' }, user(question)] };
    const set = await loadPreferences([withSystem, rows.withMargin]);
    const encoded = encodePreferences(set, tok);
    expect(encoded.pairs).toHaveLength(1);
    expect(encoded.pairs[0].margin).toBe(1.5);
    expect(encoded.report.counts['unsupported-conversation']).toBe(1);
    expect(encoded.report.dropped[0].detail).toMatch(/System role not supported/);
  });
});
