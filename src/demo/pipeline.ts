/**
 * `pargs demo`: the whole PARGS path on one model, measured.
 * 1. preference pairs from held-out prompts, labelled by the gold judge (AFINN);
 * 2. a partial and a full-sequence reward model trained on the same pairs;
 * 3. prefix accuracy by position for both (the paper's core claim);
 * 4. generations for unseen prompts: plain sampling, Best-of-N, ARGS, ARGS-G, PARGS, PARGS-G;
 * 5. a results table under both judges and a β sweep.
 */
import { bestOfN, argsSample } from '../decode/baselines.js';
import { generate } from '../decode/generate.js';
import { guidedSample, type GuidedGeneration } from '../decode/guided.js';
import { splitPairs } from '../data/split.js';
import { yieldAndCheck, yieldEvery } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import { afinnJudge, vaderJudge, type Judge } from '../eval/judges.js';
import { klFromTrace, perplexity, responseLogProbs } from '../eval/lm-scores.js';
import { diversity, meanWithStderr, winRate, type MeanWithError, type WinRate } from '../eval/metrics.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { RewardDiagnostics } from '../reward/diagnostics.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import { trainPartialRM } from '../reward/trainer.js';
import type { DemoConfig } from './config.js';
import { buildPreferencePairs } from './preferences.js';
import { causalLM, positiveInt, seed as seedSpec } from '../option-specs.js';
import { arrayOf, checkOptions, func, number, object, required, signal as signalSpec, string, strings, type Schema } from '../options.js';

export const DEMO_SCHEMA: Schema = {
  lm: required(causalLM()),
  model: required(string()),
  trainPrompts: required(strings()),
  testPrompts: required(strings()),
  config: required(
    object({
      trainPrompts: required(positiveInt()),
      testPrompts: required(positiveInt()),
      responseTokens: required(positiveInt()),
      topK: required(positiveInt()),
      rmEpochs: required(positiveInt()),
      beta: required(number()),
      bestOfN: required(positiveInt()),
      betaSweep: required(arrayOf(number(), 'an array of finite numbers')),
      batchSize: required(positiveInt()),
    }, 'a DemoConfig (see DEMO_CONFIGS)'),
  ),
  seed: required(seedSpec()),
  signal: signalSpec(),
  onEvent: func(),
};

export type DemoEvent = { kind: 'stage'; stage: string } | { kind: 'progress'; stage: string; done: number; total: number };

export interface MethodResult {
  method: string;
  afinn: MeanWithError;
  vader: MeanWithError;
  winVsPlain: WinRate;
  diversity: number;
  perplexity: number;
  /** Mean KL(π ‖ π_ref) estimate per response, where the method's policy is traced. */
  kl: number | null;
  tokensPerSecond: number;
  modelCallsPerResponse: number;
  responses: string[];
}

export interface DemoResult {
  config: DemoConfig;
  model: string;
  backend: string;
  preferences: { pairs: number; ties: number; train: number; eval: number; baseScore: number };
  partial: RewardDiagnostics;
  full: RewardDiagnostics;
  methods: MethodResult[];
  betaSweep: { beta: number; pargs: { afinn: MeanWithError; diversity: number }; args: { afinn: MeanWithError; diversity: number } }[];
  examples: { prompt: string; tokens: { text: string; reward: number }[] }[];
  seconds: number;
}

interface Generated {
  texts: string[];
  ids: { promptIds: number[]; responseIds: number[] }[];
  seconds: number;
  tokens: number;
  modelCalls: number;
  traces?: GuidedGeneration[];
}

async function scoreAll(judge: Judge, prompts: readonly string[], responses: readonly string[], signal: AbortSignal | undefined): Promise<number[]> {
  const out: number[] = [];
  const turn = yieldEvery(20, signal, 'pargs demo');
  for (let i = 0; i < prompts.length; i++) {
    await turn();
    out.push(await judge(prompts[i], responses[i]));
  }
  return out;
}

