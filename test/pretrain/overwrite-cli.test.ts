/**
 * `pargs pretrain --out lm --overwrite` replaces only the files pargs wrote (issue 29): a user's file in
 * the model folder survives, as in every other output folder. Run as real child processes.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { removeTempDirs, tempDir, writeCorpus } from './helpers.js';

afterAll(removeTempDirs);

it('pretrain --overwrite keeps MY-NOTES.md in the model folder and replaces the model', async () => {
  const root = await tempDir();
  const { corpusDir } = await writeCorpus(root);
  const out = join(root, 'lm');
  const argv = (seed: number, ...more: string[]) => ['pretrain', '--corpus', corpusDir, '--out', out, '--layers', '1', '--dim', '16', '--heads', '2', '--context', '8', '--vocab-size', '280', '--steps', '2', '--batch-size', '2', '--seed', String(seed), '--dtype', 'f32', ...more];
  const first = await spawnCli(argv(1)).done;
  expect(first.stderr).not.toMatch(/Error/);
  expect(first.code).toBe(0);
  const weights = async (): Promise<Float32Array> => {
    const file = await SafetensorsFile.open(join(out, 'model.safetensors'));
    try {
      return file.readF32(file.names()[0]);
    } finally {
      await file.close();
    }
  };
  const before = await weights();
  await writeFile(join(out, 'MY-NOTES.md'), 'draft\n');

  const refused = await spawnCli(argv(2)).done;
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/OutputError: .*already holds a language-model result .*--overwrite/);

  const second = await spawnCli(argv(2, '--overwrite')).done;
  expect(second.stderr).not.toMatch(/Error/);
  expect(second.code).toBe(0);
  expect(await readFile(join(out, 'MY-NOTES.md'), 'utf8')).toBe('draft\n');
  expect(await weights()).not.toEqual(before);
  expect((await readdir(out)).sort()).toEqual(['MY-NOTES.md', 'config.json', 'generation_config.json', 'model.safetensors', 'pargs-output.json', 'tokenizer.json', 'tokenizer_config.json', 'training.json']);
  expect(JSON.parse(await readFile(join(out, 'pargs-output.json'), 'utf8'))).toMatchObject({ kind: 'language-model', complete: true });
  expect((await readdir(root)).filter((e) => e.includes('.pargs-'))).toEqual([]);
});
