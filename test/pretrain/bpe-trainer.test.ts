import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, describe, expect, it } from 'vitest';
import { AbortError, OptionError } from '../../src/errors.js';
import { trainByteLevelBpe, writeTokenizerFiles, type TrainedTokenizer } from '../../src/pretrain/bpe-trainer.js';
import { BYTE_TO_UNICODE, UNICODE_TO_BYTE, toByteLevel } from '../../src/pretrain/byte-level.js';

const EOT = '<|endoftext|>';

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'She sells sea shells by the sea shore, and the shells she sells are surely sea shells.',
  "It's the end of the world as we know it, and I'm feeling fine.",
  'In 2024 there were 365 days, 12 months and 52 weeks in the calendar year.',
  'Tokenizers split text into pieces; the pieces become ids; the ids feed the model.',
  'Café résumé naïve façade — déjà vu, über cool: Straße, smörgåsbord!',
  '東京は日本の首都です。北京是中国的首都。서울은 한국의 수도입니다.',
  'Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ and tabs\tand\nnewlines\r\n    indented code();',
];

/** Deterministic corpus: sentences repeated with a varying numeric suffix so pairs recur. */
function corpus(lines = 40): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(`${SENTENCES[i % SENTENCES.length]} Line ${i} of ${lines}.`);
  return out;
}

function load(t: TrainedTokenizer): Tokenizer {
  return new Tokenizer(t.tokenizerJson, t.tokenizerConfig);
}

/** `decode([])` throws in @huggingface/tokenizers, so the empty encoding is guarded here. */
function roundTrip(tok: Tokenizer, text: string): string {
  const { ids } = tok.encode(text, { add_special_tokens: false });
  return ids.length === 0 ? '' : tok.decode(ids, { skip_special_tokens: false });
}

function model(t: TrainedTokenizer): { vocab: Record<string, number>; merges: string[] } {
  return (t.tokenizerJson as { model: { vocab: Record<string, number>; merges: string[] } }).model;
}

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pargs-bpe-'));
  tmpDirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('byte-level alphabet', () => {
  it('maps all 256 bytes to distinct visible characters, space to Ġ, and inverts', () => {
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    expect(BYTE_TO_UNICODE[32]).toBe('Ġ');
    expect(BYTE_TO_UNICODE[65]).toBe('A');
    for (let b = 0; b < 256; b++) expect(UNICODE_TO_BYTE.get(BYTE_TO_UNICODE[b])).toBe(b);
    expect(toByteLevel(' é')).toBe('ĠÃ©');
  });
});

