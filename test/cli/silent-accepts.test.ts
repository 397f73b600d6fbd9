/**
 * Inputs pargs used to accept silently (issue 29) are typed errors naming the value and what to do; a
 * byte-order mark at the start of a --messages or --generations file, which was refused, is accepted.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardFromEnv } from '../../src/cli/shard-env.js';
import { encodePreferences } from '../../src/data/encode.js';
import { OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { runMain } from '../helpers/run-main.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let work = '';
let model = '';
let hfRm = '';
let lm: CausalLM;
const TOKEN_PAIRS = [{ promptIds: [260, 7], chosenIds: [120, 150], rejectedIds: [130, 152] }];
const gens = [
  { prompt: 'Hello', response: ' the theme', method: 'plain' },
  { prompt: 'Hello', response: ' other', method: 'pargs' },
];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pargs-silent-'));
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81 })).dir;
  hfRm = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81, seqCls: {} })).dir;
  lm = await loadCausalLM(model);
  await writeFile(join(work, 'gens.jsonl'), gens.map((r) => JSON.stringify(r)).join('\n'));
  await writeFile(join(work, 'pairs.jsonl'), ['a', 'b', 'c'].map((w) => JSON.stringify({ prompt: `Q ${w}?`, chosen: ' good', rejected: ' bad' })).join('\n'));
});
afterAll(() => lm.dispose());

async function refusedCli(argv: string[], pattern: RegExp): Promise<void> {
  const r = await runMain(argv);
  expect(r.code).toBe(2);
  expect(r.out).toEqual([]);
  expect(r.err.join('\n')).toMatch(pattern);
}

describe('the CLI', () => {
  it('eval --baseline naming no method of the file, and --judge with --judge-rm', async () => {
    const file = join(work, 'gens.jsonl');
    await refusedCli(['eval', '--generations', file, '--baseline', 'nosuch'], /OptionError: pargs eval: --baseline nosuch is not a method of .*gens\.jsonl \(its methods: plain, pargs\)/);
    await refusedCli(['eval', '--generations', file, '--judge-rm', hfRm, '--judge', 'vader'], /OptionError: pargs eval: --judge vader and --judge-rm .* are two judges; give one/);
    const ok = await runMain(['eval', '--generations', file, '--baseline', 'plain', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out[0]).results[1].winVsBaseline).toBeDefined();
  });

  it('a value flag followed by another flag is missing its value (generate --prompt --json)', async () => {
    await refusedCli(['generate', '--model', model, '--prompt', '--json'], /OptionError: pargs generate: --prompt needs a value, but is followed by the flag --json; .*--prompt=--json/);
    const literal = await runMain(['generate', '--model', model, '--prompt=--json', '--max-new-tokens', '1']);
    expect(literal.code).toBe(0);
  });

  it('--shard past the pairs, and shard numbers beyond 2^53', async () => {
    const base = ['features', '--model', model, '--data', join(work, 'pairs.jsonl')];
    await refusedCli([...base, '--out', join(work, 'f1'), '--shard', '99/100'], /OptionError: extractPrefixFeatures: shard 99\/100 holds no pairs: .* only 3 pairs; use at most 3 shards/);
    await refusedCli([...base, '--out', join(work, 'f2'), '--shard', '9007199254740993/9007199254740994'], /--shard must be INDEX\/COUNT .*integers below 2\^53/);
    expect(() => shardFromEnv({ PARGS_SHARD_INDEX: '9007199254740993', PARGS_SHARD_COUNT: '9007199254740994' })).toThrow(/PARGS_SHARD_INDEX="9007199254740993" is not a non-negative integer below 2\^53/);
  });

  it('a byte-order mark at the start of a --messages or --generations file is accepted', async () => {
    const messages = join(work, 'bom-messages.json');
    await writeFile(messages, `\uFEFF${JSON.stringify([{ role: 'user', content: 'Hi?' }])}`);
    expect((await runMain(['generate', '--model', model, '--messages', messages, '--max-new-tokens', '1'])).code).toBe(0);
    const lines = join(work, 'bom-messages.jsonl');
    await writeFile(lines, `\uFEFF${JSON.stringify([{ role: 'user', content: 'Hi?' }])}\n${JSON.stringify([{ role: 'user', content: 'Yo?' }])}\n`);
    expect((await runMain(['generate', '--model', model, '--messages', lines, '--max-new-tokens', '1'])).code).toBe(0);
    const generations = join(work, 'bom-gens.jsonl');
    await writeFile(generations, `\uFEFF${gens.map((r) => JSON.stringify(r)).join('\n')}`);
    const judged = await runMain(['eval', '--generations', generations, '--json']);
    expect(judged.code).toBe(0);
    expect(JSON.parse(judged.out[0]).results).toHaveLength(2);
  });
});

describe('the library', () => {
  it('trainPartialRM: resume (and other output options) without checkpointDir', async () => {
    for (const [key, value] of [['resume', true], ['overwrite', true], ['checkpointEvery', 2], ['keepCheckpoints', 1]] as const) {
      const err = await trainPartialRM({ backbone: lm, pairs: TOKEN_PAIRS, epochs: 1, [key]: value }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(OptionError);
      expect((err as Error).message).toMatch(new RegExp(`^trainPartialRM: ${key} ${value} needs checkpointDir`));
    }
  });

  it('a per-pair margin that is not a finite number: token pairs, text pairs, encodePreferences', async () => {
    await expect(trainPartialRM({ backbone: lm, pairs: [{ ...TOKEN_PAIRS[0], margin: '1' }] as never, epochs: 1 })).rejects.toThrow(/^trainPartialRM: pairs\[0\]\.margin must be a finite number, got "1"/);
    await expect(trainPartialRM({ backbone: lm, pairs: [{ prompt: 'a', chosen: ' b', rejected: ' c', margin: '1' }] as never, epochs: 1 })).rejects.toThrow(/^trainPartialRM: pairs\[0\]\.margin must be a finite number, got "1"/);
    await expect(trainPartialRM({ backbone: lm, pairs: TOKEN_PAIRS, evalPairs: [{ ...TOKEN_PAIRS[0], margin: Number.NaN }] as never, epochs: 1 })).rejects.toThrow(/evalPairs\[0\]\.margin must be a finite number, got NaN/);
    const pair = { prompt: 'a', chosen: ' b', rejected: ' c', margin: '1', source: { index: 0 } };
    expect(() => encodePreferences([pair] as never, lm.tokenizer)).toThrow(/^encodePreferences: pair 0 has margin "1"; a margin must be a finite number/);
  });

  it('extractPrefixFeatures: a shard with no pairs, or numbers beyond 2^53', async () => {
    const prefixes = { mode: 'partial', alignment: 'eos', minPrefix: 1 } as const;
    await expect(extractPrefixFeatures({ backbone: lm, pairs: TOKEN_PAIRS, prefixes, shard: { index: 1, count: 2 } })).rejects.toThrow(/shard 1\/2 holds no pairs/);
    await expect(extractPrefixFeatures({ backbone: lm, pairs: TOKEN_PAIRS, prefixes, shard: { index: 0, count: 2 ** 53 + 2 } })).rejects.toThrow(/integers below 2\^53/);
  });
});
