/**
 * The child process of bench/guided-revisions.ts: decodes with the library of the checkout given as its
 * first argument (imported by path, and nothing else of pargs, so one copy of the library is loaded) and
 * prints its timings and generated ids as one JSON line.
 *
 *   npx tsx bench/guided-revisions-child.ts ROOT MODEL_DIR
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const METHODS = ['fused', 'separate'] as const;
const BATCHES = [1, 4];

export interface ChildResult {
  /** ms per 64-token run, by `method/B=n`. */
  ms: Record<string, number[]>;
  /** The generated ids of the last run, by `method/B=n`. */
  ids: Record<string, string>;
}

async function child(root: string, modelDir: string): Promise<void> {
  const lib = (path: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(root, path)).href);
  const { guidedSample } = (await lib('src/decode/guided.ts')) as { guidedSample: (o: object) => Promise<{ generatedIds: number[] }[]> };
  const { loadCausalLM } = (await lib('src/lm/load.ts')) as { loadCausalLM: (dir: string) => Promise<{ config: { hiddenSize: number } }> };
  const { createRng } = (await lib('src/random.ts')) as { createRng: (seed: number, stream: string) => () => number };
  const { RewardHead } = (await lib('src/reward/head.ts')) as { RewardHead: { init: (spec: object, d: number, rng: () => number) => unknown } };
  const { PartialRewardModel } = (await lib('src/reward/reward-model.ts')) as { PartialRewardModel: new (backbone: unknown, head: unknown, mode: string) => unknown };
  const lm = await loadCausalLM(modelDir);
  const twin = await loadCausalLM(modelDir);
  const rmOn = (m: { config: { hiddenSize: number } }): unknown => new PartialRewardModel(m, RewardHead.init({ kind: 'linear' }, m.config.hiddenSize, createRng(1, 'bench:head')), 'partial');
  const rms = { fused: rmOn(lm), separate: rmOn(twin) };
  const texts = (JSON.parse(await readFile(join(modelDir, 'prompts.json'), 'utf8')) as { test: string[] }).test;
  const run = async (m: (typeof METHODS)[number], B: number, maxNewTokens: number): Promise<{ ms: number; ids: string }> => {
    const start = performance.now();
    const out = await guidedSample({ lm, rewardModel: rms[m], prompts: texts.slice(0, B), beta: 2, topK: 10, maxNewTokens, stop: { eos: false }, seed: 1 });
    return { ms: performance.now() - start, ids: out.map((g) => g.generatedIds.join(',')).join('|') };
  };
  for (const B of BATCHES) for (const m of METHODS) await run(m, B, 4);
  const result: ChildResult = { ms: {}, ids: {} };
  for (let rep = 0; rep < 3; rep++) {
    for (const B of BATCHES) {
      for (const m of METHODS) {
        const { ms, ids } = await run(m, B, 64);
        (result.ms[`${m}/B=${B}`] ??= []).push(ms);
        result.ids[`${m}/B=${B}`] = ids;
      }
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}


if (process.argv[1]?.endsWith('guided-revisions-child.ts')) await child(process.argv[2], process.argv[3]);
