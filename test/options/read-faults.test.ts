/**
 * Faults in the files a user gives are typed errors naming the path, from the library and from the CLI
 * (exit code 2 and one line, never a stack trace).
 */
import { chmod, cp, mkdir, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/run-main.js';
import { ConfigError, OptionError, SafetensorsError, TokenizerError, type PargsError } from '../../src/errors.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { pretrainLM } from '../../src/pretrain/trainer.js';
import { toyOptions, writeCorpus } from '../pretrain/helpers.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 91 })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-read-faults-'));
});

const run = runMain;

/** A copy of the tiny model with one fault applied. */
async function brokenModel(name: string, fault: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  await cp(model, dir, { recursive: true });
  await fault(dir);
  return dir;
}

const replaceWithFolder = (file: string) => async (dir: string) => {
  await rm(join(dir, file));
  await mkdir(join(dir, file));
};

type ErrorClass = new (...args: never[]) => PargsError;

const modelFaults: [string, string, (dir: string) => Promise<void>, ErrorClass, RegExp][] = [
  ['generation_config.json holding null', 'generation_config.json', (d) => writeFile(join(d, 'generation_config.json'), 'null'), ConfigError, /must hold a JSON object, but holds null/],
  ['generation_config.json holding an array', 'generation_config.json', (d) => writeFile(join(d, 'generation_config.json'), '[1, 2]'), ConfigError, /holds an array/],
  ['generation_config.json that is a folder', 'generation_config.json', async (d) => mkdir(join(d, 'generation_config.json')).then(() => undefined), ConfigError, /it is a folder/],
  ['config.json holding null', 'config.json', (d) => writeFile(join(d, 'config.json'), 'null'), ConfigError, /must hold a JSON object/],
  ['config.json that is a folder', 'config.json', replaceWithFolder('config.json'), ConfigError, /it is a folder/],
  ['tokenizer.json holding null', 'tokenizer.json', (d) => writeFile(join(d, 'tokenizer.json'), 'null'), TokenizerError, /must hold a JSON object, but holds null/],
  ['tokenizer.json that is a folder', 'tokenizer.json', replaceWithFolder('tokenizer.json'), TokenizerError, /it is a folder/],
  ['tokenizer_config.json holding a number', 'tokenizer_config.json', (d) => writeFile(join(d, 'tokenizer_config.json'), '42'), TokenizerError, /holds a number/],
  ['model.safetensors that is a folder', 'model.safetensors', replaceWithFolder('model.safetensors'), SafetensorsError, /a folder/],
  [
    'a truncated model.safetensors',
    'model.safetensors',
    async (d) => truncate(join(d, 'model.safetensors'), Math.floor((await stat(join(d, 'model.safetensors'))).size / 2)),
    SafetensorsError,
    /./,
  ],
];

describe('faults in a model folder', () => {
  it.each(modelFaults)('%s: typed error naming the file, exit 2 and one line from the CLI', async (name, file, fault, type, pattern) => {
    const dir = await brokenModel(name.replace(/\W+/g, '-'), fault);
    const err = await loadCausalLM(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toContain(join(dir, file));
    expect((err as Error).message).toMatch(pattern);
    const cli = await run(['info', dir]);
    expect(cli.code).toBe(2);
    expect(cli.err).toHaveLength(1);
    expect(cli.err[0]).toContain(join(dir, file));
    expect(cli.err[0]).not.toMatch(/\n\s+at /);
  });

  const isRoot = process.getuid?.() === 0;
  // Permission bits do not stop root from reading, so this fault cannot be staged when tests run as root.
  it.skipIf(isRoot)('an unreadable model.safetensors (EACCES) is a SafetensorsError naming it', async () => {
    const dir = await brokenModel('eacces', (d) => chmod(join(d, 'model.safetensors'), 0));
    const err = await loadCausalLM(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toContain(join(dir, 'model.safetensors'));
    expect((err as Error).message).toMatch(/permission denied/);
  });
});

describe('faults in data and corpus files', () => {
  it('a missing --validation-files entry is an OptionError naming it, before any training', async () => {
    const root = await mkdtemp(join(work, 'corpus-'));
    const { corpusDir } = await writeCorpus(root);
    const missing = join(root, 'no-such-validation.txt');
    const events: string[] = [];
    const err = await pretrainLM(toyOptions(join(root, 'lm'), { corpus: corpusDir, validation: { files: [missing] }, onProgress: (e) => events.push(e.type) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toContain(`cannot read ${missing}: it does not exist`);
    expect(events).toEqual([]); // refused before the tokenizer was trained
    const cli = await run(['pretrain', '--corpus', corpusDir, '--out', join(root, 'cli-lm'), '--layers', '1', '--dim', '16', '--heads', '2', '--context', '8',
      '--vocab-size', '280', '--steps', '2', '--batch-size', '2', '--lr', '0.01', '--validation-files', missing]);
    expect(cli.code).toBe(2);
    expect(cli.err.filter((l) => /Error/.test(l))).toEqual([`OptionError: cannot read ${missing}: it does not exist`]);
  });

  it('a validation file that is a folder is an OptionError naming it', async () => {
    const root = await mkdtemp(join(work, 'corpus-'));
    const { corpusDir } = await writeCorpus(root);
    const folder = join(root, 'held-out.txt');
    await mkdir(folder);
    const err = await pretrainLM(toyOptions(join(root, 'lm'), { corpus: corpusDir, validation: { files: [folder] } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toContain(`cannot read ${folder}: it is a folder, not a file`);
  });

  it('a corpus path through a file (ENOTDIR) is an OptionError naming it', async () => {
    const file = join(work, 'plain.txt');
    await writeFile(file, 'hello');
    const corpus = join(file, 'inside');
    const err = await pretrainLM(toyOptions(join(work, 'lm-enotdir'), { corpus })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toBe(`cannot read ${corpus}: a part of the path is a file, not a folder`);
  });

  it('a missing --data file is a one-line DataError naming it', async () => {
    const missing = join(work, 'no-such-pairs.jsonl');
    const cli = await run(['train', '--model', model, '--data', missing, '--out', join(work, 'rm')]);
    expect(cli.code).toBe(2);
    expect(cli.err.filter((l) => /Error/.test(l))).toHaveLength(1);
    expect(cli.err.find((l) => /Error/.test(l))).toMatch(new RegExp(`^DataError: .*${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });
});
