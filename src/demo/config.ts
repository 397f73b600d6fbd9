/** The demo's two configurations: the default run (minutes on 2 cores) and `--quick` (a smoke test). */
export interface DemoConfig {
  /** 'quick' results are a smoke test; the report says so in a banner. */
  name: 'default' | 'quick';
  trainPrompts: number;
  testPrompts: number;
  responseTokens: number;
  /** Candidates per step for every sampling method, and the plain baseline's top-k. */
  topK: number;
  /** Epochs and batch size of the partial RM; they set the optimizer steps of every reward model. */
  rmEpochs: number;
  rmBatchSize: number;
  /** Fraction of the preference pairs held back to train the evaluation RM (guides no method). */
  judgeFraction: number;
  /** Seeds run by default (`--seeds`). */
  seeds: number;
  /** β of PARGS and w of ARGS in the main table. */
  beta: number;
  /** Samples per prompt for Best-of-N. */
  bestOfN: number;
  betaSweep: number[];
  /** Prompts decoded per batch. */
  batchSize: number;
}

export const DEMO_CONFIGS: Record<'default' | 'quick', DemoConfig> = {
  default: { name: 'default', trainPrompts: 400, testPrompts: 96, responseTokens: 24, topK: 10, rmEpochs: 4, rmBatchSize: 128, judgeFraction: 0.3, seeds: 3, beta: 2, bestOfN: 4, betaSweep: [0, 1, 2, 4, 8], batchSize: 32 },
  quick: { name: 'quick', trainPrompts: 48, testPrompts: 12, responseTokens: 10, topK: 10, rmEpochs: 2, rmBatchSize: 32, judgeFraction: 0.3, seeds: 1, beta: 2, bestOfN: 2, betaSweep: [0, 2], batchSize: 12 },
};
