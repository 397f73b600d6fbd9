/**
 * Partially fused decoding benchmark: PARGS tokens/s with a reward model whose top m blocks were trained
 * (its backbone a BranchedLM on the LM: the lower layers' pass and cache shared, decode/partial-fuse.ts),
 * against the same reward models on the separate-backbone path (`fuse: false`) and against a head-only
 * reward model on the LM (fully fused), as ratios measured side by side in interleaved rounds.
 *
 *   npx tsx bench/partial-fuse.ts [--model DIR] [--quick] [--reps R] [--new-tokens N]
 *   (default: the random Llama of the bundled size unless --model, e.g. models/sotu-lm; 5 rounds, --quick: 1; 48 new tokens)
 *
 * B = 1 and 8, k = 10, prompts of 32 random ids, EOS ignored. The reward models are untrained: seeded
 * random linear heads and top blocks = the LM's plus a small seeded perturbation (speed does not depend
 * on the values). Every partially fused run's tokens are checked equal to its `fuse: false` run's.
 * Prints Markdown tables, then one JSON line. Progress goes to stderr. Runs in this thread (PARGS_WORKERS=1).
 */
import { type GuidedSampleOptions } from '../src/decode/guided.js';
import { guidedSample } from '../src/parallel/dispatch.js';
import { tf } from '../src/engine/tf.js';
import { BranchedLM, topBlockTensors } from '../src/lm/branched-lm.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import { createRng } from '../src/random.js';
import { RewardHead } from '../src/reward/head.js';
import { PartialRewardModel } from '../src/reward/reward-model.js';
import { benchModel, flag, hasFlag, intFlag, loadAverage, log, machine, median, round, table } from './common.js';

process.env.PARGS_WORKERS = '1';

const QUICK = hasFlag('quick');
const REPS = flag('reps') === undefined ? (QUICK ? 1 : 5) : intFlag('reps', 1);
const NEW = intFlag('new-tokens', 48);
const PROMPT = 32;
const K = 10;
const BATCHES = [1, 8];
const BLOCKS = [1, 2];
const SEED = 1;

/** A reward model with top blocks = the LM's plus a small perturbation, as training would leave them. */
function topBlocksRM(lm: CausalLM, m: number): PartialRewardModel {
  const from = lm.config.numLayers - m;
  const rng = createRng(SEED, `bench:top-blocks:${m}`);
  const top = new Map(topBlockTensors(lm.params, from).map(([name, t]): [string, tf.Tensor] => {
    const values = Float32Array.from(t.dataSync() as Float32Array, (x) => x * (1 + 0.01 * (rng() - 0.5)));
    return [name, tf.tensor(values, t.shape)];
  }));
  const head = RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(SEED, 'bench:head'));
  return new PartialRewardModel(BranchedLM.create(lm, from, top), head, 'partial', undefined, { from, base: lm });
}

function prompts(lm: CausalLM, B: number): number[][] {
  const rng = createRng(SEED, 'bench:prompts');
  return Array.from({ length: B }, () => Array.from({ length: PROMPT }, () => Math.floor(rng() * lm.config.vocabSize)));
}

