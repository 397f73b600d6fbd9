/**
 * Several seeds of the demo into one table: every number becomes its mean over seeds with the standard
 * error of that mean across seeds (how much the whole pipeline — pairs, reward models, decoding — moves
 * with the seed); a per-prompt mean also carries its within-seed standard error (how much it moves with
 * the prompts), averaged over seeds. Pure functions of the per-seed results.
 */
import type { MeanWithError } from '../eval/metrics.js';
import type { RewardDiagnostics } from '../reward/diagnostics.js';
import type { MethodResult, RewardModelReport, SeedResult, SweepPoint } from './seed-run.js';

export interface AcrossSeeds {
  mean: number;
  /** Sample standard deviation over seeds / √seeds; NaN with fewer than two seeds (unknown, not zero). */
  stderr: number;
  /** Seeds that had a value (NaN values, e.g. an empty decile, are left out). */
  seeds: number;
  /** For per-prompt means: the mean over seeds of each seed's standard error over prompts. */
  withinSeedStderr?: number;
}

export function acrossSeeds(values: readonly number[]): AcrossSeeds {
  const v = values.filter((x) => !Number.isNaN(x));
  const n = v.length;
  if (n === 0) return { mean: Number.NaN, stderr: Number.NaN, seeds: 0 };
  const mean = v.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, stderr: Number.NaN, seeds: n };
  const variance = v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(variance / n), seeds: n };
}

/** Per-seed means over prompts → mean across seeds ± s.e. across seeds, and the mean within-seed s.e. */
export function acrossSeedsOfMeans(perSeed: readonly MeanWithError[]): AcrossSeeds {
  const within = perSeed.map((m) => m.stderr).filter((x) => !Number.isNaN(x));
  return { ...acrossSeeds(perSeed.map((m) => m.mean)), withinSeedStderr: within.length ? within.reduce((s, x) => s + x, 0) / within.length : Number.NaN };
}

export interface RewardModelSummary {
  /** Optimizer steps of each seed's training (equal across the reward models of a seed). */
  steps: number[];
  epochs: number[];
  batchSize: number[];
  trainPairs: AcrossSeeds;
  fullAccuracy: AcrossSeeds;
  prefixAccuracy: AcrossSeeds;
  prefixAccuracyByDecile: AcrossSeeds[];
}

export interface MethodSummary {
  method: string;
  gold: AcrossSeeds;
  vader: AcrossSeeds;
  evalRm: AcrossSeeds;
  winTieVsPlainEvalRm: AcrossSeeds;
  winVsPlainGold: { win: AcrossSeeds; tie: AcrossSeeds; lose: AcrossSeeds };
  argsDiversity: AcrossSeeds;
  pooledDiversity: AcrossSeeds;
  perplexity: AcrossSeeds;
  kl: AcrossSeeds | null;
  tokensPerSecond: AcrossSeeds;
  modelCallsPerResponse: AcrossSeeds;
}

export interface SweepSummary {
  beta: number;
  pargs: { gold: AcrossSeeds; evalRm: AcrossSeeds; argsDiversity: AcrossSeeds };
  args: { gold: AcrossSeeds; evalRm: AcrossSeeds; argsDiversity: AcrossSeeds };
}

export interface DemoSummary {
  seeds: number[];
  rewardModels: { partial: RewardModelSummary; full: RewardModelSummary; judge: RewardModelSummary; cd: RewardModelSummary; vocab: RewardModelSummary };
  /** Held-out prefix pairs per tenth of the response, summed over seeds (the n behind each accuracy). */
  prefixPairsByDecile: number[];
  preferences: { pairs: AcrossSeeds; ties: AcrossSeeds; guideTrain: AcrossSeeds; guideEval: AcrossSeeds; judgeTrain: AcrossSeeds; baseScore: AcrossSeeds };
  methods: MethodSummary[];
  betaSweep: SweepSummary[];
}

