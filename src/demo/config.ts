/** The demo's two configurations: the default run (a few minutes on 2 cores) and `--quick` (CI). */
export interface DemoConfig {
  trainPrompts: number;
  testPrompts: number;
  responseTokens: number;
  /** Candidates per step for every sampling method, and the plain baseline's top-k. */
  topK: number;
  rmEpochs: number;
  /** β of PARGS and w of ARGS in the main table. */
  beta: number;
  /** Samples per prompt for Best-of-N. */
  bestOfN: number;
  betaSweep: number[];
  /** Prompts decoded per batch. */
  batchSize: number;
}

export const DEMO_CONFIGS: Record<'default' | 'quick', DemoConfig> = {
  default: { trainPrompts: 400, testPrompts: 96, responseTokens: 24, topK: 10, rmEpochs: 4, beta: 2, bestOfN: 4, betaSweep: [0, 1, 2, 4, 8], batchSize: 32 },
  quick: { trainPrompts: 48, testPrompts: 12, responseTokens: 10, topK: 10, rmEpochs: 2, beta: 2, bestOfN: 2, betaSweep: [0, 2], batchSize: 12 },
};
