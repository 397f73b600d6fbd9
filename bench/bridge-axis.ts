/**
 * The text-bridge axis of bench/decode.ts (`--only bridge`, or with the bundled model): PARGS tokens/s
 * with a reward model on another tokenizer, against the shared (fused) path, side by side per round.
 *
 * The LM is models/sotu-lm (a trained byte-level BPE, so its text re-tokenizes as real text does); the
 * cross-tokenizer RM is the same weights loaded from a copy of the folder whose tokenizer.json keeps
 * only the first half of the merges (ids stay in the vocabulary; words split differently, and the split
 * of the last word moves as tokens are appended). Methods, all k = 10, 64 new tokens, EOS ignored, text
 * prompts from models/sotu-lm/prompts.json: PARGS fused (reward backbone = LM), PARGS on a separate
 * reward backbone (second load, same tokenizer), the bridge forced on that separate backbone with the
 * same tokenizer (`textBridge: true`), and the bridge across tokenizers. Heads are one seeded random
 * linear head. Also reported: the RM tokens the bridge ran against a bridge without a cache.
 */
import { copyFile, mkdtemp, readFile, rm as remove, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GuidedGeneration } from '../src/decode/guided.js';
import { guidedSample } from '../src/parallel/dispatch.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import { loadCausalLM } from '../src/lm/load.js';
import { createRng } from '../src/random.js';
import { RewardHead } from '../src/reward/head.js';
import { PartialRewardModel } from '../src/reward/reward-model.js';
import { log, median, ROOT, round, table } from './common.js';

const K = 10;
const NEW = 64;
const SEED = 1;
export const BRIDGE_METHODS = ['fused', 'separate', 'bridgeSameTokenizer', 'bridgeCross'] as const;
type Method = (typeof BRIDGE_METHODS)[number];

export interface BridgeAxis {
  model: string;
  reps: number;
  batches: {
    B: number;
    /** tokens/s (median over rounds) and median of the per-round ratio to the fused path. */
    methods: Record<Method, { tokensPerSecond: number; vsFused: number }>;
    /** Cross-tokenizer bridge, summed over rows: RM tokens run, and run by a bridge without a cache. */
    rmTokens: number;
    rmTokensWithoutCache: number;
  }[];
}

/** A copy of `dir` whose tokenizer.json keeps the first half of its merges. */
async function halfMergesCopy(dir: string): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'pargs-bench-bridge-'));
  for (const f of ['config.json', 'generation_config.json']) await copyFile(join(dir, f), join(out, f)).catch(() => undefined);
  await writeFile(join(out, 'model.safetensors'), await readFile(join(dir, 'model.safetensors')));
  const tok = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as { model: { merges: unknown[] } };
  tok.model.merges = tok.model.merges.slice(0, Math.floor(tok.model.merges.length / 2));
  await writeFile(join(out, 'tokenizer.json'), JSON.stringify(tok));
  return out;
}

export async function measureBridge(reps: number, batches: readonly number[] = [1, 4]): Promise<BridgeAxis> {
  const dir = join(ROOT, 'models', 'sotu-lm');
  const crossDir = await halfMergesCopy(dir);
  const lm = await loadCausalLM(dir);
  const twin = await loadCausalLM(dir);
  const crossBackbone = await loadCausalLM(crossDir);
  const head = (m: CausalLM): PartialRewardModel => new PartialRewardModel(m, RewardHead.init({ kind: 'linear' }, m.config.hiddenSize, createRng(SEED, 'bench:head')), 'partial');
  const rms = { fused: head(lm), separate: head(twin), cross: head(crossBackbone) };
  const texts = (JSON.parse(await readFile(join(dir, 'prompts.json'), 'utf8')) as { test: string[] }).test;
  const run = async (method: Method, B: number, maxNewTokens = NEW): Promise<{ ms: number; out: GuidedGeneration[] }> => {
    const rewardModel = method === 'fused' ? rms.fused : method === 'bridgeCross' ? rms.cross : rms.separate;
    const start = performance.now();
    const out = await guidedSample({ lm, rewardModel, prompts: texts.slice(0, B), beta: 2, topK: K, maxNewTokens, stop: { eos: false }, seed: SEED, ...(method === 'bridgeSameTokenizer' ? { textBridge: true } : {}) });
    return { ms: performance.now() - start, out };
  };
  try {
    for (const B of batches) for (const m of BRIDGE_METHODS) await run(m, B, 4);
    const ms = new Map(batches.map((B) => [B, Object.fromEntries(BRIDGE_METHODS.map((m) => [m, [] as number[]])) as Record<Method, number[]>]));
    const tokens = new Map(batches.map((B) => [B, { rmTokens: 0, rmTokensWithoutCache: 0 }]));
    for (let r = 0; r < reps; r++) {
      for (const B of batches) {
        for (const m of BRIDGE_METHODS) {
          log(`[bridge] round ${r + 1}/${reps}, B=${B}: ${m}…`);
          const { ms: t, out } = await run(m, B);
          ms.get(B)![m].push(t);
          if (m === 'bridgeCross' && r === 0) {
            for (const g of out) {
              tokens.get(B)!.rmTokens += g.textBridge?.rmTokens ?? 0;
              tokens.get(B)!.rmTokensWithoutCache += g.textBridge?.rmTokensWithoutCache ?? 0;
            }
          }
        }
      }
    }
    return {
      model: 'models/sotu-lm; cross-tokenizer RM: the same weights on its tokenizer with half the merges',
      reps,
      batches: batches.map((B) => {
        const a = ms.get(B)!;
        const methods = Object.fromEntries(BRIDGE_METHODS.map((m) => [m, { tokensPerSecond: round((B * NEW) / (median(a[m]) / 1000), 1), vsFused: round(median(a[m].map((x, i) => a.fused[i] / x)), 3) }])) as Record<Method, { tokensPerSecond: number; vsFused: number }>;
        return { B, methods, ...tokens.get(B)! };
      }),
    };
  } finally {
    [rms.fused, rms.separate, rms.cross, lm, twin, crossBackbone].forEach((x) => x.dispose());
    await remove(crossDir, { recursive: true, force: true });
  }
}

export function bridgeTable(axis: BridgeAxis): string {
  const cols = axis.batches.map((b) => `B = ${b.B}`);
  const tps = (m: Method) => (b: BridgeAxis['batches'][number]): string => `${b.methods[m].tokensPerSecond.toFixed(1)} (${b.methods[m].vsFused.toFixed(2)}×)`;
  return table([`tokens/s (÷ PARGS fused), k = ${K}, ${NEW} new tokens, ${axis.reps} rounds`, ...cols], [
    ['PARGS, fused (shared path: reward backbone = LM)', ...axis.batches.map(tps('fused'))],
    ['PARGS, separate reward backbone (same tokenizer)', ...axis.batches.map(tps('separate'))],
    ['PARGS, text bridge forced, same tokenizer', ...axis.batches.map(tps('bridgeSameTokenizer'))],
    ['**PARGS, text bridge, RM on another tokenizer**', ...axis.batches.map(tps('bridgeCross'))],
    ['cross-tokenizer RM tokens run / without the cache', ...axis.batches.map((b) => `${b.rmTokens} / ${b.rmTokensWithoutCache} (${((100 * b.rmTokens) / b.rmTokensWithoutCache).toFixed(0)} %)`)],
  ]);
}
