/**
 * Quick start: load a model, train a partial-sequence reward model on a few preference pairs, and
 * decode with PARGS.   npx tsx examples/quickstart.ts [MODEL_DIR]
 * In your own project, import from 'pargs' instead of '../src/index.js'.
 */
import { pathToFileURL } from 'node:url';
import { guidedSample, loadCausalLM, loadPreferences, trainPartialRM } from '../src/index.js';

export async function quickstart(modelDir: string, options: { epochs?: number; maxNewTokens?: number } = {}): Promise<string[]> {
  const lm = await loadCausalLM(modelDir);
  // Preference pairs in TRL's {prompt, chosen, rejected} format; a file path works the same way.
  const pairs = await loadPreferences([
    { prompt: 'The economy', chosen: ' is growing and jobs are coming back.', rejected: ' is failing and families are suffering.' },
    { prompt: 'Our schools', chosen: ' are improving and our students are thriving.', rejected: ' are broken and our students are failing.' },
    { prompt: 'This year', chosen: ' brought hope, progress and new opportunity.', rejected: ' brought fear, crisis and terrible losses.' },
    { prompt: 'The nation', chosen: ' is strong, united and confident.', rejected: ' is weak, divided and afraid.' },
  ]);
  const rm = await trainPartialRM({ backbone: lm, pairs, epochs: options.epochs ?? 20, batchSize: 64, lr: 1e-2, seed: 1 });
  const results = await guidedSample({ lm, rewardModel: rm, prompts: ['The state of our union', 'Next year'], beta: 2, topK: 10, maxNewTokens: options.maxNewTokens ?? 24, seed: 1 });
  rm.dispose();
  lm.dispose();
  return results.map((r) => r.text);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const text of await quickstart(process.argv[2] ?? 'models/sotu-lm')) console.log(text);
}
