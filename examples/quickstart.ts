/**
 * Quick start: the bundled model and the bundled preference file, a partial-sequence reward model trained
 * on 80 % of the pairs and checked on the other 20 %, then decoding with PARGS.
 *   npx tsx examples/quickstart.ts [MODEL_DIR] [PAIRS_FILE]
 */
import { pathToFileURL } from 'node:url';
import { bundledDataPath, bundledModelPath, guidedSample, loadCausalLM, loadPreferences, progressReporter, splitPairs, trainPartialRM } from 'pargs';

export interface QuickstartResult {
  texts: string[];
  steps: number;
  /** Held-out accuracy of the reward model over all prefixes. */
  prefixAccuracy: number;
}

export async function quickstart(modelDir: string, dataFile: string, options: { epochs?: number; maxNewTokens?: number; quiet?: boolean } = {}): Promise<QuickstartResult> {
  const lm = await loadCausalLM(modelDir);
  const data = await loadPreferences(dataFile);
  const { train, eval: held } = splitPairs(data.pairs, { evalFraction: 0.2, seed: 1 });
  const rm = await trainPartialRM({
    backbone: lm, pairs: train, evalPairs: held, epochs: options.epochs ?? 4, batchSize: 128, lr: 3e-3, seed: 1,
    onProgress: options.quiet ? undefined : progressReporter(),
  });
  const history = rm.training.history;
  const results = await guidedSample({ lm, rewardModel: rm, prompts: ['The state of our union', 'Next year'], beta: 2, topK: 10, maxNewTokens: options.maxNewTokens ?? 24, seed: 1 });
  rm.dispose();
  lm.dispose();
  return { texts: results.map((r) => r.text), steps: history.steps.length, prefixAccuracy: history.evals.at(-1)?.diagnostics.prefixAccuracy ?? NaN };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await quickstart(process.argv[2] ?? bundledModelPath(), process.argv[3] ?? bundledDataPath());
  console.log(`${result.steps} steps, held-out prefix accuracy ${result.prefixAccuracy.toFixed(3)}`);
  for (const text of result.texts) console.log(text);
}
