/**
 * `pargs demo`: the whole PARGS path on one model, measured over several seeds. Each seed runs the
 * full pipeline (seed-run.ts) — its own preference pairs, reward models and generations — and the table
 * reports the mean over seeds ± the standard error across seeds (aggregate.ts).
 */
import { OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { summarizeSeeds, type DemoSummary } from './aggregate.js';
import type { DemoConfig } from './config.js';
import { runDemoSeed, type DemoEvent, type SeedResult } from './seed-run.js';
import { DEMO_TASKS, type DemoTask } from './tasks.js';
import { positiveInt, seed as seedSpec } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { arrayOf, checkOptions, func, number, object, oneOf, required, signal as signalSpec, string, strings, type Schema } from '../options.js';

export const DEMO_SCHEMA: Schema = {
  lm: required(causalLM()),
  model: required(string()),
  trainPrompts: required(strings()),
  testPrompts: required(strings()),
  config: required(
    object({
      name: required(oneOf('default', 'quick')),
      trainPrompts: required(positiveInt()),
      testPrompts: required(positiveInt()),
      responseTokens: required(positiveInt()),
      topK: required(positiveInt()),
      rmEpochs: required(positiveInt()),
      rmBatchSize: required(positiveInt()),
      judgeFraction: required(number({ above: 0, max: 0.9 })),
      seeds: required(positiveInt()),
      beta: required(number()),
      bestOfN: required(positiveInt()),
      betaSweep: required(arrayOf(number(), 'an array of finite numbers')),
      batchSize: required(positiveInt()),
    }, 'a DemoConfig (see DEMO_CONFIGS)'),
  ),
  task: oneOf(...DEMO_TASKS),
  seed: required(seedSpec()),
  seeds: positiveInt(),
  signal: signalSpec(),
  onEvent: func(),
};

export type { DemoEvent, MethodResult, SeedResult } from './seed-run.js';

export interface DemoResult {
  config: DemoConfig;
  /** The gold judge's task (tasks.ts). */
  task: DemoTask;
  model: string;
  backend: string;
  summary: DemoSummary;
  perSeed: SeedResult[];
  /** PARGS generations of the first seed, every token with its partial reward. */
  examples: SeedResult['examples'];
  seconds: number;
}

export interface DemoOptions {
  lm: CausalLM;
  model: string;
  trainPrompts: readonly string[];
  testPrompts: readonly string[];
  config: DemoConfig;
  /** 'sentiment' (default): AFINN of the whole response; 'ending': AFINN of its last words only. */
  task?: DemoTask;
  /** The first seed; seed i of N is seed + i. */
  seed: number;
  /** Seeds to run (default: config.seeds). */
  seeds?: number;
  signal?: AbortSignal;
  onEvent?: (e: DemoEvent) => void;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  checkOptions('runDemo', o, DEMO_SCHEMA);
  const seeds = o.seeds ?? o.config.seeds;
  if (!Number.isInteger(seeds) || seeds < 1) throw new OptionError(`runDemo: seeds must be a positive integer, got ${seeds}`);
  const started = performance.now();
  const perSeed: SeedResult[] = [];
  for (let i = 0; i < seeds; i++) {
    const seed = o.seed + i;
    const tag = seeds > 1 ? `seed ${seed} (${i + 1}/${seeds}): ` : '';
    perSeed.push(
      await runDemoSeed({
        lm: o.lm, trainPrompts: o.trainPrompts, testPrompts: o.testPrompts, config: o.config, task: o.task, seed, signal: o.signal,
        onEvent: (e) => o.onEvent?.(e.kind === 'stage' ? { ...e, stage: tag + e.stage } : e),
      }),
    );
  }
  return {
    config: o.config,
    task: o.task ?? 'sentiment',
    model: o.model,
    backend: o.lm.backend.description,
    summary: summarizeSeeds(perSeed),
    perSeed,
    examples: perSeed[0].examples,
    seconds: (performance.now() - started) / 1000,
  };
}