describe('trainByteLevelBpe', () => {
  const trained = trainByteLevelBpe(corpus(), { vocabSize: 400 });
  const tok = load(trained);

  it('produces exactly the requested vocab with bytes first and the special token last', () => {
    expect(trained.vocabSize).toBe(400);
    expect(trained.merges).toBe(400 - 256 - 1);
    const { vocab, merges } = model(trained);
    expect(Object.keys(vocab)).toHaveLength(400);
    expect(new Set(Object.values(vocab))).toEqual(new Set(Array.from({ length: 400 }, (_, i) => i)));
    for (let b = 0; b < 256; b++) expect(vocab[BYTE_TO_UNICODE[b]]).toBe(b);
    expect(vocab[EOT]).toBe(399);
    expect(merges.every((m) => m.split(' ').length === 2)).toBe(true);
    expect(tok.token_to_id(EOT)).toBe(399);
  });

  it('round-trips arbitrary Unicode exactly', () => {
    const samples = [
      '',
      'a',
      ' ',
      ...SENTENCES,
      'e\u0301 a\u0308 n\u0303 Z̸̢͈͓̀a̷͎̓l̶̰͐g̸͚̈o̵̪͝',
      '🧑🏾‍🚀 👩‍❤️‍💋‍👨 🇯🇵 🫠',
      '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱 ﷽ \u200b\u200d\ufeff',
      ' '.repeat(37) + 'x' + '\t'.repeat(9) + '\n\n\n' + ' \n \t \r\n',
      '   leading and trailing   ',
      "don't won't y'all 'quoted' \"double\"",
      'null\u0000byte and \u007f del',
    ];
    for (const s of samples) expect(roundTrip(tok, s)).toBe(s);
  });

  it('round-trips pseudo-random code points from many scripts', () => {
    const ranges: Array<[number, number]> = [
      [0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f], [0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f],
      [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x1f300, 0x1faff], [0x20000, 0x2a6df],
    ];
    let seed = 7;
    const next = (): number => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
    for (let n = 0; n < 50; n++) {
      let s = '';
      for (let i = 0; i < 40; i++) {
        const [lo, hi] = ranges[next() % ranges.length];
        s += next() % 5 === 0 ? ' \n\t'[next() % 3] : String.fromCodePoint(lo + (next() % (hi - lo + 1)));
      }
      expect(roundTrip(tok, s)).toBe(s);
    }
  });

  it('encodes <|endoftext|> in text as the single special id', () => {
    const text = `Hello world.${EOT}The quick brown fox${EOT}`;
    const { ids } = tok.encode(text, { add_special_tokens: false });
    expect(ids.filter((id: number) => id === 399)).toHaveLength(2);
    expect(ids.at(-1)).toBe(399);
    expect(tok.decode(ids, { skip_special_tokens: false })).toBe(text);
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe('Hello world.The quick brown fox');
    expect(tok.encode(EOT, { add_special_tokens: true }).ids).toEqual([399]);
  });

  it('compresses a training sentence below its byte length', () => {
    const s = SENTENCES[1];
    const ids = tok.encode(s, { add_special_tokens: false }).ids;
    expect(ids.length).toBeLessThan(new TextEncoder().encode(s).length / 2);
  });

  it('never merges across a special token in the training text', () => {
    const t = trainByteLevelBpe(Array(20).fill(`abc${EOT}abc${EOT}`), { vocabSize: 300 });
    const { vocab, merges } = model(t);
    expect(Object.keys(vocab).some((k) => k !== EOT && k.length > 1 && (k.includes('<') || k.includes('endof')))).toBe(false);
    expect(merges).toEqual(['a b', 'ab c']);
  });
});

describe('merge order on hand-checkable corpora', () => {
  it('"aaab" repeated: a a, then the documented tie-break, then stops early', () => {
    // Words "aaab" ×1 and " aaab" ×2: (a,a)=6 wins; then (a,b)=3 ties (aa,a)=3 and the smaller
    // left id (a=97 < aa=256) wins; then (aa,ab)=3; then (Ġ,aaab)=2; then nothing reaches 2.
    const progress: Array<{ merges: number; target: number }> = [];
    const t = trainByteLevelBpe(['aaab aaab aaab'], { vocabSize: 300, onProgress: (e) => progress.push(e) });
    expect(model(t).merges).toEqual(['a a', 'a b', 'aa ab', 'Ġ aaab']);
    expect(t.merges).toBe(4);
    expect(t.vocabSize).toBe(256 + 4 + 1);
    expect(model(t).vocab[EOT]).toBe(260);
    expect(progress.at(-1)).toEqual({ merges: 4, target: 300 - 256 - 1 });
    expect(load(t).encode('aaab aaab', { add_special_tokens: false }).ids).toEqual([258, 259]);
  });

  it('breaks count ties by the smaller (left id, right id) pair', () => {
    // Pairs (Ġ,a), (a,b), (c,d) all occur twice; Ġ is byte 32 so it goes first, then (c,d) beats
    // (Ġa,b) because 99 < 256.
    const t = trainByteLevelBpe(['cd ab', 'cd ab'], { vocabSize: 300 });
    expect(model(t).merges).toEqual(['Ġ a', 'c d', 'Ġa b']);
  });

  it('respects minFrequency', () => {
    const t = trainByteLevelBpe(['aaab aaab aaab'], { vocabSize: 300, minFrequency: 3 });
    expect(model(t).merges).toEqual(['a a', 'a b', 'aa ab']);
  });

  it('skips a merge that would spell a special token, keeping vocab strings unique', () => {
    const t = trainByteLevelBpe(Array(10).fill('a    b'), { vocabSize: 300, specialTokens: ['ĠĠ', EOT] });
    const { vocab, merges } = model(t);
    expect(merges).not.toContain('Ġ Ġ');
    expect(vocab['ĠĠ']).toBe(t.vocabSize - 2);
    expect(vocab[EOT]).toBe(t.vocabSize - 1);
    expect(roundTrip(load(t), 'a    b  c')).toBe('a    b  c');
  });
});