function summarizeRm(reports: readonly RewardModelReport[]): RewardModelSummary {
  const d = (f: (x: RewardDiagnostics) => number) => acrossSeeds(reports.map((r) => f(r.diagnostics)));
  return {
    steps: reports.map((r) => r.steps),
    epochs: reports.map((r) => r.epochs),
    batchSize: reports.map((r) => r.batchSize),
    trainPairs: acrossSeeds(reports.map((r) => r.trainPairs)),
    fullAccuracy: d((x) => x.fullAccuracy),
    prefixAccuracy: d((x) => x.prefixAccuracy),
    prefixAccuracyByDecile: reports[0].diagnostics.prefixAccuracyByDecile.map((_, i) => d((x) => x.prefixAccuracyByDecile[i])),
  };
}

function summarizeMethod(runs: readonly MethodResult[]): MethodSummary {
  const num = (f: (m: MethodResult) => number) => acrossSeeds(runs.map(f));
  const kls = runs.map((m) => m.kl);
  return {
    method: runs[0].method,
    gold: acrossSeedsOfMeans(runs.map((m) => m.gold)),
    vader: acrossSeedsOfMeans(runs.map((m) => m.vader)),
    evalRm: acrossSeedsOfMeans(runs.map((m) => m.evalRm)),
    winTieVsPlainEvalRm: num((m) => m.winTieVsPlainEvalRm),
    winVsPlainGold: { win: num((m) => m.winVsPlainGold.win), tie: num((m) => m.winVsPlainGold.tie), lose: num((m) => m.winVsPlainGold.lose) },
    argsDiversity: num((m) => m.argsDiversity),
    pooledDiversity: num((m) => m.pooledDiversity),
    perplexity: num((m) => m.perplexity),
    kl: kls.every((k) => k === null) ? null : acrossSeeds(kls.map((k) => k ?? Number.NaN)),
    tokensPerSecond: num((m) => m.tokensPerSecond),
    modelCallsPerResponse: num((m) => m.modelCallsPerResponse),
  };
}

const sweepSide = (points: readonly SweepPoint[]) => ({
  gold: acrossSeedsOfMeans(points.map((p) => p.gold)),
  evalRm: acrossSeedsOfMeans(points.map((p) => p.evalRm)),
  argsDiversity: acrossSeeds(points.map((p) => p.argsDiversity)),
});

/** All seeds must have run the same configuration (same methods and β values, in the same order). */
export function summarizeSeeds(perSeed: readonly SeedResult[]): DemoSummary {
  const first = perSeed[0];
  return {
    seeds: perSeed.map((s) => s.seed),
    rewardModels: {
      partial: summarizeRm(perSeed.map((s) => s.rewardModels.partial)),
      full: summarizeRm(perSeed.map((s) => s.rewardModels.full)),
      judge: summarizeRm(perSeed.map((s) => s.rewardModels.judge)),
      cd: summarizeRm(perSeed.map((s) => s.rewardModels.cd)),
      vocab: summarizeRm(perSeed.map((s) => s.rewardModels.vocab)),
    },
    prefixPairsByDecile: first.prefixPairsByDecile.map((_, i) => perSeed.reduce((n, s) => n + s.prefixPairsByDecile[i], 0)),
    preferences: {
      pairs: acrossSeeds(perSeed.map((s) => s.preferences.pairs)),
      ties: acrossSeeds(perSeed.map((s) => s.preferences.ties)),
      guideTrain: acrossSeeds(perSeed.map((s) => s.preferences.guideTrain)),
      guideEval: acrossSeeds(perSeed.map((s) => s.preferences.guideEval)),
      judgeTrain: acrossSeeds(perSeed.map((s) => s.preferences.judgeTrain)),
      baseScore: acrossSeeds(perSeed.map((s) => s.preferences.baseScore)),
    },
    methods: first.methods.map((m, i) => summarizeMethod(perSeed.map((s) => s.methods[i]))),
    betaSweep: first.betaSweep.map((b, i) => ({
      beta: b.beta,
      pargs: sweepSide(perSeed.map((s) => s.betaSweep[i].pargs)),
      args: sweepSide(perSeed.map((s) => s.betaSweep[i].args)),
    })),
  };
}
