/** `pargs sample`: Best-of-N draws from the same filtered distribution as plain sampling (same --top-k, --temperature). */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let rmDir = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 73 })).dir;
  rmDir = join(await mkdtemp(join(tmpdir(), 'pargs-bon-')), 'rm');
  const lm = await loadCausalLM(model);
  const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(2, 'head-init')), 'partial');
  await rm.save(rmDir);
  rm.dispose();
  lm.dispose();
});

async function sampleJson(args: string[]): Promise<{ generatedIds: number[]; text: string }> {
  const out: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await main(['sample', '--model', model, '--rm', rmDir, '--prompt', 'Hello there', '--max-new-tokens', '12', '--json', ...args], { out: (l) => out.push(l), err: () => {} });
    expect(code).toBe(0);
  } finally {
    write.mockRestore();
  }
  return out.map((l) => JSON.parse(l)).find((r) => r.prompt !== undefined);
}

describe('pargs sample --method best-of-n', () => {
  it.each([
    ['--top-k 3', ['--top-k', '3']],
    ['--top-k 2 --temperature 0.7', ['--top-k', '2', '--temperature', '0.7']],
  ])('with %s and one sample draws exactly the plain sample of the same seed', async (_name, flags) => {
    for (const seed of ['1', '2']) {
      const plain = await sampleJson(['--method', 'plain', '--seed', seed, ...flags]);
      const best = await sampleJson(['--method', 'best-of-n', '--n', '1', '--seed', seed, ...flags]);
      expect(best.generatedIds).toEqual(plain.generatedIds);
      expect(best.text).toBe(plain.text);
    }
  });

  it('a different --top-k changes what best-of-n draws (the flag is read)', async () => {
    const narrow = await sampleJson(['--method', 'best-of-n', '--n', '1', '--seed', '3', '--top-k', '1']);
    const greedyLike = await sampleJson(['--method', 'plain', '--seed', '3', '--top-k', '1']);
    const wide = await sampleJson(['--method', 'best-of-n', '--n', '1', '--seed', '3', '--top-k', '200']);
    expect(narrow.generatedIds).toEqual(greedyLike.generatedIds);
    expect(wide.generatedIds).not.toEqual(narrow.generatedIds);
  });
});