describe('files', () => {
  it('writes loadable files, byte-identical across two trainings, without temp leftovers', async () => {
    const [d1, d2] = [await tmp(), await tmp()];
    await writeTokenizerFiles(d1, trainByteLevelBpe(corpus(), { vocabSize: 350 }));
    await writeTokenizerFiles(d2, trainByteLevelBpe(corpus(), { vocabSize: 350 }));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      expect((await readFile(join(d1, f))).equals(await readFile(join(d2, f)))).toBe(true);
    }
    expect((await readdir(d1)).sort()).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    const json = JSON.parse(await readFile(join(d1, 'tokenizer.json'), 'utf8'));
    const config = JSON.parse(await readFile(join(d1, 'tokenizer_config.json'), 'utf8'));
    expect(config).toMatchObject({
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: EOT,
      eos_token: EOT,
      unk_token: null,
      add_bos_token: false,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
    });
    expect(json.pre_tokenizer).toMatchObject({ type: 'ByteLevel', add_prefix_space: false, use_regex: true });
    expect(json.added_tokens).toEqual([
      { id: 349, content: EOT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ]);
    const tok = new Tokenizer(json, config);
    expect(roundTrip(tok, `${SENTENCES[5]}${EOT}`)).toBe(`${SENTENCES[5]}${EOT}`);
  });
});

describe('options', () => {
  const bad: Array<[string, () => unknown, RegExp]> = [
    ['vocabSize too small', () => trainByteLevelBpe(['x'], { vocabSize: 257 }), /got 257/],
    ['vocabSize too large', () => trainByteLevelBpe(['x'], { vocabSize: 65537 }), /got 65537/],
    ['vocabSize fractional', () => trainByteLevelBpe(['x'], { vocabSize: 300.5 }), /got 300\.5/],
    ['minFrequency 0', () => trainByteLevelBpe(['x'], { vocabSize: 300, minFrequency: 0 }), /got 0/],
    ['duplicate special', () => trainByteLevelBpe(['x'], { vocabSize: 300, specialTokens: ['<s>', '<s>'] }), /<s>/],
    ['empty special', () => trainByteLevelBpe(['x'], { vocabSize: 300, specialTokens: [''] }), /specialTokens\[0\]/],
    ['byte-symbol special', () => trainByteLevelBpe(['x'], { vocabSize: 300, specialTokens: ['a'] }), /"a"/],
    ['bare string texts', () => trainByteLevelBpe('hello' as unknown as string[], { vocabSize: 300 }), /iterable/],
    ['non-string text', () => trainByteLevelBpe([1 as unknown as string], { vocabSize: 300 }), /texts\[0\]/],
  ];
  it.each(bad)('%s throws OptionError naming the value', (_name, fn, message) => {
    expect(fn).toThrow(OptionError);
    expect(fn).toThrow(message);
  });

  it('allows the minimum vocab and two specials at the end', () => {
    const t = trainByteLevelBpe(['aaaa'], { vocabSize: 259, specialTokens: ['<s>', '</s>'] });
    expect(t.vocabSize).toBe(259);
    expect(model(t).vocab['</s>']).toBe(258);
    expect(t.tokenizerConfig).toMatchObject({ bos_token: '<s>', eos_token: '<s>' });
  });

  it('throws AbortError when the signal has fired', () => {
    const ac = new AbortController();
    ac.abort();
    expect(() => trainByteLevelBpe(corpus(), { vocabSize: 300, signal: ac.signal })).toThrow(AbortError);
  });
});
