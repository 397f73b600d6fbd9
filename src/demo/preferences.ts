/**
 * The demo's preference data, made on the spot: for every prompt, two responses sampled from the base
 * model, labelled by a gold judge. Labels are deterministic — the response the judge scores higher is
 * chosen; pairs the judge scores equal are dropped and counted — so the data is a pure function of the
 * seed.
 */
import { generate } from '../parallel/dispatch.js';
import { yieldAndCheck } from '../engine/yield.js';
import type { Judge } from '../eval/judges.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { TokenPair } from '../reward/prefixes.js';

export interface PreferenceBuildOptions {
  lm: CausalLM;
  prompts: readonly string[];
  judge: Judge;
  responseTokens: number;
  /** Sampling of the two responses: temperature 1 over the top-k tokens. */
  topK: number;
  seed: number;
  /** Prompts per generation batch. */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface BuiltPreferences {
  pairs: TokenPair[];
  /** Prompts whose two responses the judge scored equally (dropped). */
  ties: number;
  /** Mean gold-judge score of all sampled responses (the base model's level). */
  meanScore: number;
}

export async function buildPreferencePairs(o: PreferenceBuildOptions): Promise<BuiltPreferences> {
  const batchSize = o.batchSize ?? 32;
  const pairs: TokenPair[] = [];
  let ties = 0;
  let scoreSum = 0;
  for (let start = 0; start < o.prompts.length; start += batchSize) {
    await yieldAndCheck(o.signal, 'building preference pairs');
    const prompts = o.prompts.slice(start, start + batchSize);
    // Each prompt twice in one batch; every batch row has its own random stream, so the two differ.
    const rows = prompts.flatMap((p) => [p, p]);
    const samples = await generate({ lm: o.lm, prompts: rows, maxNewTokens: o.responseTokens, strategy: { kind: 'sample', temperature: 1, topK: o.topK }, seed: o.seed + start, signal: o.signal });
    for (let i = 0; i < prompts.length; i++) {
      const [a, b] = [samples[2 * i], samples[2 * i + 1]];
      const [sa, sb] = [await o.judge(prompts[i], a.text), await o.judge(prompts[i], b.text)];
      scoreSum += sa + sb;
      if (sa === sb) {
        ties++;
        continue;
      }
      const [chosen, rejected] = sa > sb ? [a, b] : [b, a];
      pairs.push({ promptIds: a.promptIds, chosenIds: chosen.generatedIds, rejectedIds: rejected.generatedIds });
    }
    o.onProgress?.(Math.min(start + batchSize, o.prompts.length), o.prompts.length);
  }
  return { pairs, ties, meanScore: scoreSum / (2 * o.prompts.length) };
}
