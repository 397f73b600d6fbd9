/**
 * GPTNeoXForSequenceClassification reward models against transformers: the folder is the parallel
 * GPT-NeoX fixture's backbone plus the score row test/reference/make-gpt-neox.py recorded, and the
 * rewards are the ones transformers computed with it. Also: sharing the LM's backbone (fingerprints
 * agree although the LM has `embed_out` and the RM does not) and export → reload.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { openSafetensorsDir } from '../../src/io/weight-source.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { HFRewardModel, loadHFRewardModel } from '../../src/reward/hf-reward-model.js';
import { loadRewardModel, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { GPT_NEOX_FIXTURES, readNeoxReference } from '../helpers/gpt-neox-fixtures.js';

const ref = readNeoxReference('parallel');
const LM_DIR = join(GPT_NEOX_FIXTURES, 'parallel');
const TOL = 1e-4;

/** The sequence-classification folder transformers would load: backbone tensors, score.weight, no embed_out. */
async function writeRewardFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pargs-neox-rm-'));
  await cp(LM_DIR, dir, { recursive: true });
  const config = JSON.parse(await readFile(join(LM_DIR, 'config.json'), 'utf8'));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['GPTNeoXForSequenceClassification'], num_labels: 1 }));
  const source = await openSafetensorsDir(LM_DIR);
  const tensors = [];
  for (const name of source.names().filter((n) => n !== 'embed_out.weight')) {
    tensors.push({ name, dtype: 'F32' as const, shape: source.info(name).shape, data: await source.readF32(name) });
  }
  await source.close();
  const score = Float32Array.from(ref.rm_score_weight as number[]);
  tensors.push({ name: 'score.weight', dtype: 'F32' as const, shape: [1, score.length], data: score });
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

const items = ref.batch.map((row) => ({ promptIds: row.slice(0, 1), responseIds: row.slice(1) }));

async function expectTransformersRewards(rm: PartialRewardModel): Promise<void> {
  const P = ref.prompt;
  const prefixes = await rm.scorePrefixIds(P.slice(0, 1), P.slice(1));
  const expected = (ref.rm_prefix_rewards as number[]).slice(1);
  prefixes.forEach((r, i) => expect(Math.abs(r - expected[i])).toBeLessThan(TOL));
  const batch = await rm.scoreIdsBatch(items);
  batch.forEach((r, i) => expect(Math.abs(r - (ref.rm_batch_rewards as number[])[i])).toBeLessThan(TOL));
}

describe('GPTNeoXForSequenceClassification reward models', () => {
  let dir: string;
  let lm: CausalLM;
  beforeAll(async () => {
    dir = await writeRewardFolder();
    lm = await loadCausalLM(LM_DIR);
  });
  afterAll(() => lm?.dispose());

  it('rewards of every prefix (one pass) and of a left-padded batch equal transformers\'', async () => {
    const rm = await loadRewardModel(dir);
    try {
      expect(rm).toBeInstanceOf(HFRewardModel);
      await expectTransformersRewards(rm);
    } finally {
      rm.dispose();
    }
  });

  it('runs on the causal LM when given it: the backbone fingerprints agree without embed_out', async () => {
    const rm = await loadHFRewardModel(dir, { backbone: lm });
    try {
      expect(rm.backbone).toBe(lm);
      await expectTransformersRewards(rm);
    } finally {
      rm.dispose();
    }
  });

  it('exports as a GPTNeoXForSequenceClassification folder (gpt_neox. names, score.weight, no LM head) that reloads with the same rewards', async () => {
    const rm = await loadRewardModel(dir);
    const out = join(await mkdtemp(join(tmpdir(), 'pargs-neox-rm-export-')), 'rm');
    try {
      await rm.save(out, { format: 'hf' });
    } finally {
      rm.dispose();
    }
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect([config.architectures, config.num_labels, config.model_type]).toEqual([['GPTNeoXForSequenceClassification'], 1, 'gpt_neox']);
    const written = await openSafetensorsDir(out);
    const names = written.names();
    await written.close();
    expect(names).toContain('score.weight');
    expect(names).toContain('gpt_neox.layers.0.attention.query_key_value.weight');
    expect(names.filter((n) => n === 'embed_out.weight' || n === 'lm_head.weight')).toEqual([]);
    const again = await loadRewardModel(out);
    try {
      await expectTransformersRewards(again);
    } finally {
      again.dispose();
    }
  });
});
