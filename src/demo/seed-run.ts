/**
 * One seed of `pargs demo`:
 * 1. preference pairs from training prompts, labelled by the task's gold judge (tasks.ts), split three
 *    ways: pairs for the guiding reward models, held-out pairs for their diagnostics, and the evaluation
 *    RM's own;
 * 2. the partial, full-sequence and evaluation reward models, the CD value head and the vocabulary-head
 *    partial RM, with equal optimizer steps;
 * 3. generations for unseen prompts: plain sampling, Best-of-N, ARGS, ARGS-G, CD, PARGS, PARGS-G, and PARGS
 *    with the vocabulary head (top-k and the exact policy);
 * 4. their scores under the gold judge, VADER and the evaluation RM, diversities, perplexity, KL, and a β sweep.
 */
import { bestOfN, argsSample } from '../parallel/dispatch.js';
import { generate } from '../parallel/dispatch.js';
import { type GuidedGeneration } from '../decode/guided.js';
import { guidedSample } from '../parallel/dispatch.js';
import { splitPairs } from '../data/split.js';
import { yieldAndCheck, yieldEvery } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import { vaderJudge, type Judge } from '../eval/judges.js';
import { klFromTrace, perplexity, responseLogProbs } from '../eval/lm-scores.js';
import { argsDiversity, diversity, meanWithStderr, winRate, type MeanWithError, type WinRate } from '../eval/metrics.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import type { DemoConfig } from './config.js';
import { buildPreferencePairs } from './preferences.js';
import { prefixPairsByDecile, trainDemoRewardModels, type RewardModelReport } from './reward-models.js';
import { TASKS, type DemoTask } from './tasks.js';

export type { RewardModelReport } from './reward-models.js';

export type DemoEvent = { kind: 'stage'; stage: string } | { kind: 'progress'; stage: string; done: number; total: number };

export interface MethodResult {
  method: string;
  /** The task's gold judge (sentiment: AFINN of the whole response; ending: AFINN of its last words). */
  gold: MeanWithError;
  /** VADER compound score of the whole response, an independent second lexicon. */
  vader: MeanWithError;
  /** Reward under the evaluation RM, which no method was guided by. */
  evalRm: MeanWithError;
  /** Fraction of prompts where the evaluation RM scores this method's response ≥ plain sampling's. */
  winTieVsPlainEvalRm: number;
  winVsPlainGold: WinRate;
  /** ARGS's definition: per response Π_{n=2..4} unique / (n-grams + 1), averaged. */
  argsDiversity: number;
  /** Π_{n=2..4} distinct-n over all responses pooled. */
  pooledDiversity: number;
  perplexity: number;
  /** Mean KL(π ‖ π_ref) estimate per response, where the method's policy is traced. */
  kl: number | null;
  tokensPerSecond: number;
  modelCallsPerResponse: number;
  responses: string[];
}

export interface SweepPoint {
  gold: MeanWithError;
  evalRm: MeanWithError;
  argsDiversity: number;
}