interface Method {
  name: string;
  rm: PartialRewardModel;
  fuse: boolean;
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const model = await benchModel(flag('model'));
  const { lm } = model;
  const headOnly = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(SEED, 'bench:head')), 'partial');
  const rms = new Map(BLOCKS.map((m) => [m, topBlocksRM(lm, m)]));
  const methods: Method[] = [
    { name: 'fusedHead', rm: headOnly, fuse: true },
    ...BLOCKS.flatMap((m) => [
      { name: `partialM${m}`, rm: rms.get(m) as PartialRewardModel, fuse: true },
      { name: `separateM${m}`, rm: rms.get(m) as PartialRewardModel, fuse: false },
    ]),
  ];
  const tensorsBefore = tf.memory().numTensors;
  const run = async (method: Method, B: number, maxNewTokens = NEW): Promise<{ tokensPerSecond: number; ids: number[][] }> => {
    const options: GuidedSampleOptions = { lm, rewardModel: method.rm, promptIds: prompts(lm, B), beta: 2, topK: K, maxNewTokens, stop: { eos: false }, seed: SEED, fuse: method.fuse };
    const start = performance.now();
    const out = await guidedSample(options);
    return { tokensPerSecond: (B * maxNewTokens) / ((performance.now() - start) / 1000), ids: out.map((g) => g.generatedIds) };
  };

  log('warm-up…');
  for (const B of BATCHES) for (const m of methods) await run(m, B, 4);
  const tps = new Map<string, number[]>();
  const ratios = new Map<string, number[]>();
  const push = (map: Map<string, number[]>, key: string, x: number): void => void (map.get(key) ?? map.set(key, []).get(key))?.push(x);
  let sameTokens = true;
  for (let r = 0; r < REPS; r++) {
    for (const B of BATCHES) {
      const results: Record<string, { tokensPerSecond: number; ids: number[][] }> = {};
      for (const m of methods) {
        log(`round ${r + 1}/${REPS}, B=${B}: ${m.name}…`);
        results[m.name] = await run(m, B);
        push(tps, `${m.name}@${B}`, results[m.name].tokensPerSecond);
      }
      for (const m of BLOCKS) {
        const partial = results[`partialM${m}`];
        const separate = results[`separateM${m}`];
        sameTokens &&= JSON.stringify(partial.ids) === JSON.stringify(separate.ids);
        push(ratios, `partialOverSeparateM${m}@${B}`, partial.tokensPerSecond / separate.tokensPerSecond);
        push(ratios, `partialOverFusedHeadM${m}@${B}`, partial.tokensPerSecond / results.fusedHead.tokensPerSecond);
        push(ratios, `separateOverFusedHeadM${m}@${B}`, separate.tokensPerSecond / results.fusedHead.tokensPerSecond);
      }
    }
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  const med = (map: Map<string, number[]>, key: string): number => round(median(map.get(key) as number[]));

  const rows = BATCHES.flatMap((B) => BLOCKS.map((m) => [
    `B = ${B}, m = ${m}`,
    `${med(tps, `fusedHead@${B}`)}`,
    `${med(tps, `partialM${m}@${B}`)}`,
    `${med(tps, `separateM${m}@${B}`)}`,
    `${med(ratios, `partialOverSeparateM${m}@${B}`)}×`,
    `${med(ratios, `partialOverFusedHeadM${m}@${B}`)}×`,
    `${med(ratios, `separateOverFusedHeadM${m}@${B}`)}×`,
  ]));
  const loadAfter = loadAverage();
  process.stdout.write(
    `### Partially fused decoding: ${model.label}\n\n` +
      `PARGS, k = ${K}, ${NEW} new tokens, prompts ${PROMPT} random ids, EOS ignored; tokens/s medians and per-round ratio medians over ${REPS} interleaved round(s); load ${loadBefore} → ${loadAfter}\n\n` +
      `${table(['', 'head-only RM, fused (tok/s)', 'top-blocks RM, partially fused (tok/s)', 'top-blocks RM, fuse: false (tok/s)', 'partial ÷ separate', 'partial ÷ fused head', 'separate ÷ fused head'], rows)}\n\n` +
      `partially fused tokens equal fuse: false: ${sameTokens}; tensors leaked: ${leaked}\n\n`,
  );
  const ratioJson = Object.fromEntries([...ratios.keys()].map((k) => [k, med(ratios, k)]));
  const tpsJson = Object.fromEntries([...tps.keys()].map((k) => [k, med(tps, k)]));
  process.stdout.write(`${JSON.stringify({ benchmark: 'partial-fuse', date: new Date().toISOString(), machine: machine(), model: model.label, loadAverage1m: { before: loadBefore, after: loadAfter }, reps: REPS, k: K, newTokens: NEW, promptLength: PROMPT, sameTokens, leaked, tokensPerSecond: tpsJson, ratios: ratioJson })}\n`);
  headOnly.dispose();
  rms.forEach((rm) => rm.dispose());
  lm.dispose();
  await model.cleanup();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
