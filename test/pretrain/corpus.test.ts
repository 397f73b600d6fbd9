import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { loadCorpusSplit, readCorpus, splitByFraction } from '../../src/pretrain/corpus.js';
import { validationBatches, WindowSampler } from '../../src/pretrain/batches.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

describe('corpus', () => {
  it('reads a folder recursively in sorted order and cuts documents at <|endoftext|>', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, 'b.txt'), 'second');
    await writeFile(join(root, 'a.txt'), 'first<|endoftext|>also first<|endoftext|>\n');
    await writeFile(join(root, 'sub', 'c.txt'), 'third');
    await writeFile(join(root, 'notes.md'), 'ignored');
    const { documents } = await readCorpus(root);
    expect(documents.map((d) => d.text)).toEqual(['first', 'also first', 'second', 'third']);
    await expect(readCorpus(join(root, 'missing'))).rejects.toThrow(OptionError);
  });

  it('holds out evenly spread whole documents, or document tails when there are few', () => {
    const docs = Array.from({ length: 10 }, (_, i) => ({ name: `d${i}`, text: `document number ${i}` }));
    const split = splitByFraction(docs, 0.2);
    expect(split.validation.map((d) => d.name)).toEqual(['d4', 'd9']);
    expect(split.train).toHaveLength(8);
    const one = splitByFraction([{ name: 'only', text: 'one two three four five six seven eight nine ten' }], 0.2);
    expect(one.train[0].text + one.validation[0].text).toBe('one two three four five six seven eight nine ten');
    expect(one.validation[0].text).toBe(' nine ten');
  });

  it('hashes the split content so any text change changes the cache key', async () => {
    const a = await loadCorpusSplit(['alpha beta gamma delta', 'epsilon'], { fraction: 0.5 });
    const b = await loadCorpusSplit(['alpha beta gamma delta', 'epsilon'], { fraction: 0.5 });
    const c = await loadCorpusSplit(['alpha beta gamma delta', 'epsilon!'], { fraction: 0.5 });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });
});

describe('batches', () => {
  const tokens = Uint16Array.from({ length: 50 }, (_, i) => i);

  it('samples windows whose targets are the inputs shifted by one, resumably', () => {
    const s = new WindowSampler(tokens, 8, 3, 5);
    const first = s.next();
    expect(first.ids).toHaveLength(3);
    first.ids.forEach((row, b) => row.forEach((id, t) => expect(first.targets[b * 8 + t]).toBe(id + 1)));
    const cursor = s.cursor();
    const next = s.next();
    const resumed = new WindowSampler(tokens, 8, 3, 5, JSON.parse(JSON.stringify(cursor)));
    expect(resumed.next()).toEqual(next);
    expect(resumed.cursor().windows).toBe(6);
  });

  it('gives fixed non-overlapping validation windows, capped at maxTokens and spread over the stream', () => {
    const batches = validationBatches(tokens, 10, 2, 30);
    expect(batches.map((b) => b.ids.map((row) => row[0]))).toEqual([[0, 19], [38]]);
    expect(Array.from(batches[1].targets)).toEqual([39, 40, 41, 42, 43, 44, 45, 46, 47, 48]);
    expect(validationBatches(tokens, 10, 8, 1000).flatMap((b) => b.ids.map((row) => row[0]))).toEqual([0, 13, 26, 39]);
    expect(validationBatches(Uint16Array.from([4, 5, 6]), 10, 2, 100)).toEqual([{ ids: [[4, 5]], targets: Int32Array.from([5, 6]) }]);
  });
});