export interface SeedResult {
  seed: number;
  preferences: { pairs: number; ties: number; guideTrain: number; guideEval: number; judgeTrain: number; baseScore: number };
  rewardModels: { partial: RewardModelReport; full: RewardModelReport; judge: RewardModelReport; cd: RewardModelReport; vocab: RewardModelReport };
  /** Held-out prefix pairs behind each tenth of the prefix-accuracy table. */
  prefixPairsByDecile: number[];
  methods: MethodResult[];
  betaSweep: { beta: number; pargs: SweepPoint; args: SweepPoint }[];
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

export interface SeedRunOptions {
  lm: CausalLM;
  trainPrompts: readonly string[];
  testPrompts: readonly string[];
  config: DemoConfig;
  /** Which gold judge labels the pairs and scores the generations (default 'sentiment'). */
  task?: DemoTask;
  seed: number;
  signal?: AbortSignal;
  onEvent?: (e: DemoEvent) => void;
}

export async function runDemoSeed(o: SeedRunOptions): Promise<SeedResult> {
  const started = performance.now();
  const { lm, config: c, seed, signal } = o;
  const task = TASKS[o.task ?? 'sentiment'];
  const gold = task.judge();
  const second = vaderJudge();
  const emit = (stage: string): void => o.onEvent?.({ kind: 'stage', stage });

  emit(`sampling preference pairs from the base model, labelled by the gold judge (${task.goldLabel.replace(' (gold)', '')})`);
  const built = await buildPreferencePairs({
    lm, prompts: o.trainPrompts.slice(0, c.trainPrompts), judge: gold, responseTokens: c.responseTokens, topK: c.topK, seed, batchSize: c.batchSize, signal,
    onProgress: (done, total) => o.onEvent?.({ kind: 'progress', stage: 'pairs', done, total }),
  });
  if (built.pairs.length < 10) {
    throw new OptionError(
      `only ${built.pairs.length} preference pairs: the gold judge scored both responses equally for ${built.ties} of ${Math.min(c.trainPrompts, o.trainPrompts.length)} prompts; ` +
        'the model must write English words the AFINN lexicon knows (use the bundled model or a real checkpoint; with --task ending, more training prompts)',
    );
  }
  // The evaluation RM's pairs come off first, so no guiding reward model ever sees them.
  const judgeSplit = splitPairs(built.pairs, { evalFraction: c.judgeFraction, seed });
  const guide = splitPairs(judgeSplit.train, { evalFraction: 0.2, seed });
  const rms = await trainDemoRewardModels({
    lm, guideTrain: guide.train, guideEval: guide.eval, judgeTrain: judgeSplit.eval, epochs: c.rmEpochs, batchSize: c.rmBatchSize, lr: 3e-3, seed, signal, onStage: emit,
  });
  const { partial: partialRm, full: fullRm, judge: judgeRm, cd: cdRm, vocab: vocabRm } = rms;

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
    const guided = (rm: PartialRewardModel, beta: number, greedy: boolean, label: 'pargs' | 'args', exact = false) =>
      timed(batches((batch, offset) => {
        const opts = { ...common, rewardModel: rm, prompts: batch, ...(exact ? {} : { topK: c.topK }), mode: greedy ? ({ kind: 'greedy' } as const) : ({ kind: 'sample', temperature: 1, exact } as const), seed: seed + offset, signal };
        return label === 'args' ? argsSample({ ...opts, weight: beta }) : guidedSample({ ...opts, beta });
      }));
    const runs: [string, () => Promise<Generated>][] = [
      ['plain', () => timed(batches(async (batch, offset) => (await generate({ lm, prompts: batch, maxNewTokens: c.responseTokens, strategy: { kind: 'sample', temperature: 1, topK: c.topK }, seed: seed + offset, signal })).map((g) => ({ ...g, modelCalls: g.generatedIds.length }))))],
      [`best-of-${c.bestOfN}`, () => timed(batches(async (batch, offset) => (await bestOfN({ lm, rewardModel: fullRm, prompts: batch, n: c.bestOfN, maxNewTokens: c.responseTokens, strategy: { kind: 'sample', temperature: 1, topK: c.topK }, seed: seed + offset, signal })).map((r) => ({ ...r.samples[r.best], modelCalls: r.samples.reduce((n, x) => n + x.generatedIds.length + 1, 0) }))))],
      ['ARGS', () => guided(fullRm, c.beta, false, 'args')],
      ['ARGS-G', () => guided(fullRm, c.beta, true, 'args')],
      ['CD', () => guided(cdRm, c.beta, false, 'pargs')],
      ['PARGS', () => guided(partialRm, c.beta, false, 'pargs')],
      ['PARGS-G', () => guided(partialRm, c.beta, true, 'pargs')],
      ['PARGS, vocab head, top-k', () => guided(vocabRm, c.beta, false, 'pargs')],
      ['PARGS, vocab head, exact', () => guided(vocabRm, c.beta, false, 'pargs', true)],
    ];
    const generated = new Map<string, Generated>();
    for (const [name, run] of runs) {
      emit(`generating ${prompts.length} responses with ${name}`);
      generated.set(name, await run());
    }
    emit('scoring: the gold judge, VADER, the evaluation RM, diversity, perplexity under the base model');
    const evalRmScores = (g: Generated) => judgeRm.scoreIdsBatch(g.ids);
    const plainGold = await scoreAll(gold, prompts, generated.get('plain')!.texts, signal);
    const plainEvalRm = await evalRmScores(generated.get('plain')!);
    const methods: MethodResult[] = [];
    for (const [name, g] of generated) {
      const goldScores = name === 'plain' ? plainGold : await scoreAll(gold, prompts, g.texts, signal);
      const rmScores = name === 'plain' ? plainEvalRm : await evalRmScores(g);
      const vsPlain = winRate(rmScores, plainEvalRm);
      methods.push({
        method: name,
        gold: meanWithStderr(goldScores),
        vader: meanWithStderr(await scoreAll(second, prompts, g.texts, signal)),
        evalRm: meanWithStderr(rmScores),
        winTieVsPlainEvalRm: vsPlain.win + vsPlain.tie,
        winVsPlainGold: winRate(goldScores, plainGold),
        argsDiversity: argsDiversity(g.texts),
        pooledDiversity: diversity(g.texts),
        perplexity: perplexity(await responseLogProbs(lm, g.ids, { signal })),
        kl: g.traces ? g.traces.reduce((s, t) => s + klFromTrace(t.trace), 0) / g.traces.length : null,
        tokensPerSecond: g.tokens / g.seconds,
        modelCallsPerResponse: g.modelCalls,
        responses: g.texts,
      });
    }

    const betaSweep: SeedResult['betaSweep'] = [];
    const summarize = async (g: Generated): Promise<SweepPoint> => ({ gold: meanWithStderr(await scoreAll(gold, prompts, g.texts, signal)), evalRm: meanWithStderr(await evalRmScores(g)), argsDiversity: argsDiversity(g.texts) });
    for (const beta of c.betaSweep) {
      emit(`β sweep: β = ${beta}`);
      betaSweep.push({ beta, pargs: await summarize(await guided(partialRm, beta, false, 'pargs')), args: await summarize(await guided(fullRm, beta, false, 'args')) });
    }

    const pargsTraces = generated.get('PARGS')!.traces ?? [];
    const examples = pargsTraces.slice(0, 6).map((g, i) => ({ prompt: prompts[i], tokens: g.trace.map((t) => ({ text: lm.tokenizer.decode([t.tokenId]), reward: t.reward })) }));
    return {
      seed,
      preferences: { pairs: built.pairs.length, ties: built.ties, guideTrain: guide.train.length, guideEval: guide.eval.length, judgeTrain: judgeSplit.eval.length, baseScore: built.meanScore },
      rewardModels: rms.reports,
      prefixPairsByDecile: prefixPairsByDecile(guide.eval),
      methods,
      betaSweep,
      examples,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    partialRm.dispose();
    fullRm.dispose();
    judgeRm.dispose();
    cdRm.dispose();
    vocabRm.dispose();
  }
}