export async function runDemo(o: { lm: CausalLM; model: string; trainPrompts: readonly string[]; testPrompts: readonly string[]; config: DemoConfig; seed: number; signal?: AbortSignal; onEvent?: (e: DemoEvent) => void }): Promise<DemoResult> {
  checkOptions('runDemo', o, DEMO_SCHEMA);
  const started = performance.now();
  const { lm, config: c, seed, signal } = o;
  const gold = afinnJudge();
  const second = vaderJudge();
  const emit = (stage: string): void => o.onEvent?.({ kind: 'stage', stage });

  emit('sampling preference pairs from the base model, labelled by the AFINN judge');
  const built = await buildPreferencePairs({
    lm, prompts: o.trainPrompts.slice(0, c.trainPrompts), judge: gold, responseTokens: c.responseTokens, topK: c.topK, seed, batchSize: c.batchSize, signal,
    onProgress: (done, total) => o.onEvent?.({ kind: 'progress', stage: 'pairs', done, total }),
  });
  if (built.pairs.length < 10) {
    throw new OptionError(
      `only ${built.pairs.length} preference pairs: the gold judge scored both responses equally for ${built.ties} of ${Math.min(c.trainPrompts, o.trainPrompts.length)} prompts; ` +
        'the model must write English words the AFINN lexicon knows (use the bundled model or a real checkpoint)',
    );
  }
  const split = splitPairs(built.pairs, { evalFraction: 0.2, seed });

  const train = async (mode: 'partial' | 'full'): Promise<PartialRewardModel> => {
    emit(`training the ${mode === 'partial' ? 'partial-sequence' : 'full-sequence'} reward model`);
    return trainPartialRM({ backbone: lm, pairs: split.train, evalPairs: split.eval, mode, epochs: c.rmEpochs, batchSize: 128, lr: 3e-3, seed, signal });
  };
  const partialRm = await train('partial');
  let fullRm: PartialRewardModel;
  try {
    fullRm = await train('full');
  } catch (err) {
    partialRm.dispose(); // an abort (or failure) in the second training must not leak the first head
    throw err;
  }
  const lastEval = (rm: PartialRewardModel) => (rm.training.history as { evals: { diagnostics: RewardDiagnostics }[] }).evals.at(-1)!.diagnostics;

  try {
    const prompts = o.testPrompts.slice(0, c.testPrompts);
    const batches = <T>(fn: (batch: string[], offset: number) => Promise<T[]>) => async (): Promise<T[]> => {
      const out: T[] = [];
      for (let s = 0; s < prompts.length; s += c.batchSize) {
        await yieldAndCheck(signal, 'pargs demo');
        out.push(...(await fn(prompts.slice(s, s + c.batchSize), s)));
      }
      return out;
    };
    const timed = async (run: () => Promise<{ text: string; promptIds: number[]; generatedIds: number[]; modelCalls: number; trace?: GuidedGeneration['trace'] }[]>): Promise<Generated> => {
      const t0 = performance.now();
      const results = await run();
      return {
        texts: results.map((r) => r.text),
        ids: results.map((r) => ({ promptIds: r.promptIds, responseIds: r.generatedIds })),
        seconds: (performance.now() - t0) / 1000,
        tokens: results.reduce((s, r) => s + r.generatedIds.length, 0),
        modelCalls: results.reduce((s, r) => s + r.modelCalls, 0) / results.length,
        traces: results[0]?.trace ? (results as GuidedGeneration[]) : undefined,
      };
    };
    const common = { lm, maxNewTokens: c.responseTokens, stop: { eos: true } };
    const guided = (rm: PartialRewardModel, beta: number, greedy: boolean, label: 'pargs' | 'args') =>
      timed(batches((batch, offset) => {
        const opts = { ...common, rewardModel: rm, prompts: batch, topK: c.topK, mode: greedy ? ({ kind: 'greedy' } as const) : ({ kind: 'sample', temperature: 1 } as const), seed: seed + offset, signal };
        return label === 'args' ? argsSample({ ...opts, weight: beta }) : guidedSample({ ...opts, beta });
      }));
    const runs: [string, () => Promise<Generated>][] = [
      ['plain', () => timed(batches(async (batch, offset) => (await generate({ lm, prompts: batch, maxNewTokens: c.responseTokens, strategy: { kind: 'sample', temperature: 1, topK: c.topK }, seed: seed + offset, signal })).map((g) => ({ ...g, modelCalls: g.generatedIds.length }))))],
      [`best-of-${c.bestOfN}`, () => timed(batches(async (batch, offset) => (await bestOfN({ lm, rewardModel: fullRm, prompts: batch, n: c.bestOfN, maxNewTokens: c.responseTokens, strategy: { kind: 'sample', temperature: 1, topK: c.topK }, seed: seed + offset, signal })).map((r) => ({ ...r.samples[r.best], modelCalls: r.samples.reduce((n, x) => n + x.generatedIds.length + 1, 0) }))))],
      ['ARGS', () => guided(fullRm, c.beta, false, 'args')],
      ['ARGS-G', () => guided(fullRm, c.beta, true, 'args')],
      ['PARGS', () => guided(partialRm, c.beta, false, 'pargs')],
      ['PARGS-G', () => guided(partialRm, c.beta, true, 'pargs')],
    ];
    const generated = new Map<string, Generated>();
    for (const [name, run] of runs) {
      emit(`generating ${prompts.length} responses with ${name}`);
      generated.set(name, await run());
    }
    emit('scoring: judges, diversity, perplexity under the base model');
    const plainGold = await scoreAll(gold, prompts, generated.get('plain')!.texts, signal);
    const methods: MethodResult[] = [];
    for (const [name, g] of generated) {
      const goldScores = name === 'plain' ? plainGold : await scoreAll(gold, prompts, g.texts, signal);
      methods.push({
        method: name,
        afinn: meanWithStderr(goldScores),
        vader: meanWithStderr(await scoreAll(second, prompts, g.texts, signal)),
        winVsPlain: winRate(goldScores, plainGold),
        diversity: diversity(g.texts),
        perplexity: perplexity(await responseLogProbs(lm, g.ids, { signal })),
        kl: g.traces ? g.traces.reduce((s, t) => s + klFromTrace(t.trace), 0) / g.traces.length : null,
        tokensPerSecond: g.tokens / g.seconds,
        modelCallsPerResponse: g.modelCalls,
        responses: g.texts,
      });
    }

    const betaSweep: DemoResult['betaSweep'] = [];
    for (const beta of c.betaSweep) {
      emit(`β sweep: β = ${beta}`);
      const summarize = async (g: Generated) => ({ afinn: meanWithStderr(await scoreAll(gold, prompts, g.texts, signal)), diversity: diversity(g.texts) });
      betaSweep.push({ beta, pargs: await summarize(await guided(partialRm, beta, false, 'pargs')), args: await summarize(await guided(fullRm, beta, false, 'args')) });
    }

    const pargsTraces = generated.get('PARGS')!.traces ?? [];
    const examples = pargsTraces.slice(0, 6).map((g, i) => ({ prompt: prompts[i], tokens: g.trace.map((t) => ({ text: lm.tokenizer.decode([t.tokenId]), reward: t.reward })) }));
    return {
      config: c,
      model: o.model,
      backend: lm.backend.description,
      preferences: { pairs: built.pairs.length, ties: built.ties, train: split.train.length, eval: split.eval.length, baseScore: built.meanScore },
      partial: lastEval(partialRm),
      full: lastEval(fullRm),
      methods,
      betaSweep,
      examples,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    partialRm.dispose();
    fullRm.dispose();
  }
}
